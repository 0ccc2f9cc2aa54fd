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


def _lon_major(masks: np.ndarray) -> np.ndarray | None:
    """The (N, W, H) longitude-major memory behind ``masks`` (COCO RLE's layout, which the
    runtime's masks have), or None when they are laid out otherwise."""
    lon_major = masks.transpose(0, 2, 1)
    return lon_major if lon_major.flags.c_contiguous and not masks.flags.c_contiguous else None


def _transposed(lon_major: np.ndarray) -> np.ndarray:
    """(N, H, W) row-major copies of (N, W, H) masks: OpenCV transposes each several times
    faster than numpy copies a strided view."""
    count, width, height = lon_major.shape
    out = np.empty((count, height, width), dtype=np.uint8)
    for source, target in zip(lon_major.view(np.uint8), out, strict=True):
        cv2.transpose(source, target)
    return out.view(bool)


def spherical_iou(masks: np.ndarray, above: float = 0.0) -> np.ndarray:
    """(N, N) IoU of (N, H, W) ERP masks, pixels weighted by their solid angle; exact.

    Pairs whose IoU cannot exceed ``above`` (the smaller area over the larger is at most
    ``above``) are not measured and read 0.

    Areas and the rows and columns each mask uses are read in the masks' own memory order;
    only masks of pairs that share a row and a column are bit-packed, and a pair is compared
    on the rows of its first mask. No BLAS (whose threads crawl on a busy CPU), and little
    work for objects far apart, however small the masks (sampling rows would miss a small
    object's duplicate).
    """
    masks = np.asarray(masks, dtype=bool)
    height, width = masks.shape[1:]
    lon_major = _lon_major(masks)
    # bytes summed into int32: 4x faster than numpy's bool sum
    if lon_major is None:
        row_counts = masks.view(np.uint8).sum(axis=2, dtype=np.int32)
        used_cols = masks.any(axis=1)
    else:  # each column is contiguous: sum only the columns a mask uses
        used_cols = lon_major.any(axis=2)
        row_counts = np.zeros((len(masks), height), dtype=np.int32)
        for counts, mask, cols in zip(row_counts, lon_major, used_cols, strict=True):
            mask[cols].view(np.uint8).sum(axis=0, dtype=np.int32, out=counts)
    row_weights = solid_angle_weights(height, width)[:, 0]
    area = row_counts @ row_weights
    used_rows = row_counts > 0
    ratio = np.minimum(area[:, None], area[None, :]) / np.maximum(
        np.maximum(area[:, None], area[None, :]), 1e-300)
    may_touch = np.triu((used_rows.astype(np.int32) @ used_rows.T.astype(np.int32) > 0)
                        & (used_cols.astype(np.int32) @ used_cols.T.astype(np.int32) > 0)
                        & (ratio > above), k=1)
    inter = np.diag(area)
    involved = np.flatnonzero(may_touch.any(axis=0) | may_touch.any(axis=1))
    if involved.size:
        row_major = masks[involved] if lon_major is None else _transposed(lon_major[involved])
        packed = np.packbits(row_major, axis=2)  # (n, H, ceil(W / 8)), as rows are read
        slot = {int(m): k for k, m in enumerate(involved)}
        for i in np.flatnonzero(may_touch.any(axis=1)):
            others = np.flatnonzero(may_touch[i])
            rows = np.flatnonzero(used_rows[i])
            mine = packed[slot[int(i)], rows]
            shared = mine[None] & packed[[slot[int(j)] for j in others]][:, rows]
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
