"""Each object once: suppress instance masks that cover the same object of a panorama.

A set-prediction network can give one object to two queries; a planner would then see it twice
under two ranks. Box-based NMS breaks at the ERP seam (an object crossing it has a box that
wraps), so duplicates are judged by mask IoU measured on the sphere: each pixel counts with its
solid angle, so the same overlap weighs the same at the equator and near a pole, and a mask
that wraps across the seam is compared as the one region it is.
"""

from __future__ import annotations

import numpy as np

from foir360_core.geometry import solid_angle_weights

# Rows at which overlaps are measured: duplicates overlap by half or more, which a 128-row
# sampling of the masks measures to about a percent, at a fraction of full-resolution cost.
IOU_ROWS = 128


def spherical_iou(masks: np.ndarray, rows: int = IOU_ROWS) -> np.ndarray:
    """(N, N) IoU of (N, H, W) ERP masks, pixels weighted by their solid angle.

    Masks taller than ``rows`` are sampled every ``ceil(H / rows)`` pixels in both axes. The
    masks are bit-packed and only pairs that share a row and an 8-column block are compared:
    no BLAS (whose threads crawl on a busy CPU) and little work for objects far apart.
    """
    masks = np.asarray(masks, dtype=bool)
    count, height, width = masks.shape
    step = max(1, -(-height // rows))
    packed = np.packbits(masks[:, ::step, ::step], axis=2)  # (N, rows, bytes)
    row_weights = solid_angle_weights(height, width)[::step, 0]
    area = np.bitwise_count(packed).sum(axis=2, dtype=np.int64) @ row_weights
    used_rows = packed.any(axis=2).astype(np.int32)
    used_blocks = packed.any(axis=1).astype(np.int32)
    may_touch = (used_rows @ used_rows.T > 0) & (used_blocks @ used_blocks.T > 0)
    inter = np.zeros((count, count))
    for i in range(count):
        others = np.flatnonzero(may_touch[i, i:]) + i
        counts = np.bitwise_count(packed[i] & packed[others]).sum(axis=2, dtype=np.int64)
        inter[i, others] = inter[others, i] = counts @ row_weights
    union = area[:, None] + area[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def suppress_duplicates(masks: np.ndarray, scores: np.ndarray,
                        iou_threshold: float) -> np.ndarray:
    """Indices (ascending) of the instances to keep: visiting them by score, best first, an
    instance whose spherical mask IoU with an already kept one exceeds ``iou_threshold`` is
    a duplicate and dropped, so of two copies the better-scored one stays.

    ``iou_threshold`` >= 1 keeps everything (suppression off).
    """
    scores = np.asarray(scores, dtype=np.float64)
    if len(scores) != len(masks):
        raise ValueError(f"{len(masks)} masks but {len(scores)} scores")
    if iou_threshold >= 1.0 or len(scores) < 2:
        return np.arange(len(scores))
    iou = spherical_iou(masks)
    kept: list[int] = []
    for index in np.argsort(-scores, kind="stable"):
        if not kept or iou[index, kept].max() <= iou_threshold:
            kept.append(int(index))
    return np.sort(np.asarray(kept, dtype=np.int64))
