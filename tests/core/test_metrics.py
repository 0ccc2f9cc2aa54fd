"""Hand-computed cases for every rule of the reference metrics (reference notes §3)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pytest import approx

from foir360_core.geometry import solid_angle_weights
from foir360_core.metrics import (
    adaptive_mae,
    evaluate,
    evaluate_many,
    get_profile,
    irsr_mae,
    paint_rank_map,
    rank_map_mae,
    sa_sor_image,
    seqrank_mae,
    seqrank_sa_sor,
    seqrank_sor,
    sor_image,
)
from foir360_core.metrics.seqrank import seqrank_aggregate
from foir360_core.metrics.sor import float32_iou, greedy_match
from foir360_core.structures import PanoInstances

H, W = 10, 20


def rect(y0: int, y1: int, x0: int, x1: int, *, h: int = H, w: int = W) -> np.ndarray:
    mask = np.zeros((h, w), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def stack(*masks: np.ndarray) -> np.ndarray:
    return np.stack(masks) if masks else np.zeros((0, H, W), dtype=bool)


def first_pixels(mask: np.ndarray, count: int) -> np.ndarray:
    """The first ``count`` pixels of ``mask`` in row-major order."""
    out = np.zeros_like(mask)
    out.flat[np.flatnonzero(mask)[:count]] = True
    return out


A, B, C = rect(0, 2, 0, 5), rect(3, 5, 0, 5), rect(6, 8, 0, 5)  # 10 px each, disjoint


# ---------------------------------------------------------------------------- rank maps


def test_linear_scheme_grays_and_most_important_on_top():
    overlap = rect(0, 2, 3, 8)  # overlaps A
    rank_map = paint_rank_map(stack(overlap, A, C), np.array([1, 2, 3]))
    # n = 3: rank 1 → int(85.0 * 3) = 255, rank 2 → 170, rank 3 → 85; rank 1 wins the overlap
    assert rank_map[0, 4] == 255 and rank_map[0, 0] == 170 and rank_map[6, 0] == 85
    assert rank_map[9, 19] == 0
    # n = 7 uses QAGNet's float64 (255 / n) · a with truncation: 36, 72, …
    seven = np.stack([rect(0, 1, i, i + 1) for i in range(7)])
    row = paint_rank_map(seven, np.arange(7, 0, -1))[0, :7]
    assert row.tolist() == [int((255.0 / 7) * a) for a in range(1, 8)]
    assert row.tolist()[:2] == [36, 72]


def test_linear_scheme_strictly_ordered_up_to_255_objects_and_qagnet_254():
    for n in (5, 25, 43, 255):
        masks = np.zeros((n, 1, n), dtype=bool)
        masks[np.arange(n), 0, np.arange(n)] = True
        grays = paint_rank_map(masks, np.arange(1, n + 1))[0].astype(int)
        assert np.all(np.diff(grays) < 0), n  # rank 1 brightest, every step strictly darker
        assert grays[-1] > 0
    masks = np.zeros((25, 1, 25), dtype=bool)
    masks[np.arange(25), 0, np.arange(25)] = True
    assert paint_rank_map(masks, np.arange(1, 26))[0, 0] == 254  # (255 / 25) · 25 = 254.99…


def test_assr_scheme_five_levels_later_ranks_overwrite_rest_unpainted():
    masks = np.stack([rect(0, 1, i, i + 1) for i in range(7)])
    row = paint_rank_map(masks, np.array([3, 1, 2, 7, 5, 4, 6]), scheme="assr")[0, :7]
    assert row.tolist() == [204, 255, 229, 0, 153, 178, 0]
    big, small = rect(0, 4, 0, 4), rect(1, 2, 1, 2)
    # ASSR paints rank 1 first and lets rank 2 overwrite it where they overlap
    assert paint_rank_map(stack(big, small), np.array([1, 2]), scheme="assr")[1, 1] == 229
    # tied ranks: the later object takes the better level (reverse sort over (score, index))
    tied = paint_rank_map(stack(A, B), np.array([1, 1]), scheme="assr")
    assert tied[0, 0] == 229 and tied[3, 0] == 255


def test_unknown_scheme_is_rejected():
    with pytest.raises(ValueError, match="scheme"):
        paint_rank_map(stack(A), np.array([1]), scheme="rainbow")


# ---------------------------------------------------------------------------------- SOR


def map_with(*pairs: tuple[np.ndarray, int]) -> np.ndarray:
    rank_map = np.zeros((H, W), dtype=np.uint8)
    for mask, gray in pairs:
        rank_map[mask] = gray
    return rank_map


def test_sor_perfect_reversed_and_single_object():
    gt, ranks = stack(A, B, C), np.array([1, 2, 3])
    assert sor_image(gt, ranks, map_with((A, 200), (B, 100), (C, 50)), coverage=0.5) == approx(1.0)
    assert sor_image(gt, ranks, map_with((A, 50), (B, 100), (C, 200)), coverage=0.5) == approx(-1.0)
    # only one object survives → ρ := 1, even though nothing is "ranked"
    assert sor_image(gt, ranks, map_with((C, 9)), coverage=0.5) == approx(1.0)


def test_sor_no_usable_object_and_constant_prediction_are_not_used():
    gt, ranks = stack(A, B, C), np.array([1, 2, 3])
    assert sor_image(gt, ranks, np.zeros((H, W), np.uint8), coverage=0.5) is None
    # every object gets the same gray: Spearman is NaN → image not used
    assert sor_image(gt, ranks, map_with((A, 7), (B, 7), (C, 7)), coverage=0.5) is None


def test_sor_smallest_mode_on_count_ties():
    # A carries 5 px of gray 100 and 5 px of 200: the mode is the smaller, 100
    half = first_pixels(A, 5)
    rank_map = map_with((half, 100), (A & ~half, 200), (B, 150), (C, 50))
    # gt levels [3, 2, 1] vs predicted [100, 150, 50] → ranks [2, 3, 1]: ρ = 1 − 6·2/24 = 0.5
    assert sor_image(stack(A, B, C), np.array([1, 2, 3]), rank_map, coverage=0.5) == approx(0.5)


def test_sor_mode_prefers_most_frequent_and_ignores_zero_pixels():
    three = first_pixels(A, 7)
    rank_map = map_with((three, 30), (first_pixels(A & ~three, 2), 250), (B, 100))
    # A: 7 px of 30, 2 px of 250, 1 px of 0 → covered 9 > int(10·0.5), mode 30 < B's 100
    assert sor_image(stack(A, B), np.array([1, 2]), rank_map, coverage=0.5) == approx(-1.0)


def test_sor_coverage_is_strict_and_truncated():
    ranks = np.array([1, 2, 3])
    base = [(B, 100), (C, 50)]
    # area 10, T = 0.5: needs more than int(5.0) = 5 covered pixels; 5 is not enough
    five = map_with((first_pixels(A, 5), 10), *base)
    six = map_with((first_pixels(A, 6), 10), *base)
    assert sor_image(stack(A, B, C), ranks, five, coverage=0.5) == approx(1.0)  # A dropped: B > C
    assert sor_image(stack(A, B, C), ranks, six, coverage=0.5) == approx(-0.5)  # A kept, lowest


def test_sor_coverage_boundary_at_098():
    big = rect(0, 5, 0, 10)  # 50 px: int(50 · 0.98) = 49, so all 50 must be covered
    ranks = np.array([1, 2, 3])
    b, c = rect(6, 8, 0, 5), rect(6, 8, 10, 15)
    all_50 = map_with((big, 10), (b, 100), (c, 50))
    only_49 = map_with((first_pixels(big, 49), 10), (b, 100), (c, 50))
    assert sor_image(stack(big, b, c), ranks, all_50, coverage=0.98) == approx(-0.5)
    assert sor_image(stack(big, b, c), ranks, only_49, coverage=0.98) == approx(1.0)
    hundred = rect(0, 10, 0, 10)  # 100 px: more than int(98.0) = 98 → 99 suffice
    two = stack(hundred, rect(0, 2, 12, 17))
    other = (rect(0, 2, 12, 17), 200)
    assert sor_image(two, np.array([1, 2]), map_with((first_pixels(hundred, 99), 10), other),
                     coverage=0.98) == approx(-1.0)
    assert sor_image(two, np.array([1, 2]), map_with((first_pixels(hundred, 98), 10), other),
                     coverage=0.98) == approx(1.0)


def test_partial_coverage_changes_rho_between_profiles():
    """§3.5: a partly covered, mis-ranked object counts under T = 0.5 but not under 0.98."""
    ranks = np.array([1, 2, 3])
    rank_map = map_with((A, 150), (first_pixels(B, 6), 250), (C, 50))
    assert sor_image(stack(A, B, C), ranks, rank_map, coverage=0.5) == approx(0.5)
    assert sor_image(stack(A, B, C), ranks, rank_map, coverage=0.98) == approx(1.0)


def test_gt_ties_are_rejected():
    with pytest.raises(ValueError, match="unique"):
        sor_image(stack(A, B), np.array([1, 1]), np.zeros((H, W), np.uint8), coverage=0.5)


# ------------------------------------------------------------------------------- SA-SOR


def test_sa_sor_perfect_and_iou_equal_to_threshold_matches():
    gt, ranks = stack(A, B, C), np.array([1, 2, 3])
    scores = np.array([0.9, 0.5, 0.1])
    assert sa_sor_image(gt, ranks, gt, scores, iou=0.5) == approx(1.0)
    exactly_half = first_pixels(A, 5)  # IoU 5 / 10 = 0.5 → matches at threshold 0.5
    below = exactly_half | rect(9, 10, 19, 20)  # IoU 5 / 11 < 0.5 → unmatched
    assert sa_sor_image(gt, ranks, stack(exactly_half, B, C), scores, iou=0.5) == 1.0
    # unmatched A → q = [0, 2, 1] against g = [3, 2, 1]: Pearson = −0.5
    assert sa_sor_image(gt, ranks, stack(below, B, C), scores, iou=0.5) == approx(-0.5)
    assert sa_sor_image(gt, ranks, stack(below, B, C), scores, iou=0.1) == approx(1.0)
    tenth = first_pixels(A, 1)  # IoU 1 / 10 = 0.1 → matches at threshold 0.1
    assert sa_sor_image(gt, ranks, stack(tenth, B, C), scores, iou=0.1) == approx(1.0)


def test_sa_sor_min_rank_ties_in_scores():
    gt, ranks = stack(A, B, C), np.array([1, 2, 3])
    # q = min-rank of [0.5, 0.5, 0.1] = [2, 2, 1]; Pearson([3,2,1],[2,2,1]) = 1/√(4/3)
    value = sa_sor_image(gt, ranks, gt, np.array([0.5, 0.5, 0.1]), iou=0.5)
    assert value == approx(math.sqrt(3) / 2)


def test_sa_sor_n_less_than_m_quirk_shifts_scores():
    gt, ranks = stack(A, B, C), np.array([1, 2, 3])
    extra1, extra2 = rect(0, 2, 10, 15), rect(3, 5, 10, 15)  # false positives
    preds = stack(A, B, extra1, extra2)
    scores = np.array([0.9, 0.2, 0.5, 0.6])
    # N = 3 < M = 4: the extras' scores join the ranking → q = [4, 1, 0]; p = 12 / √156
    value = sa_sor_image(gt, ranks, preds, scores, iou=0.5)
    assert value == approx(12 / math.sqrt(156))
    # N = M = 3 with a false positive: nothing appended → q = [2, 1, 0] → p = 1
    value = sa_sor_image(gt, ranks, stack(A, B, extra1), np.array([0.9, 0.2, 0.99]), iou=0.5)
    assert value == approx(1.0)


def test_sa_sor_zero_variance_counts_as_zero_and_single_gt_is_excluded():
    gt, ranks = stack(A, B, C), np.array([1, 2, 3])
    assert sa_sor_image(gt, ranks, stack(), np.zeros(0), iou=0.5) == 0.0  # empty prediction
    far = rect(9, 10, 10, 20)
    assert sa_sor_image(gt, ranks, stack(far), np.array([1.0]), iou=0.5) == 0.0  # all missed
    assert sa_sor_image(stack(A), np.array([1]), stack(A), np.array([1.0]), iou=0.5) is None


def test_greedy_match_rules():
    # a GT's best prediction, below threshold → −1
    assert greedy_match(np.array([[0.4, 0.3], [0.2, 0.1]]), 0.5).tolist() == [-1, -1]
    # equal IoUs in a row: the highest prediction index
    assert greedy_match(np.array([[0.6, 0.6], [0.0, 0.0]]), 0.5).tolist() == [1, -1]
    # two GTs claim prediction 0: the larger IoU keeps it; on a tie the later GT
    assert greedy_match(np.array([[0.6, 0.2], [0.7, 0.1]]), 0.5).tolist() == [-1, 0]
    assert greedy_match(np.array([[0.6], [0.6]]), 0.5).tolist() == [-1, 0]
    # N < M: unclaimed predictions appended in index order
    assert greedy_match(np.array([[0.0, 0.9, 0.0]]), 0.5).tolist() == [1, 0, 2]


def test_iou_is_computed_in_float32_like_calc_iou():
    # counts and division in float32: 4 500 000 / 45 000 001 < 0.1 exactly, but the float32
    # pipeline yields 0.1000000015 ≥ 0.1, so the reference (and we) match the pair
    inter, area = np.array([[4_500_000]]), 45_000_001 - 4_500_000
    iou = float32_iou(inter, np.array([4_500_000]), np.array([area + 4_500_000]))
    assert 4_500_000 / 45_000_001 < 0.1 <= iou[0, 0]
    assert greedy_match(iou, 0.1).tolist() == [0]


# ----------------------------------------------------------------------------------- MAE


def test_rank_map_mae_and_adaptive_mae_by_hand():
    gt = np.array([[255, 0], [0, 0]], dtype=np.uint8)
    pred = np.array([[0, 0], [0, 255]], dtype=np.uint8)
    assert rank_map_mae(gt, pred) == approx(0.5)
    assert adaptive_mae(gt, pred) == approx(0.5 * 1.0 + 0.5 * (1 / 3))
    empty_gt = np.zeros((2, 2), np.uint8)
    pred = np.array([[51, 0], [0, 0]], dtype=np.uint8)
    assert rank_map_mae(empty_gt, pred) == approx(0.05)
    assert adaptive_mae(empty_gt, pred) == approx(0.025)  # no foreground → term 0
    full = np.full((2, 2), 255, np.uint8)
    assert adaptive_mae(full, np.zeros((2, 2), np.uint8)) == approx(0.5)  # no background


def test_mae_matches_float32_reference_formula():
    rng = np.random.default_rng(3)
    for _ in range(5):
        gt = np.where(rng.random((64, 128)) < 0.3, rng.integers(1, 256, (64, 128)), 0)
        gt = gt.astype(np.uint8)
        pred = rng.integers(0, 256, (64, 128)).astype(np.uint8)
        g, p = gt.astype(np.float32) / 255.0, pred.astype(np.float32) / 255.0
        err = np.abs(p - g)
        assert rank_map_mae(gt, pred) == approx(float(err.mean()), abs=1e-6)
        reference = 0.5 * err[g > 0].mean() + 0.5 * err[g == 0].mean()
        assert adaptive_mae(gt, pred) == approx(float(reference), abs=1e-6)


def test_sphere_weighted_mae_discounts_polar_rows():
    weights = solid_angle_weights(H, W)
    gt = np.zeros((H, W), np.uint8)
    polar, equator = gt.copy(), gt.copy()
    polar[0, :5] = 255
    equator[H // 2, :5] = 255
    assert rank_map_mae(gt, polar) == rank_map_mae(gt, equator)
    assert rank_map_mae(gt, polar, row_weights=weights) < rank_map_mae(gt, equator,
                                                                       row_weights=weights)
    uniform = np.ones((H, 1))
    assert rank_map_mae(gt, polar, row_weights=uniform) == approx(rank_map_mae(gt, polar))


def test_irsr_mae_values_and_overwrite_order():
    g0, g1 = rect(0, 1, 0, 1, h=2, w=2), rect(1, 2, 1, 2, h=2, w=2)
    # GT values (N + 1 − rank) / N = [1.0, 0.5]; one prediction on g0 with value 1/1
    assert irsr_mae(np.stack([g0, g1]), np.array([1, 2]), np.stack([g0]),
                    np.array([0.3])) == approx(0.5 / 4)
    # two predictions on g0: values 2/2 and 1/2; the later one (0.5) overwrites the pixel
    value = irsr_mae(np.stack([g0, g1]), np.array([1, 2]), np.stack([g0, g0]),
                     np.array([0.9, 0.1]))
    assert value == approx((0.5 + 0.5) / 4)
    assert irsr_mae(np.stack([g0, g1]), np.array([1, 2]), np.zeros((0, 2, 2), bool),
                    np.zeros(0)) == approx(1.5 / 4)


# ------------------------------------------------------------------------------- SeqRank


def test_seqrank_sor_and_sa_sor_by_hand():
    gt, ranks = stack(A, B, C), np.array([1, 2, 3])
    # predicted order: B, A, C
    preds, scores = stack(B, A, C), np.array([0.9, 0.5, 0.1])
    # gt ranks [3, 2, 1], pred ranks [2, 3, 1] → Spearman 0.5 → (0.5 + 1) / 2
    assert seqrank_sor(gt, ranks, preds, scores) == approx(0.75)
    assert seqrank_sa_sor(gt, ranks, preds, scores) == approx(0.5)
    # C missed: it is appended with prediction 0 → Pearson([3, 2, 1], [1, 2, 0]) = 0.5
    assert seqrank_sa_sor(gt, ranks, stack(B, A), np.array([0.9, 0.5])) == approx(0.5)
    assert seqrank_sor(gt, ranks, stack(C, B, A), np.array([3.0, 2.0, 1.0])) == 0.0
    assert seqrank_sor(gt, ranks, stack(B), np.array([1.0])) == 1.0  # one pair
    assert math.isnan(seqrank_sor(gt, ranks, stack(), np.zeros(0)))  # no pair
    assert math.isnan(seqrank_sa_sor(stack(A), np.array([1]), stack(A), np.array([1.0])))


def test_seqrank_iou_is_strict_with_epsilon_and_not_exclusive():
    half = first_pixels(A, 5)  # 5 / (10 + 1e-6) < 0.5: no match
    assert math.isnan(seqrank_sor(stack(A, B), np.array([1, 2]), stack(half), np.array([1.0])))
    # two overlapping GTs both take the first matching prediction → constant side → NaN
    g0, g1 = rect(0, 2, 0, 5), rect(0, 2, 0, 6)
    assert math.isnan(seqrank_sor(stack(g0, g1), np.array([1, 2]), stack(g0), np.array([1.0])))


def test_seqrank_mae_and_aggregate():
    assert seqrank_mae(stack(A, B), stack(A, C)) == approx(20 / (H * W))
    assert seqrank_aggregate([1.0, math.nan, 0.5]) == 0.5  # NaN counts as 0
    assert seqrank_aggregate([0.123456]) == 0.1235  # rounded to 4 decimals


# ------------------------------------------------------------------------------ evaluate


def pano(masks: np.ndarray, **fields) -> PanoInstances:
    return PanoInstances(masks=masks, **fields)


def test_evaluate_dataset_sor_images_used_and_mae_over_all_images():
    gt = pano(stack(A, B, C), ranks=[1, 2, 3])
    perfect = pano(stack(A, B, C), scores=[3.0, 2.0, 1.0])
    reversed_ = pano(stack(A, B, C), ranks=[3, 2, 1])
    samples = [("p", gt, perfect), ("r", gt, reversed_), ("e", gt, None)]
    report = evaluate(samples, "irsr")
    s = report.summary
    assert s["images_used"] == 2 and s["n_images"] == 3
    assert s["sor"] == approx(0.5)  # mean ρ of (1, −1) = 0 → (0 + 1) / 2
    assert s["sa_sor"] == approx((1.0 - 1.0 + 0.0) / 3)  # empty prediction counts 0
    gt_map_mean = (255 + 170 + 85) * 10 / 255 / (H * W)
    assert s["mae"] == approx((0 + 2 * (170 * 10 / 255) / (H * W) + gt_map_mean) / 3)
    assert [r["image"] for r in report.per_image] == ["p", "r", "e"]
    assert report.per_image[2]["rho"] is None and report.per_image[2]["n_pred"] == 0


def test_evaluate_profiles_thresholds_and_overrides():
    gt = pano(stack(A, B, C), ranks=[1, 2, 3])
    partial = first_pixels(B, 6)  # IoU with B = 0.6; 60 % coverage
    pred = pano(stack(A, partial, C), scores=[2.0, 3.0, 1.0])
    reports = evaluate_many([(gt, pred)], ["foir360", "irsr"])
    assert reports["foir360"].per_image[0]["rho"] == approx(1.0)  # B dropped at coverage 0.98
    assert reports["irsr"].per_image[0]["rho"] == approx(0.5)
    overridden = evaluate([(gt, pred)], "foir360", coverage=0.5)
    assert overridden.profile.coverage == 0.5 and overridden.profile.iou == 0.1
    assert overridden.per_image[0]["rho"] == approx(0.5)
    assert get_profile("assr").gt_top_k == 5
    with pytest.raises(ValueError, match="unknown metrics profile"):
        get_profile("nope")


def test_assr_profile_uses_only_the_top_five_gt_objects():
    masks = np.stack([rect(0, 2, 3 * i, 3 * i + 2) for i in range(7)])
    gt = pano(masks, ranks=np.arange(1, 8))
    pred = pano(masks, ranks=np.arange(1, 8))
    row = evaluate([(gt, pred)], "assr").per_image[0]
    assert row["n_salient"] == 5 and row["sor_objects"] == 5 and row["rho"] == approx(1.0)
    assert row["mae"] == 0.0  # both maps paint only the top five, identically


def test_evaluate_names_problems_and_keeps_going():
    gt = pano(stack(A, B), ranks=[1, 2])
    unranked = pano(stack(A, B))
    wrong_size = pano(np.zeros((1, 4, 8), bool), scores=[1.0])
    no_order = pano(stack(A))
    samples = [("no-ranks", unranked, None), ("size", gt, wrong_size), ("order", gt, no_order)]
    report = evaluate(samples, "foir360")
    assert report.summary["n_images"] == 2
    assert [r["n_pred"] for r in report.per_image] == [0, 0]
    text = "\n".join(report.problems)
    assert "no-ranks: the GT carries no importance ranks" in text
    assert "size: predicted masks are (4, 8)" in text
    assert "order: prediction has masks but neither ranks nor scores" in text


def test_seqrank_profile_skips_images_without_gt_and_counts_nan_as_zero():
    gt = pano(stack(A, B), ranks=[1, 2])
    empty_gt = pano(stack())  # no objects, so no ranks: still an image to score
    report = evaluate([(gt, pano(stack(A, B), ranks=[1, 2])), (gt, None), (empty_gt, None)],
                      "seqrank")
    s = report.summary
    assert s["n_images"] == 2 and s["sor"] == 0.5 and s["sor_nan_images"] == 1
    assert s["images_used"] is None
    assert evaluate([(empty_gt, None)], "foir360").summary["n_images"] == 1


def test_sphere_weighted_extras_are_reported_separately():
    gt = pano(stack(A, B, C), ranks=[1, 2, 3])
    report = evaluate([(gt, pano(stack(A, B, C), ranks=[1, 3, 2]))], "foir360")
    s = report.summary
    assert s["kendall_tau"] == approx(1 / 3)  # one discordant pair of three
    assert s["sor_sphere"] == approx(s["sor"])  # same modes, same ρ
    assert s["mae_sphere"] != s["mae"]
