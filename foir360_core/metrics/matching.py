"""One-to-one matching of objects by mask IoU (beyond the references, which match greedily).

Used where foir360 itself needs to know which object is which: instance recall during
training validation, and the same object in consecutive frames for replay's rank stability.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def one_to_one_matches(iou: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (rows, cols) of the assignment maximising total IoU, kept if IoU >= threshold.

    ``iou`` is (n, m); an empty side gives no pairs.
    """
    iou = np.asarray(iou, dtype=np.float64)
    if iou.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    rows, cols = linear_sum_assignment(-iou)
    keep = iou[rows, cols] >= threshold
    return rows[keep], cols[keep]
