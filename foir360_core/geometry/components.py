"""Connected parts of ERP masks where the left and right image borders touch.

An ERP image cuts every object that crosses the longitude seam into a left and a right
piece; on the sphere they are one. Components here use 8-connectivity and join pieces that
touch across the seam (row r of the last column touches rows r-1..r+1 of the first).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

EIGHT = np.ones((3, 3), dtype=bool)


def seam_labels(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """(labels, count) of an (H, W) mask: 0 = background, 1..count seam-joined parts."""
    labels, n = ndimage.label(np.asarray(mask, dtype=bool), structure=EIGHT)
    if n < 2:
        return labels, n
    left, right = labels[:, 0], labels[:, -1]
    pairs = [(left[1:], right[:-1]), (left, right), (left[:-1], right[1:])]
    a = np.concatenate([p[0] for p in pairs])
    b = np.concatenate([p[1] for p in pairs])
    touch = (a > 0) & (b > 0)
    graph = coo_matrix((np.ones(int(touch.sum())), (a[touch] - 1, b[touch] - 1)), shape=(n, n))
    count, joined = connected_components(graph, directed=False)
    lookup = np.concatenate([[0], joined + 1])
    return lookup[labels], int(count)


def seam_components(mask: np.ndarray) -> int:
    """How many seam-joined parts an (H, W) mask has."""
    return seam_labels(mask)[1]
