"""Randomised cross-check against slow, literal transcriptions of the reference procedures.

The library computes on bounding-box crops, histograms and integer sums; the oracles below
follow the references' steps one pixel array and one Python list at a time (dense masks,
``sorted(...).index``, ``np.insert`` then truncate, QAGNet's cover-region painter, the
ASSR painter's reverse sort, SeqRank's loops). Any vectorisation slip shows up as a
mismatch on some random scene: overlapping, seam-crossing and empty masks, tied scores.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter

import numpy as np
import pytest
from scipy import stats
from scipy.optimize import linear_sum_assignment

from foir360_core.metrics import (
    evaluate_many,
    irsr_mae,
    paint_rank_map,
    sa_sor_image,
    seqrank_mae,
    seqrank_sa_sor,
    seqrank_sor,
    sor_image,
)
from foir360_core.metrics.rankmap import ranks_from_scores_with_ties
from foir360_core.structures import PanoInstances

H, W = 12, 24
CASES = 150


# ------------------------------------------------------------------- literal oracles


def oracle_paint_qagnet(masks: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """QAGNet IRSR-mode painter: colour 255/n·a, most salient first, never overwritten."""
    out = np.zeros(masks.shape[1:], dtype=float)
    n = len(scores)
    colour_index = [sorted(scores.tolist()).index(s) + 1 for s in scores.tolist()]
    colours = [255.0 / n * a for a in colour_index]
    covered = out != 0
    for level in range(n, 0, -1):
        for obj in [i for i in range(n) if colour_index[i] == level]:
            seg = np.where(masks[obj], colours[obj], 0.0)
            seg[covered] = 0
            out += seg
            covered = out != 0
    return out.astype(int).astype(np.uint8)


def oracle_paint_assr(masks: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ASSR generator: reverse sort of (score, index), top five, later ones overwrite."""
    out = np.zeros(masks.shape[1:], dtype=float)
    order = sorted([(s, i) for i, s in enumerate(scores.tolist())], reverse=True)
    for j, (_, idx) in enumerate(order[:5]):
        out = np.where(masks[idx], [255.0, 229.0, 204.0, 178.0, 153.0][j], out)
    return out.astype(np.uint8)


def oracle_sor(gt_masks, gt_levels, rank_map, coverage):
    preds = []
    for mask in gt_masks:
        seg = np.where(mask, rank_map, 0)
        values = seg[seg > 0].tolist()
        value = 0
        if len(values) > int(int(mask.sum()) * coverage):
            counts = Counter(values)
            best = max(counts.values())
            value = min(v for v, c in counts.items() if c == best)
        preds.append(value)
    keep = [i for i, p in enumerate(preds) if p != 0 and gt_levels[i] != 0]
    g, p = [gt_levels[i] for i in keep], [preds[i] for i in keep]
    if len(g) > 1:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rho = stats.spearmanr(g, p).statistic
        return None if np.isnan(rho) else float(rho)
    return 1.0 if len(g) == 1 else None


def oracle_calc_iou(a, b):
    inter = np.float32((a & b).sum())
    union = np.float32((a | b).sum())
    return float(inter / union) if union > 0 else 0.0


def oracle_sa_sor(gt_masks, gt_levels, pred_masks, scores, thr):
    n, m = len(gt_masks), len(pred_masks)
    if n < 2:
        return None
    gt_index = np.array([sorted(gt_levels).index(a) + 1 for a in gt_levels])
    if m == 0:
        rank_index = np.zeros(n, dtype=int)
    else:
        ious = np.array([[oracle_calc_iou(g, p) for p in pred_masks] for g in gt_masks])
        matched = ious.argsort(axis=1, kind="stable")[:, -1]
        for i in range(n):
            if ious[i, matched[i]] < thr:
                matched[i] = -1
        for j in set(matched.tolist()):
            claim = np.nonzero(matched == j)[0]
            if j >= 0 and len(claim) > 1:
                winner = claim[ious[claim, j].argsort(kind="stable")[-1]]
                matched[claim[claim != winner]] = -1
        if n < m:
            for j in range(m):
                if j not in matched:
                    matched = np.append(matched, j)
        unmatched = np.argwhere(matched == -1).squeeze(1)
        picked = scores[matched[matched >= 0]].tolist()
        rank_index = np.array([sorted(picked).index(s) + 1 for s in picked])
        for u in unmatched:
            rank_index = np.insert(rank_index, u, 0)
        rank_index = rank_index[:n]
    if np.var(rank_index, ddof=1) == 0:
        return 0.0
    p = np.corrcoef(gt_index, rank_index)[0, 1]
    return None if np.isnan(p) else float(p)


