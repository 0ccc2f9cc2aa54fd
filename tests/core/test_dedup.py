"""Duplicate suppression: each object once, judged by mask IoU on the sphere."""

from __future__ import annotations

import numpy as np
import pytest

from foir360_core.models.postprocess import outputs_to_instances
from foir360_core.structures.dedup import spherical_iou, suppress_duplicates

H, W = 64, 128


def _box(top: int, bottom: int, left: int, right: int) -> np.ndarray:
    """A mask from columns left..right-1, wrapping across the seam when left > right."""
    mask = np.zeros((H, W), dtype=bool)
    if left <= right:
        mask[top:bottom, left:right] = True
    else:
        mask[top:bottom, left:] = True
        mask[top:bottom, :right] = True
    return mask


def test_iou_is_weighted_by_solid_angle():
    """Two masks sharing one polar row and one equator row: the equator row weighs more."""
    polar_row, equator_row = _box(0, 1, 0, 10), _box(32, 33, 0, 10)
    both = polar_row | equator_row
    iou = spherical_iou(np.stack([both, equator_row]))
    assert iou[0, 0] == pytest.approx(1.0)
    # Pixel IoU would be 0.5; the equator row holds almost all of the solid angle.
    assert iou[0, 1] > 0.95


def test_a_duplicate_across_the_seam_is_dropped_and_the_better_score_kept():
    wrapped = _box(20, 40, W - 10, 10)  # 20 columns straddling the seam
    shifted = _box(20, 40, W - 8, 12)  # the same object, 2 columns to the east: IoU 0.82
    elsewhere = _box(20, 40, 50, 70)
    masks = np.stack([wrapped, shifted, elsewhere])
    assert spherical_iou(masks)[0, 1] == pytest.approx(18 / 22, abs=0.01)
    np.testing.assert_array_equal(suppress_duplicates(masks, [0.6, 0.9, 0.5], 0.5), [1, 2])
    np.testing.assert_array_equal(suppress_duplicates(masks, [0.9, 0.6, 0.5], 0.5), [0, 2])


def test_overlap_below_the_threshold_is_two_objects_and_one_turns_it_off():
    left, right = _box(20, 40, 10, 30), _box(20, 40, 20, 40)  # IoU 1/3
    masks = np.stack([left, right])
    np.testing.assert_array_equal(suppress_duplicates(masks, [0.5, 0.9], 0.5), [0, 1])
    np.testing.assert_array_equal(suppress_duplicates(masks, [0.5, 0.9], 0.3), [1])
    same = np.stack([left, left])
    np.testing.assert_array_equal(suppress_duplicates(same, [0.5, 0.9], 1.0), [0, 1])


def test_full_resolution_masks_and_tiny_duplicates_are_measured_exactly():
    big = np.zeros((3, 1024, 2048), dtype=bool)
    big[0, 300:500, 100:400] = True
    big[1, 300:500, 150:450] = True  # IoU 250/350 (same rows: the weights cancel)
    big[2, 700, 1000] = True  # one pixel
    iou = spherical_iou(big)
    assert iou[0, 1] == pytest.approx(250 / 350, rel=1e-9)
    assert iou[0, 2] == iou[1, 2] == 0.0
    tiny = np.stack([big[2], big[2]])
    np.testing.assert_array_equal(suppress_duplicates(tiny, [0.4, 0.6], 0.5), [1])


def test_mismatched_scores_are_refused():
    with pytest.raises(ValueError, match="2 masks but 1 scores"):
        suppress_duplicates(np.zeros((2, H, W), bool), [0.5], 0.5)


def test_post_processing_publishes_each_object_once():
    """Two confident queries on one seam-crossing object and one elsewhere: two instances,
    the more probable copy kept; with suppression off, three."""
    logits = np.full((3, 16, 32), -8.0, dtype=np.float32)
    logits[0, 5:10, 29:] = logits[0, 5:10, :3] = 8.0  # wraps across the seam
    logits[1, 5:10, 29:] = logits[1, 5:10, :4] = 8.0  # the same object, one column wider
    logits[2, 5:10, 12:18] = 8.0
    class_logits = np.array([[2.0, -2.0], [4.0, -4.0], [3.0, -3.0]], dtype=np.float32)
    outputs = {"class_logits": class_logits, "mask_logits": logits,
               "rank_scores": np.array([3.0, 2.0, 1.0])}
    kept = outputs_to_instances(outputs, rank_head="sequential", out_size=(H, W), dedup_iou=1.0)
    assert len(kept) == 2
    # The copies are told apart by their class score: softmax([4, -4]) vs softmax([2, -2]).
    scores = sorted(np.round(kept.class_scores, 4).tolist())
    assert scores == [round(1 / (1 + np.exp(-6.0)), 4), round(1 / (1 + np.exp(-8.0)), 4)]
    everything = outputs_to_instances(outputs, rank_head="sequential", out_size=(H, W),
                                      dedup_iou=1.0, duplicate_iou=1.0)
    assert len(everything) == 3


def test_longitude_major_masks_give_the_same_iou():
    """The runtime's masks are longitude-major views (RLE layout); they are measured over
    the columns each pair shares, and must measure exactly as row-major copies do."""
    rng = np.random.default_rng(5)
    masks = rng.random((5, H, W)) < 0.3
    lon_major = np.ascontiguousarray(masks.transpose(0, 2, 1)).transpose(0, 2, 1)
    assert not lon_major.flags.c_contiguous
    np.testing.assert_array_equal(spherical_iou(lon_major), spherical_iou(masks))
