"""Local rank collector (Algorithm 1), density (Eq. 6) and Sal-to-Rank scoring: known answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foir360_core.labeling import LocalRanking, collect, collect_local_ranks, density_score
from foir360_core.labeling.collector import margin_weight, transmit_relations, vote_matrix
from foir360_core.labeling.scoring import fuse_and_score, fusion_weights, minmax, object_scores


def order_of(ranks: np.ndarray) -> list[int]:
    return [int(i) for i in np.argsort(ranks)]


def test_single_list_is_the_global_order():
    ranks = collect_local_ranks([LocalRanking([2, 0, 3, 1])], 4)
    assert order_of(ranks) == [2, 0, 3, 1]


def test_overlapping_windows_merge_into_the_known_order():
    truth = [7, 3, 9, 0, 5, 1, 8, 2, 6, 4]
    windows = [truth[i : i + 4] for i in range(0, 7, 2)]
    lists = [LocalRanking(w) for w in reversed(windows)]
    assert order_of(collect_local_ranks(lists, 10)) == truth


def test_transmission_fills_unmet_pairs_through_shared_objects_only():
    votes = vote_matrix([LocalRanking([0, 1, 2]), LocalRanking([2, 3, 4])], 5)
    assert votes[0, 4] == votes[4, 0] == 0
    completed = transmit_relations(votes, decay=0.5)
    assert completed[0, 4] > 0 and completed[4, 0] == 0
    assert completed[0, 3] == pytest.approx(0.5)  # min(C[0,2], C[2,3]) * decay
    met = (votes + votes.T) > 0
    np.testing.assert_array_equal(completed[met], votes[met])  # direct evidence is kept


def test_stronger_votes_win_a_contradiction():
    lists = [LocalRanking([0, 1], weight=1.0), LocalRanking([1, 0], weight=3.0)]
    assert order_of(collect_local_ranks(lists, 2)) == [1, 0]


def test_eq5_margin_makes_a_confident_view_outvote_a_hesitant_one():
    hesitant = LocalRanking([0, 1], scores=[10.0, 9.9])
    confident = LocalRanking([1, 0], scores=[10.0, 1.0])
    assert margin_weight(hesitant.scores) == pytest.approx(0.05)  # floored at min_margin
    assert margin_weight(confident.scores) == pytest.approx(0.9)
    assert order_of(collect_local_ranks([hesitant, hesitant, confident], 2)) == [1, 0]


def test_ties_break_by_net_evidence_then_prior_then_index():
    cycle = [LocalRanking([0, 1]), LocalRanking([1, 2]), LocalRanking([2, 0])]
    assert order_of(collect_local_ranks(cycle, 3)) == [0, 1, 2]
    assert order_of(collect_local_ranks(cycle, 3, prior=[0.1, 0.3, 0.2])) == [1, 2, 0]
    cancelled = [LocalRanking([0, 1]), LocalRanking([1, 0])]
    assert order_of(collect_local_ranks(cancelled, 2, prior=[0.0, 1.0])) == [1, 0]


def test_disconnected_view_graph_and_unseen_objects_still_get_unique_ranks():
    lists = [LocalRanking([2, 0, 1]), LocalRanking([4, 3]), LocalRanking([5])]
    result = collect(lists, 7, prior=[0, 0, 0, 0, 0, 0, 1.0])
    np.testing.assert_array_equal(np.sort(result.ranks), np.arange(1, 8))
    order = order_of(result.ranks)
    assert order.index(2) < order.index(0) < order.index(1)
    assert order.index(4) < order.index(3)
    assert not result.has_evidence[5] and not result.has_evidence[6]
    assert result.win_rate[5] == result.win_rate[6] == 0.5
    # win rate 1.0: 2 (net +2) before 4 (net +1); 0.5, net 0: 6 (prior) then 0 and 5 (index);
    # win rate 0.0: 3 (net -1) before 1 (net -2)
    assert order == [2, 4, 6, 0, 5, 3, 1]
    assert np.array_equal(collect(lists, 7, prior=[0, 0, 0, 0, 0, 0, 1.0]).ranks, result.ranks)


def test_bad_local_lists_are_rejected_clearly():
    with pytest.raises(ValueError, match="only 3 objects"):
        collect_local_ranks([LocalRanking([0, 5])], 3)
    with pytest.raises(ValueError, match="twice"):
        LocalRanking([1, 1])
    with pytest.raises(ValueError, match="scores"):
        LocalRanking([0, 1], scores=[1.0])
    assert collect_local_ranks([], 0).size == 0


@settings(max_examples=40, deadline=None)
@given(st.integers(3, 24), st.integers(2, 6), st.integers(1, 5), st.randoms(use_true_random=False))
def test_consistent_chained_windows_recover_any_true_order(n, width, overlap, rnd):
    """Consistent lists whose windows overlap by >= 1 object pin down the whole order."""
    width = min(width, n)
    overlap = min(overlap, width - 1)
    truth = list(range(n))
    rnd.shuffle(truth)
    starts = list(range(0, n - width + 1, width - overlap))
    if starts[-1] != n - width:
        starts.append(n - width)
    lists = [LocalRanking(truth[s : s + width], weight=rnd.uniform(0.2, 2.0)) for s in starts]
    rnd.shuffle(lists)
    assert order_of(collect_local_ranks(lists, n)) == truth


def disc(height: int, width: int, row: int, col: int, half: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    rows = np.arange(row - half, row + half) % height
    cols = np.arange(col - half, col + half) % width
    mask[np.ix_(rows, cols)] = True
    return mask


def test_density_eq6_by_hand_on_the_equator():
    a = disc(64, 128, 32, 20, 2)  # 16 px, centred on the equator
    b = disc(64, 128, 32, 40, 2)  # 20 px of longitude away
    assert density_score(np.stack([a, b])) == pytest.approx(2 * 1e4 / (20 + 16), rel=1e-6)
    assert density_score(a[None]) == pytest.approx(1e4 / 16)
    assert density_score(np.zeros((0, 64, 128), dtype=bool)) == 0.0


def test_density_measures_across_the_seam_and_rescales_with_reference_width():
    a = disc(64, 128, 32, 2, 2)
    b = disc(64, 128, 32, 124, 2)  # 6 px away across the seam, not 122
    assert density_score(np.stack([a, b])) == pytest.approx(2 * 1e4 / (6 + 16), rel=1e-6)
    big = np.stack([disc(128, 256, 64, 4, 4), disc(128, 256, 64, 248, 4)])
    assert density_score(big, reference_width=128) == pytest.approx(
        density_score(np.stack([a, b])), rel=1e-6)


def test_reductions_on_a_known_map():
    sal = np.array([[0.0, 1.0, 0.5, 0.5]], dtype=np.float32)
    masks = np.array([[[True, True, False, False]], [[False, False, True, True]]])
    np.testing.assert_allclose(object_scores(sal, masks, "sum"), [1.0, 1.0])
    np.testing.assert_allclose(object_scores(sal, masks, "max"), [1.0, 0.5])
    np.testing.assert_allclose(object_scores(sal, masks, "mean"), [0.5, 0.5])
    # mean_x: threshold = mean of object means = 0.5; white = {1, 0.5, 0.5}
    np.testing.assert_allclose(object_scores(sal, masks, "mean_x"),
                               [0.5 * np.sqrt(0.5), 1.0 * np.sqrt(0.5)])
    np.testing.assert_allclose(minmax(np.array([2.0, 4.0, 3.0])), [0.0, 1.0, 0.5])
    assert not minmax(np.full((3, 3), 7.0)).any()


def test_ple_trusts_the_model_that_separates_the_top_objects():
    masks = np.array([[[True, False, False]], [[False, True, False]], [[False, False, True]]])
    sharp = np.array([[1.0, 0.0, 0.2]], dtype=np.float32)  # gap 0.8 between top two
    blunt = np.array([[0.5, 0.6, 0.55]], dtype=np.float32)  # gap 0.05, prefers object 1
    scores, fused, weights = fuse_and_score([sharp, blunt], masks, "sum")
    np.testing.assert_allclose(weights, [0.8 / 0.85, 0.05 / 0.85], rtol=1e-5)
    assert int(np.argmax(scores)) == 0
    np.testing.assert_allclose(fusion_weights([np.zeros(3), np.zeros(3)]), [0.5, 0.5])
    assert fused.min() >= 0.0 and fused.max() <= 1.0