def oracle_irsr_mae(gt_masks, gt_levels, pred_masks, scores):
    gt_map, pred_map = np.zeros((H, W)), np.zeros((H, W))
    n, m = len(gt_masks), len(pred_masks)
    for i in range(n):
        gt_map[gt_masks[i]] = gt_levels[i] / n
    index = [sorted(scores.tolist()).index(s) + 1 for s in scores.tolist()]
    for j in range(m):
        pred_map[pred_masks[j]] = index[j] / m
    return float(np.mean(np.abs(gt_map - pred_map)))


def oracle_seqrank(gt_sorted, pred_sorted):
    """SeqRank ``Metrics.process`` for one image: (sor, sa_sor, mae); empty pred = 1 zero map."""
    preds = list(pred_sorted) if len(pred_sorted) else [np.zeros((H, W), dtype=bool)]
    n, m = len(gt_sorted), len(preds)

    def iou(p, g):
        return (p & g).sum() / ((p | g).sum() + 1e-6)

    gt_r, pd_r = [], []
    for i in range(n):
        for j in range(m):
            if iou(preds[j], gt_sorted[i]) > 0.5:
                gt_r.append(n - i)
                pd_r.append(m - j)
                break
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if len(gt_r) > 1:
            sor = (stats.spearmanr(pd_r, gt_r).statistic + 1.0) / 2.0
        else:
            sor = 1.0 if gt_r else math.nan
        costs = np.array([[1.0 - iou(p, g) for p in preds] for g in gt_sorted])
        gi, pi = linear_sum_assignment(costs)
        matched = 1.0 - costs[gi, pi]
        keep = np.where(matched > 0.5)[0]
        g_ranks = (n - gi[keep]).astype(int).tolist()
        p_ranks = (m - pi[keep]).astype(int).tolist()
        for r in range(1, n + 1):
            if r not in g_ranks:
                g_ranks.append(r)
                p_ranks.append(0)
        sa = np.corrcoef(g_ranks, p_ranks)[0, 1]
    mae = np.mean(np.abs(np.max(preds, axis=0).astype(float)
                         - np.max(gt_sorted, axis=0).astype(float)))
    return float(sor), float(sa), float(mae)


# -------------------------------------------------------------------- random scenes


def random_mask(rng: np.random.Generator) -> np.ndarray:
    mask = np.zeros((H, W), dtype=bool)
    kind = rng.integers(0, 10)
    if kind == 0:
        return mask  # empty mask
    y0, x0 = rng.integers(0, H), rng.integers(0, W)
    h, w = rng.integers(1, 6), rng.integers(1, 9)
    cols = np.arange(x0, x0 + w) % W  # may wrap across the seam
    mask[y0:y0 + h, cols] = True
    return mask


