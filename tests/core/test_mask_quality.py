"""Mask plausibility measures: seam-aware components and the polar share."""

from __future__ import annotations

import numpy as np

from foir360_core.geometry.components import seam_components, seam_labels
from foir360_core.metrics.mask_quality import fragmented_share, polar_share


def test_object_across_the_seam_is_one_component():
    mask = np.zeros((20, 40), bool)
    mask[8:12, :3] = True
    mask[8:12, -4:] = True
    assert seam_components(mask) == 1


def test_diagonal_touch_across_the_seam_joins():
    mask = np.zeros((20, 40), bool)
    mask[5, 0] = True
    mask[6, -1] = True
    assert seam_components(mask) == 1


def test_four_connectivity_parts_touch_only_by_edges_also_across_the_seam():
    mask = np.zeros((20, 40), bool)
    mask[5, 0] = mask[6, -1] = True  # a corner contact across the seam
    mask[10, 10] = mask[11, 11] = True  # a corner contact inside
    mask[15, 0] = mask[15, -1] = True  # an edge contact across the seam
    assert seam_labels(mask, connectivity=4)[1] == 5
    assert seam_labels(mask)[1] == 3


def test_separate_pieces_are_counted():
    mask = np.zeros((20, 40), bool)
    mask[2:4, 10:12] = True
    mask[10:12, 20:22] = True
    mask[15, 0] = True  # touches nothing on the right border
    assert seam_components(mask) == 3
    assert seam_components(np.zeros((4, 8), bool)) == 0


def test_fragmented_share_counts_instances_with_pieces():
    whole = np.zeros((20, 40), bool)
    whole[5:9, 5:9] = True
    split = whole.copy()
    split[15:17, 30:33] = True
    assert fragmented_share(np.stack([whole, split, whole, whole])) == 0.25
    assert fragmented_share(np.zeros((0, 4, 8), bool)) == 0.0


def test_polar_share_counts_top_and_bottom_fifth_rows():
    masks = np.zeros((2, 10, 20), bool)
    masks[0, 0, :10] = True      # 10 px in the top fifth (rows 0-1)
    masks[1, 9, :5] = True       # 5 px in the bottom fifth (rows 8-9)
    masks[1, 5, :25 % 20] = True  # 5 px in the middle
    assert polar_share(masks) == 15 / 20
    assert polar_share(np.zeros((0, 10, 20), bool)) == 0.0

