"""Connected parts of ERP masks where the left and right image borders touch.

An ERP image cuts every object that crosses the longitude seam into a left and a right
piece; on the sphere they are one. Components here join pieces that touch across the seam:
with 8-connectivity (the default) row r of the last column touches rows r-1..r+1 of the
first, with 4-connectivity row r only.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

EIGHT = np.ones((3, 3), dtype=bool)
STRUCTURES = {8: EIGHT, 4: ndimage.generate_binary_structure(2, 1)}


def seam_labels(mask: np.ndarray, connectivity: int = 8) -> tuple[np.ndarray, int]:
    """(labels, count) of an (H, W) mask: 0 = background, 1..count seam-joined parts.

    ``connectivity`` is 8 (diagonal neighbours touch) or 4 (edge neighbours only).
    """
    labels, n = ndimage.label(np.asarray(mask, dtype=bool), structure=STRUCTURES[connectivity])
    if n < 2:
        return labels, n
    left, right = labels[:, 0], labels[:, -1]
    pairs = [(left, right)]
    if connectivity == 8:
        pairs += [(left[1:], right[:-1]), (left[:-1], right[1:])]
    a = np.concatenate([p[0] for p in pairs])
    b = np.concatenate([p[1] for p in pairs])
    touch = (a > 0) & (b > 0)
    if not touch.any():  # most masks: nothing crosses the seam, no graph to build
        return labels, n
    graph = coo_matrix((np.ones(int(touch.sum())), (a[touch] - 1, b[touch] - 1)), shape=(n, n))
    count, joined = connected_components(graph, directed=False)
    lookup = np.concatenate([[0], joined + 1])
    return lookup[labels], int(count)


def seam_components(mask: np.ndarray) -> int:
    """How many seam-joined parts an (H, W) mask has."""
    return seam_labels(mask)[1]


def largest_part(mask: np.ndarray, connectivity: int = 8, *, top: int = 0,
                 height: int | None = None) -> np.ndarray:
    """The (H, W) mask's seam-joined part of the largest solid angle (all of it if whole).

    Parts are weighed by solid angle (cos latitude per row), not pixels: a part near a pole
    covers more ERP pixels than an equal part on the horizon. Ties go to the lower label.
    ``mask`` may be the band of rows ``top``.. of an ERP ``height`` rows tall (default: the
    whole ERP), so a caller can pass only the rows an object uses.
    """
    labels, n = seam_labels(mask, connectivity)
    if n < 2:
        return np.asarray(mask, dtype=bool)
    h = labels.shape[0] if height is None else height
    row_weight = np.cos((0.5 - (np.arange(h) + 0.5) / h) * np.pi)[top:top + labels.shape[0]]
    weights = np.broadcast_to(row_weight[:, None], labels.shape)
    size = np.bincount(labels.ravel(), weights.ravel(), minlength=n + 1)
    return labels == 1 + int(np.argmax(size[1:]))