def jitter(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = np.roll(mask, (rng.integers(-1, 2), rng.integers(-1, 2)), axis=(0, 1))
    flip = rng.random((H, W)) < 0.05
    return out ^ (flip & (rng.random() < 0.5))


def random_scene(rng: np.random.Generator):
    n = int(rng.integers(0, 7))
    gt = np.stack([random_mask(rng) for _ in range(n)]) if n else np.zeros((0, H, W), bool)
    ranks = rng.permutation(n) + 1
    pred = [jitter(g, rng) for g in gt if rng.random() < 0.8]
    pred += [random_mask(rng) for _ in range(rng.integers(0, 3))]
    pred = np.stack(pred) if pred else np.zeros((0, H, W), bool)
    scores = rng.choice([0.1, 0.2, 0.3, 0.5, 0.8], size=len(pred)).astype(float)  # ties
    return gt, ranks, pred, scores


@pytest.fixture(scope="module")
def scenes():
    rng = np.random.default_rng(2024)
    return [random_scene(rng) for _ in range(CASES)]


# ------------------------------------------------------------------------- checks


def test_painters_match_qagnet_and_assr(scenes):
    for _, _, pred, scores in scenes:
        if not len(pred):
            continue
        ranks = ranks_from_scores_with_ties(scores)
        assert np.array_equal(paint_rank_map(pred, ranks), oracle_paint_qagnet(pred, scores))
        assert np.array_equal(paint_rank_map(pred, ranks, scheme="assr"),
                              oracle_paint_assr(pred, scores))


def test_sor_matches_oracle(scenes):
    for gt, ranks, pred, scores in scenes:
        levels = (len(ranks) + 1 - ranks).tolist()
        for scheme in ("linear", "assr"):
            rank_map = (paint_rank_map(pred, ranks_from_scores_with_ties(scores), scheme=scheme)
                        if len(pred) else np.zeros((H, W), np.uint8))
            for coverage in (0.5, 0.98):
                expected = oracle_sor(gt, levels, rank_map, coverage)
                got = sor_image(gt, ranks, rank_map, coverage=coverage)
                assert (got is None) == (expected is None)
                if got is not None:
                    assert got == pytest.approx(expected, abs=1e-12)


def test_sa_sor_matches_oracle(scenes):
    for gt, ranks, pred, scores in scenes:
        levels = (len(ranks) + 1 - ranks).tolist()
        for thr in (0.1, 0.5):
            expected = oracle_sa_sor(gt, levels, pred, scores, thr)
            got = sa_sor_image(gt, ranks, pred, scores, iou=thr)
            assert (got is None) == (expected is None)
            if got is not None:
                assert got == pytest.approx(expected, abs=1e-12)


def test_irsr_mae_matches_oracle(scenes):
    for gt, ranks, pred, scores in scenes:
        levels = (len(ranks) + 1 - ranks).tolist()
        assert irsr_mae(gt, ranks, pred, scores) == pytest.approx(
            oracle_irsr_mae(gt, levels, pred, scores), abs=1e-12)


def test_seqrank_matches_oracle(scenes):
    for gt, ranks, pred, scores in scenes:
        if not len(gt):
            continue
        order = np.argsort(-scores, kind="stable")
        sor, sa, mae = oracle_seqrank(gt[np.argsort(ranks)], pred[order])
        for got, expected in ((seqrank_sor(gt, ranks, pred, scores), sor),
                              (seqrank_sa_sor(gt, ranks, pred, scores), sa),
                              (seqrank_mae(gt, pred), mae)):
            assert math.isnan(got) == math.isnan(expected)
            if not math.isnan(got):
                assert got == pytest.approx(expected, abs=1e-12)


def test_evaluate_rows_match_the_per_image_functions(scenes):
    samples = [(PanoInstances(gt, ranks=ranks), PanoInstances(pred, scores=scores))
               for gt, ranks, pred, scores in scenes]
    reports = evaluate_many(samples, ["foir360", "irsr", "seqrank"])
    rows = iter(reports["foir360"].per_image)
    for gt, ranks, pred, scores in scenes:
        row = next(rows)
        rank_map = paint_rank_map(pred, ranks_from_scores_with_ties(scores))
        assert row["rho"] == sor_image(gt, ranks, rank_map, coverage=0.98)
        assert row["sa_sor"] == sa_sor_image(gt, ranks, pred, scores, iou=0.1)
    mae_irsr = [r["mae_irsr"] for r in reports["irsr"].per_image]
    assert mae_irsr == [irsr_mae(gt, r, p, s) for gt, r, p, s in scenes]
    assert reports["seqrank"].summary["n_images"] == sum(len(s[0]) > 0 for s in scenes)
