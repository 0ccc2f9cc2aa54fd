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


def _lon_major(masks: np.ndarray) -> np.ndarray | None:
    """The (N, W, H) longitude-major memory behind ``masks`` (COCO RLE's layout, which the
    runtime's masks have), or None when they are laid out otherwise."""
    lon_major = masks.transpose(0, 2, 1)
    return lon_major if lon_major.flags.c_contiguous and not masks.flags.c_contiguous else None


def _column_overlap(a: np.ndarray, b: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(H,) pixels per row that two longitude-major (W, H) masks share, read only in the
    columns both use (``cols``): no transpose of full-size masks, little work for small ones."""
    cols = np.flatnonzero(cols)
    return (a[cols] & b[cols]).view(np.uint8).sum(axis=0, dtype=np.int64)


def _share(used: np.ndarray) -> np.ndarray:
    """(N, N): whether masks i and j use a common row (or column), from (N, L) flags,
    compared bit-packed (integer matrix products do not use BLAS and were slow)."""
    packed = np.packbits(used, axis=1)
    return (packed[:, None] & packed[None]).any(axis=2)


def spherical_iou(masks: np.ndarray, above: float = 0.0) -> np.ndarray:
    """(N, N) IoU of (N, H, W) ERP masks, pixels weighted by their solid angle; exact.

    Pairs whose IoU cannot exceed ``above`` (the smaller area over the larger is at most
    ``above``) are not measured and read 0.

    Areas and the rows and columns each mask uses are read in the masks' own memory order,
    and only pairs that share a row and a column are compared, on the rows of the first
    mask: bit-packed for row-major masks, over the shared columns for longitude-major ones.
    No BLAS (whose threads crawl on a busy CPU), and little work for objects far apart,
    however small the masks (sampling rows would miss a small object's duplicate).
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
    may_touch = np.triu(_share(used_rows) & _share(used_cols) & (ratio > above), k=1)
    inter = np.diag(area)
    firsts = np.flatnonzero(may_touch.any(axis=1))
    if lon_major is None and firsts.size:
        packed = np.packbits(masks, axis=2)  # (N, H, ceil(W / 8))
    for i in firsts:
        others = np.flatnonzero(may_touch[i])
        rows = np.flatnonzero(used_rows[i])
        if lon_major is None:
            shared = packed[i, rows][None] & packed[others][:, rows]
            counts = np.bitwise_count(shared).sum(axis=2, dtype=np.int64)
        else:
            counts = np.stack([_column_overlap(lon_major[i], lon_major[j],
                                               used_cols[i] & used_cols[j])[rows]
                               for j in others])
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
