"""One-to-one IoU matching (training recall, replay rank stability)."""

import numpy as np

from foir360_core.metrics.matching import one_to_one_matches
from foir360_core.structures import PanoInstances
from foir360_core.training.validate import matched_count


def test_assignment_beats_greedy_and_threshold_is_inclusive():
    # Greedy would give row 0 its best column 0 (0.6) and leave row 1 with 0.1;
    # the assignment pairs (0, 1) and (1, 0) for a larger total.
    iou = np.array([[0.6, 0.5], [0.5, 0.1]])
    rows, cols = one_to_one_matches(iou, 0.5)
    assert sorted(zip(rows.tolist(), cols.tolist(), strict=True)) == [(0, 1), (1, 0)]
    rows, _ = one_to_one_matches(iou, 0.51)
    assert rows.size == 0  # both assigned pairs sit at exactly 0.5


def test_empty_sides_give_no_pairs():
    for shape in ((0, 3), (2, 0), (0, 0)):
        rows, cols = one_to_one_matches(np.zeros(shape), 0.5)
        assert rows.size == 0 and cols.size == 0


def test_matched_count_counts_each_object_once():
    masks = np.zeros((2, 8, 16), bool)
    masks[0, :4, :4] = True
    masks[1, 4:, 8:] = True
    gt = PanoInstances(masks, ranks=[1, 2])
    duplicate = PanoInstances(np.stack([masks[0], masks[0], masks[1]]), scores=[3.0, 2.0, 1.0])
    assert matched_count(gt, duplicate) == 2
    assert matched_count(gt, PanoInstances(masks[:1], scores=[1.0])) == 1
    assert matched_count(gt, PanoInstances(np.zeros((0, 8, 16), bool))) == 0
