"""SeqRank's own ``Metrics`` (``evaluation/metrics.py``): SOR, SA-SOR and MAE (§3.2–§3.4).

PanoRank's test script is SeqRank's, so these are what the PanoRank code path prints. They
differ from the ASSR/IRSR family on purpose and are kept separate:

* GT objects are taken in rank order (rank 1 first) and predictions in predicted order
  (most important first); an image's GT rank is ``N − index`` and a prediction's ``M − index``.
* IoU is ``|A ∩ B| / (|A ∪ B| + 1e-6)`` and a pair matches only when IoU > 0.5 (strict).
* SOR: each GT takes the *first* prediction in predicted order that matches (no
  exclusivity); ≥ 2 pairs → (Spearman + 1) / 2 per image, 1 pair → 1, none → NaN.
* SA-SOR: Hungarian matching on 1 − IoU, matched pairs with IoU > 0.5 kept, every other GT
  appended with prediction 0, then Pearson (``np.corrcoef``); a single GT gives NaN.
* MAE: |union of predicted masks − union of GT masks| averaged over pixels (binary, no ranks).
* Dataset value: NaN counts as 0 in the mean, rounded to 4 decimals (``aggregate``).
* An empty prediction is a single all-zero map in the reference; it matches nothing, so SOR
  and SA-SOR are NaN (→ 0). An image without GT objects makes the reference skip its
  metrics; it is left out here too.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from scipy import stats
from scipy.optimize import linear_sum_assignment

from foir360_core.metrics.masks import MaskSet

EPS = 1e-12  # the reference's eps in aggregate()


def seqrank_iou(inter: np.ndarray, area_gt: np.ndarray, area_pred: np.ndarray) -> np.ndarray:
    """(N, M) ``inter / (union + 1e-6)`` in float64, as SeqRank's ``Metrics.iou``."""
    union = np.asarray(area_gt)[:, None] + np.asarray(area_pred)[None, :] - inter
    return inter / (union + 1e-6)


def _pearson_or_nan(x: list[int], y: list[int]) -> float:
    """``np.corrcoef(x, y)[0, 1]``, NaN where that is NaN (< 2 values or a constant side)."""
    if len(x) < 2 or len(set(x)) == 1 or len(set(y)) == 1:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


def sor_from_iou(iou: np.ndarray, threshold: float = 0.5) -> float:
    """SeqRank SOR of one image; ``iou`` rows in GT rank order, columns in predicted order."""
    n, m = iou.shape
    gt_r, pred_r = [], []
    for i in range(n):
        hits = np.flatnonzero(iou[i] > threshold)
        if hits.size:
            gt_r.append(n - i)
            pred_r.append(m - int(hits[0]))
    if len(gt_r) > 1:
        if len(set(pred_r)) == 1:  # scipy gives NaN for a constant side; (NaN + 1) / 2 = NaN
            return math.nan
        return (float(stats.spearmanr(pred_r, gt_r).statistic) + 1.0) / 2.0
    return 1.0 if gt_r else math.nan


def sa_sor_from_iou(iou: np.ndarray, threshold: float = 0.5) -> float:
    """SeqRank SA-SOR of one image (Pearson, NaN possible); same ordering as ``sor_from_iou``."""
    n, m = iou.shape
    if m == 0:
        return math.nan
    cost = 1.0 - iou
    gt_ind, pd_ind = linear_sum_assignment(cost)
    matched_iou = 1.0 - cost[gt_ind, pd_ind]
    keep = matched_iou > threshold
    gt_r = (n - gt_ind[keep]).astype(int).tolist()
    pd_r = (m - pd_ind[keep]).astype(int).tolist()
    for rank in range(1, n + 1):
        if rank not in gt_r:
            gt_r.append(rank)
            pd_r.append(0)
    return _pearson_or_nan(gt_r, pd_r)


def mae_sets(gt: MaskSet, pred: MaskSet) -> float:
    """SeqRank MAE on indexed mask sets."""
    gt_union = gt.union_map()
    pred_union = pred.union_map() if len(pred) else np.zeros_like(gt_union)
    return cv2.norm(gt_union, pred_union, cv2.NORM_L1) / gt_union.size


def predicted_order(scores: np.ndarray) -> np.ndarray:
    """Prediction indices most important first (stable on equal scores)."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")


def _ordered_iou(gt_masks: np.ndarray, gt_ranks: np.ndarray, pred_masks: np.ndarray,
                 pred_scores: np.ndarray) -> np.ndarray:
    gt = MaskSet.build(gt_masks)
    gt = gt.subset(np.argsort(np.asarray(gt_ranks).reshape(-1), kind="stable"))
    pred = MaskSet.build(pred_masks)
    pred = pred.subset(predicted_order(pred_scores))
    return seqrank_iou(gt.intersections(pred), gt.areas, pred.areas)


def seqrank_sor(gt_masks: np.ndarray, gt_ranks: np.ndarray, pred_masks: np.ndarray,
                pred_scores: np.ndarray, *, iou: float = 0.5) -> float:
    """SeqRank's per-image SOR (already normalised to [0, 1]; NaN counts as 0 in the mean)."""
    return sor_from_iou(_ordered_iou(gt_masks, gt_ranks, pred_masks, pred_scores), iou)


def seqrank_sa_sor(gt_masks: np.ndarray, gt_ranks: np.ndarray, pred_masks: np.ndarray,
                   pred_scores: np.ndarray, *, iou: float = 0.5) -> float:
    """SeqRank's per-image SA-SOR (Pearson; NaN counts as 0 in the mean)."""
    return sa_sor_from_iou(_ordered_iou(gt_masks, gt_ranks, pred_masks, pred_scores), iou)


def seqrank_mae(gt_masks: np.ndarray, pred_masks: np.ndarray) -> float:
    """SeqRank's binary-saliency MAE: union of predictions vs union of GT, over all pixels."""
    gt = MaskSet.build(gt_masks)
    pred = MaskSet.build(pred_masks) if len(pred_masks) else MaskSet.build(
        np.zeros((0, *gt.shape), dtype=bool))
    return mae_sets(gt, pred)


def seqrank_aggregate(values: list[float]) -> float:
    """``Metrics.aggregate``: NaN counts as 0, ``round((Σ + eps) / (count + eps), 4)``."""
    total = sum(0.0 if math.isnan(v) else v for v in values)
    return round((total + EPS) / (len(values) + EPS), 4)
