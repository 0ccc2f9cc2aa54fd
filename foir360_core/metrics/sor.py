"""SOR of the ASSR family (rank-map based) and SA-SOR of the IRSR family (instance based).

Both follow the public evaluators rule by rule (see the package docstring for the sources
and for where each rule comes from); a per-image function returns ``None`` exactly when the
reference would leave the image out of the average.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from foir360_core.metrics.masks import MaskSet, _as_row_weights


def check_gt_ranks(ranks: np.ndarray, n_masks: int) -> np.ndarray:
    """GT ranks as int64; reject a wrong count or ties (the references assume unique GT)."""
    ranks = np.asarray(ranks).reshape(-1)
    if ranks.size != n_masks:
        raise ValueError(f"{ranks.size} GT ranks for {n_masks} GT masks")
    if np.unique(ranks).size != ranks.size:
        raise ValueError(f"GT ranks must be unique (1 = most important), got {ranks.tolist()}")
    return ranks.astype(np.int64)


def gt_values(ranks: np.ndarray) -> np.ndarray:
    """Unique ranks (1 = most important) as "higher = more important" levels 1..N.

    ``1 + #(less important objects)``, i.e. ``N + 1 - rank`` for ranks 1..N (IRSR's
    ``r + 1`` with its 0-based ranks). Every level is ≥ 1, so the references' "drop gt == 0"
    test never removes a GT object (it only ever fired on IRSR's 0-based ranks, which QAGNet
    exempts).
    """
    ranks = np.asarray(ranks, dtype=np.int64).reshape(-1)
    return 1 + np.count_nonzero(ranks[None, :] > ranks[:, None], axis=1)


# --------------------------------------------------------------------------- SOR (§3.1)


def value_histograms(
    gt: MaskSet, rank_map: np.ndarray, row_weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """How many pixels of each GT mask carry each gray: (N, 256) counts, and with
    ``row_weights`` also (N, 256) weighted sums (None otherwise).

    Both come from one per-row histogram of the mask's pixels, so the sphere-weighted extra
    costs a small matrix product instead of a second pass over the pixels.
    """
    if rank_map.shape != gt.shape or rank_map.dtype != np.uint8:
        raise ValueError(
            f"the rank map must be uint8 of the masks' size {gt.shape}, got "
            f"{rank_map.dtype} {rank_map.shape}"
        )
    weights = None if row_weights is None else _as_row_weights(row_weights, gt.shape[0])
    counts = np.zeros((len(gt), 256), dtype=np.int64)
    weighted = None if weights is None else np.zeros((len(gt), 256), dtype=np.float64)
    for i in range(len(gt)):
        ys, xs, mask = gt.crop(i)
        if not mask.size:
            continue
        values = rank_map[ys, xs][mask]
        if weights is None:
            counts[i] = np.bincount(values, minlength=256)
            continue
        rows = np.repeat(np.arange(mask.shape[0]) * 256, np.count_nonzero(mask, axis=1))
        per_row = np.bincount(rows + values, minlength=mask.shape[0] * 256)
        per_row = per_row.reshape(mask.shape[0], 256)
        counts[i] = per_row.sum(axis=0)
        weighted[i] = weights[ys] @ per_row
    return counts, weighted


def predicted_values(hist: np.ndarray, areas: np.ndarray, coverage: float) -> np.ndarray:
    """Each GT object's predicted gray: the smallest most frequent non-zero gray, or 0.

    The object counts as detected only if strictly more than ``int(area * coverage)`` of its
    pixels are non-zero (``int`` truncates, as the references do). With weighted histograms
    (float) the test is the continuous ``covered > area * coverage``.
    """
    nonzero = hist[:, 1:]
    covered = nonzero.sum(axis=1)
    if np.issubdtype(hist.dtype, np.integer):
        needed = np.array([int(int(a) * coverage) for a in areas], dtype=np.int64)
    else:
        needed = np.asarray(areas, dtype=np.float64) * coverage
    # argmax returns the first maximum, i.e. the smallest gray among equally frequent ones.
    mode = 1 + np.argmax(nonzero, axis=1) if len(hist) else np.zeros(0, dtype=np.int64)
    return np.where(covered > needed, mode, 0).astype(np.int64)


@dataclass(frozen=True)
class SorPairs:
    """The (GT value, predicted gray) pairs that survive the SOR filters of one image."""

    gt: np.ndarray
    pred: np.ndarray
    kept: np.ndarray  # indices of the kept GT objects


def sor_pairs(gt_vals: np.ndarray, pred_vals: np.ndarray) -> SorPairs:
    """Drop every object whose prediction is 0 (or whose GT value is 0)."""
    keep = np.flatnonzero((np.asarray(pred_vals) != 0) & (np.asarray(gt_vals) != 0))
    return SorPairs(np.asarray(gt_vals)[keep], np.asarray(pred_vals)[keep], keep)


def _constant(values: np.ndarray) -> bool:
    return bool(np.all(values == values[0]))


def _correlation_rule(pairs: SorPairs, correlate) -> float | None:
    """The reference K rules around a correlation: K ≥ 2 → the correlation, or None when a
    side is constant (scipy's NaN, which the references leave out); K = 1 → 1; K = 0 → None."""
    k = pairs.gt.size
    if k == 0:
        return None
    if k == 1:
        return 1.0
    if _constant(pairs.gt) or _constant(pairs.pred):
        return None
    value = float(correlate(pairs.gt, pairs.pred).statistic)
    return None if math.isnan(value) else value


def spearman_rule(pairs: SorPairs) -> float | None:
    """Per-image ρ of the ASSR family (Spearman with average ranks for ties)."""
    return _correlation_rule(pairs, stats.spearmanr)


def kendall_rule(pairs: SorPairs) -> float | None:
    """Extra metric: Kendall's τ-b on the same pairs and with the same K rules as SOR."""
    return _correlation_rule(pairs, stats.kendalltau)


def sor_image(
    gt_masks: np.ndarray,
    gt_ranks: np.ndarray,
    pred_rank_map: np.ndarray,
    *,
    coverage: float,
    row_weights: np.ndarray | None = None,
) -> float | None:
    """Per-image Spearman ρ of the ASSR family, or None when the image is not used.

    ``pred_rank_map`` is uint8 (H, W), higher gray = more important, 0 = nothing. For each
    GT object the predicted value is the smallest mode of the non-zero grays under its mask
    if strictly more than ``int(area · coverage)`` of its pixels are non-zero, else 0; zeros
    are dropped; one remaining object gives ρ = 1. With ``row_weights`` (e.g.
    ``solid_angle_weights(H, W)``) areas and modes use weighted pixels: the sphere-weighted
    extra metric, not a reference one.
    """
    gt = MaskSet.build(gt_masks)
    ranks = check_gt_ranks(gt_ranks, len(gt))
    counts, weighted = value_histograms(gt, pred_rank_map, row_weights)
    if weighted is None:
        pred_vals = predicted_values(counts, gt.areas, coverage)
    else:
        pred_vals = predicted_values(weighted, gt.weighted_areas(row_weights), coverage)
    return spearman_rule(sor_pairs(gt_values(ranks), pred_vals))


def normalised_sor(rhos: list[float]) -> float | None:
    """Dataset SOR: ``(mean ρ over used images + 1) / 2`` (normalised after averaging)."""
    if not rhos:
        return None
    return float((np.average(np.asarray(rhos, dtype=np.float64)) + 1.0) / 2.0)


# ------------------------------------------------------------------------ SA-SOR (§3.2)


def float32_iou(inter: np.ndarray, area_gt: np.ndarray, area_pred: np.ndarray) -> np.ndarray:
    """(N, M) IoU the way IRSR's ``calc_iou`` computes it: float32 counts, float32 division.

    The float32 rounding decides matches right at the threshold, so it is kept. An empty
    union (both masks empty) gives 0 here; the reference would divide 0 by 0.
    """
    inter32 = np.asarray(inter, dtype=np.float32)
    union32 = (np.asarray(area_gt)[:, None] + np.asarray(area_pred)[None, :]
               - np.asarray(inter)).astype(np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union32 > 0, inter32 / union32, np.float32(0.0))
    return iou.astype(np.float64)


def weighted_iou(inter: np.ndarray, area_gt: np.ndarray, area_pred: np.ndarray) -> np.ndarray:
    """(N, M) IoU of weighted areas in float64 (the sphere-weighted extra)."""
    union = np.asarray(area_gt)[:, None] + np.asarray(area_pred)[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def _last_argmax(values: np.ndarray) -> int:
    """Index of the maximum; the highest index among equal maxima (IRSR's ``argsort()[-1]``)."""
    return int(values.size - 1 - np.argmax(values[::-1]))


def greedy_match(iou: np.ndarray, threshold: float) -> np.ndarray:
    """IRSR's ``match``: the prediction index chosen by each GT (−1 = none), then extras.

    a) each GT takes its best-IoU prediction (the highest index on exact ties);
    b) below ``threshold`` → −1, so an IoU equal to the threshold matches;
    c) a prediction chosen by several GTs stays with the GT of largest IoU (the later GT on
       ties), the others get −1;
    d) quirk: only when N < M, every prediction not yet in the list is appended after it.
    """
    n, m = iou.shape
    chosen = np.array([_last_argmax(iou[i]) for i in range(n)], dtype=np.int64)
    chosen[iou[np.arange(n), chosen] < threshold] = -1
    for j in np.unique(chosen[chosen >= 0]):
        claimants = np.flatnonzero(chosen == j)
        if claimants.size > 1:
            winner = claimants[_last_argmax(iou[claimants, j])]
            chosen[claimants[claimants != winner]] = -1
    if n < m:
        extras = np.setdiff1d(np.arange(m), chosen, assume_unique=False)
        chosen = np.concatenate([chosen, extras])
    return chosen


def min_rank(values: np.ndarray) -> np.ndarray:
    """``sorted(values).index(v) + 1`` for each v: ascending rank, ties share the smallest."""
    return stats.rankdata(np.asarray(values, dtype=np.float64), method="min").astype(np.int64)


def sa_sor_from_iou(iou: np.ndarray, gt_ranks: np.ndarray, pred_scores: np.ndarray,
                    threshold: float) -> float | None:
    """SA-SOR of one image from its (N, M) IoU matrix (see ``sa_sor_image``)."""
    n = iou.shape[0]
    if n < 2:
        return None  # one GT object (or none): the references exclude the image
    g = min_rank(gt_values(gt_ranks))
    q = np.zeros(n, dtype=np.int64)
    if iou.shape[1]:
        chosen = greedy_match(iou, threshold)
        gt_part = chosen[:n]
        selected = np.concatenate([gt_part[gt_part >= 0], chosen[n:]])
        ranked = min_rank(np.asarray(pred_scores, dtype=np.float64)[selected])
        q[gt_part >= 0] = ranked[: np.count_nonzero(gt_part >= 0)]
    if _constant(q):
        return 0.0  # pandas var(q) == 0 → p := 0, and the image still counts
    p = float(np.corrcoef(g, q)[0, 1])
    return None if math.isnan(p) else p


def sa_sor_image(
    gt_masks: np.ndarray,
    gt_ranks: np.ndarray,
    pred_masks: np.ndarray,
    pred_scores: np.ndarray,
    *,
    iou: float,
    row_weights: np.ndarray | None = None,
) -> float | None:
    """IRSR's segmentation-aware SOR of one image (Pearson, not normalised), or None.

    GT index g = ascending min-rank of importance; predictions are greedily matched by IoU
    (``greedy_match``); matched predictions' scores, plus the extra predictions when N < M,
    are min-ranked ascending and placed at their GT's position, unmatched GTs get 0.
    p = Pearson(g, q); a constant q gives 0 (counted); a single GT gives None. With
    ``row_weights`` the IoU uses weighted areas (sphere-weighted extra metric).
    """
    gt = MaskSet.build(gt_masks)
    ranks = check_gt_ranks(gt_ranks, len(gt))
    pred = MaskSet.build(pred_masks)
    scores = np.asarray(pred_scores, dtype=np.float64).reshape(-1)
    if scores.size != len(pred):
        raise ValueError(f"{scores.size} prediction scores for {len(pred)} prediction masks")
    if len(pred) and gt.shape != pred.shape:
        raise ValueError(f"GT masks are {gt.shape} but predicted masks are {pred.shape}")
    if row_weights is None:
        matrix = float32_iou(gt.intersections(pred), gt.areas, pred.areas)
    else:
        matrix = weighted_iou(gt.intersections(pred, row_weights),
                              gt.weighted_areas(row_weights), pred.weighted_areas(row_weights))
    return sa_sor_from_iou(matrix, ranks, scores, iou)
