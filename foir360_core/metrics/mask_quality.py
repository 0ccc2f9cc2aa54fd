"""Plausibility measures of predicted panorama masks, for models trained on real photos.

Not ranking metrics of any reference evaluator: they count the failure modes seen when a
model trained on synthetic scenes meets real 360° photos (issue 17) — masks on the sky,
ceiling or the floor under the camera, objects split into unconnected pieces, and an object
count that ignores the scene.

* ``polar_share`` — share of mask pixels in the top or bottom fifth of the rows (plain
  pixels, not solid angle: it is what an overlay shows).
* ``seam_components`` — connected components of one ERP mask where the left and right
  image borders touch (an object across the seam is one piece), 8-connectivity.
* ``fragmented_share`` — share of instances with more than one such component.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

EIGHT = np.ones((3, 3), dtype=bool)


def polar_share(masks: np.ndarray, band: float = 0.2) -> float:
    """Share of all mask pixels (N, H, W) in the top or bottom ``band`` of the rows."""
    masks = np.asarray(masks, dtype=bool)
    total = int(masks.sum())
    if total == 0:
        return 0.0
    rows = masks.sum(axis=(0, 2))
    cut = round(band * masks.shape[1])
    return float((rows[:cut].sum() + rows[len(rows) - cut:].sum()) / total)


def seam_components(mask: np.ndarray) -> int:
    """Connected components of an (H, W) ERP mask, joined across the left/right seam."""
    labels, n = ndimage.label(np.asarray(mask, dtype=bool), structure=EIGHT)
    if n < 2:
        return n
    left, right = labels[:, 0], labels[:, -1]
    # 8-connectivity across the seam: row r on the left touches rows r-1..r+1 on the right.
    pairs = [(left[1:], right[:-1]), (left, right), (left[:-1], right[1:])]
    a = np.concatenate([p[0] for p in pairs])
    b = np.concatenate([p[1] for p in pairs])
    keep = (a > 0) & (b > 0)
    graph = coo_matrix((np.ones(int(keep.sum())), (a[keep] - 1, b[keep] - 1)), shape=(n, n))
    return int(connected_components(graph, directed=False)[0])


def fragmented_share(masks: np.ndarray) -> float:
    """Share of instances (N, H, W) whose mask has more than one seam-aware component."""
    masks = np.asarray(masks, dtype=bool)
    if len(masks) == 0:
        return 0.0
    return float(np.mean([seam_components(m) > 1 for m in masks]))
