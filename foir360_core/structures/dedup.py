"""Each object once: suppress instance masks that cover the same object of a panorama.

A set-prediction network can give one object to two queries; a planner would then see it twice
under two ranks. Box-based NMS breaks at the ERP seam (an object crossing it has a box that
wraps), so duplicates are judged by mask IoU measured on the sphere: each pixel counts with its
solid angle, so the same overlap weighs the same at the equator and near a pole, and a mask
that wraps across the seam is compared as the one region it is.
"""

from __future__ import annotations

import cv2
import numpy as np

from foir360_core.geometry import solid_angle_weights


def _row_major(masks: np.ndarray) -> np.ndarray:
    """(N, H, W) bool masks in row-major memory, as ``np.packbits`` along rows reads fastest.

    The runtime's masks are longitude-major (COCO RLE's layout); OpenCV transposes each
    several times faster than numpy copies the strided view.
    """
    masks = np.asarray(masks, dtype=bool)
    lon_major = masks.transpose(0, 2, 1)
    if masks.flags.c_contiguous or not lon_major.flags.c_contiguous or not len(masks):
        return np.ascontiguousarray(masks)
    out = np.empty(masks.shape, dtype=np.uint8)
    for source, target in zip(lon_major.view(np.uint8), out, strict=True):
        cv2.transpose(source, target)
    return out.view(bool)


def spherical_iou(masks: np.ndarray, above: float = 0.0) -> np.ndarray:
    """(N, N) IoU of (N, H, W) ERP masks, pixels weighted by their solid angle; exact.

    Pairs whose IoU cannot exceed ``above`` (the smaller area over the larger is at most
    ``above``) are not measured and read 0.

    The masks are bit-packed and a pair is only compared where it can overlap: on the rows of
    the first mask, and only if the two share a row and an 8-column block. No BLAS (whose
    threads crawl on a busy CPU), and little work for objects far apart, however small the
    masks (sampling rows would miss a small object's duplicate).
    """
    masks = _row_major(masks)
    count, height, width = masks.shape
    packed = np.packbits(masks, axis=2)  # (N, H, ceil(W / 8))
    row_weights = solid_angle_weights(height, width)[:, 0]
    area = np.bitwise_count(packed).sum(axis=2, dtype=np.int64) @ row_weights
    used_rows = packed.any(axis=2)
    used_blocks = packed.any(axis=1)
    ratio = np.minimum(area[:, None], area[None, :]) / np.maximum(
        np.maximum(area[:, None], area[None, :]), 1e-300)
    may_touch = ((used_rows.astype(np.int32) @ used_rows.T.astype(np.int32) > 0)
                 & (used_blocks.astype(np.int32) @ used_blocks.T.astype(np.int32) > 0)
                 & (ratio > above))
    inter = np.zeros((count, count))
    for i in range(count):
        others = np.flatnonzero(may_touch[i, i:]) + i
        rows = np.flatnonzero(used_rows[i])
        shared = packed[i, rows][None] & packed[others][:, rows]
        counts = np.bitwise_count(shared).sum(axis=2, dtype=np.int64)
        inter[i, others] = inter[others, i] = counts @ row_weights[rows]
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
    iou = spherical_iou(masks, above=iou_threshold)
    kept: list[int] = []
    for index in np.argsort(-scores, kind="stable"):
        if not kept or iou[index, kept].max() <= iou_threshold:
            kept.append(int(index))
    return np.sort(np.asarray(kept, dtype=np.int64))
