"""MAE variants on rank maps (§3.4): the ASSR-family rank-map MAE, seed 004's adaptive MAE
and IRSR's MAE.

The references divide uint8 maps by 255 in float32 and average in float32 (or float64 for
IRSR). Here every sum is taken exactly on integers and divided once, so a value agrees with
the reference to float32 precision (≈1e-6, the tolerance the reference notes ask for) and
does not depend on summation order. OpenCV does the full-frame passes (L1 norms, counts):
they are the only per-pixel work left in an evaluation.
"""

from __future__ import annotations

import cv2
import numpy as np

from foir360_core.metrics.masks import MaskSet, _as_row_weights
from foir360_core.metrics.sor import check_gt_ranks, gt_values, min_rank


def _check_maps(gt_map: np.ndarray, pred_map: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gt_map, pred_map = np.asarray(gt_map), np.asarray(pred_map)
    if gt_map.dtype != np.uint8 or pred_map.dtype != np.uint8:
        raise ValueError(f"rank maps must be uint8, got {gt_map.dtype} and {pred_map.dtype}")
    if gt_map.ndim != 2 or gt_map.shape != pred_map.shape:
        raise ValueError(f"rank maps must be equal (H, W), got {gt_map.shape} and {pred_map.shape}")
    return np.ascontiguousarray(gt_map), np.ascontiguousarray(pred_map)


def _row_sums(image: np.ndarray) -> np.ndarray:
    """Exact per-row sums of a uint8 image (int32 holds 255 · W for any real width)."""
    return cv2.reduce(image, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).reshape(-1).astype(np.float64)


def rank_map_mae(
    gt_map: np.ndarray, pred_map: np.ndarray, *, row_weights: np.ndarray | None = None
) -> float:
    """Mean of |gt − pred| / 255 over all pixels (ASSR, PPA, PSR, FOIR-360, QAGNet, pavsodr).

    With ``row_weights`` (e.g. ``solid_angle_weights(H, W)``) each pixel counts by its
    row's weight: the sphere-weighted extra metric.
    """
    gt_map, pred_map = _check_maps(gt_map, pred_map)
    if row_weights is None:
        return cv2.norm(gt_map, pred_map, cv2.NORM_L1) / (255.0 * gt_map.size)
    weights = _as_row_weights(row_weights, gt_map.shape[0])
    per_row = _row_sums(cv2.absdiff(gt_map, pred_map))
    return float(per_row @ weights) / (255.0 * gt_map.shape[1] * float(weights.sum()))


def adaptive_mae(
    gt_map: np.ndarray, pred_map: np.ndarray, *, row_weights: np.ndarray | None = None
) -> float:
    """Seed 004 Eq. 10 (pavsodr ``Eval_adaptive_mae``): foreground and background weigh equally.

    ``0.5 · mean|pred − gt| over gt > 0  +  0.5 · mean|pred − gt| over gt == 0``, on maps
    /255. No foreground → that term is 0 (as in the reference). No background (the GT
    covers the whole frame) → that term is 0 too; the reference divides by zero there.
    """
    gt_map, pred_map = _check_maps(gt_map, pred_map)
    if row_weights is None:
        total = cv2.norm(gt_map, pred_map, cv2.NORM_L1)
        fg_err = cv2.norm(gt_map, pred_map, cv2.NORM_L1, mask=gt_map)
        fg_n = float(cv2.countNonZero(gt_map))
        bg_err, bg_n = total - fg_err, float(gt_map.size) - fg_n
    else:
        weights = _as_row_weights(row_weights, gt_map.shape[0])
        diff = cv2.absdiff(gt_map, pred_map)
        fg = (gt_map > 0).view(np.uint8)
        fg_err = float(_row_sums(cv2.bitwise_and(diff, diff, mask=fg)) @ weights)
        bg_err = float(_row_sums(diff) @ weights) - fg_err
        fg_n = float(_row_sums(fg) @ weights)
        bg_n = float(weights.sum()) * gt_map.shape[1] - fg_n
    fg_term = fg_err / (255.0 * fg_n) if fg_n > 0 else 0.0
    bg_term = bg_err / (255.0 * bg_n) if bg_n > 0 else 0.0
    return 0.5 * fg_term + 0.5 * bg_term


def _paint_labels(masks: MaskSet, labels: np.ndarray, dtype: type) -> np.ndarray:
    """Integer map: each mask's label painted in list order (later objects overwrite)."""
    out = np.zeros(masks.shape, dtype=dtype)
    for i, label in enumerate(labels):
        ys, xs, mask = masks.crop(i)
        np.copyto(out[ys, xs], dtype(label), where=mask)
    return out


def irsr_mae_sets(gt: MaskSet, gt_ranks: np.ndarray, pred: MaskSet,
                  pred_scores: np.ndarray) -> float:
    """``irsr_mae`` on indexed mask sets (the evaluator's fast path)."""
    n, m = len(gt), len(pred)
    if n == 0 and m == 0:
        return 0.0
    if m and pred.shape != gt.shape:
        raise ValueError(f"GT masks are {gt.shape} but predicted masks are {pred.shape}")
    # |a/N − b/M| = |a·M − b·N| / (N·M): paint integers, take one exact L1 norm.
    gt_levels = gt_values(gt_ranks)
    pred_levels = min_rank(pred_scores) if m else np.zeros(0, dtype=np.int64)
    gt_scale, pred_scale = (m, n) if n and m else (1, 1)
    denom = float(n * m) if n and m else float(max(n, m))
    dtype = np.uint16 if n * m <= np.iinfo(np.uint16).max else np.int32  # half the traffic
    gt_map = _paint_labels(gt, gt_levels * gt_scale, dtype)
    pred_map = (_paint_labels(pred, pred_levels * pred_scale, dtype) if m
                else np.zeros(gt.shape, dtype=dtype))
    return cv2.norm(gt_map, pred_map, cv2.NORM_L1) / (denom * gt_map.size)


def irsr_mae(
    gt_masks: np.ndarray, gt_ranks: np.ndarray, pred_masks: np.ndarray, pred_scores: np.ndarray
) -> float:
    """IRSR's ``calu_mae`` (``tools/evaluation/mae_fmeasure_2.py``) for one image.

    GT map: each GT mask filled with ``(N + 1 − rank) / N`` (IRSR's ``(r + 1) / N``),
    prediction map: each predicted mask filled with ``min-rank of its score / M``; both
    painted in list order, later objects overwriting. MAE over all pixels, no matching.
    """
    gt = MaskSet.build(gt_masks)
    ranks = check_gt_ranks(gt_ranks, len(gt))
    pred = MaskSet.build(pred_masks) if len(pred_masks) else MaskSet.build(
        np.zeros((0, *gt.shape), dtype=bool))
    scores = np.asarray(pred_scores, dtype=np.float64).reshape(-1)
    if scores.size != len(pred):
        raise ValueError(f"{scores.size} prediction scores for {len(pred)} prediction masks")
    return irsr_mae_sets(gt, ranks, pred, scores)
