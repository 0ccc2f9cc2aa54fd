"""Rank numbers on the overlay never touch, at any image size (touching "1" "7" reads "17")."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from foir360_core.runtime.overlay import draw_ranked_overlay, label_points, rank_labels
from foir360_core.structures import PanoInstances


def crowded(height: int) -> PanoInstances:
    """Twelve narrow objects side by side, plus one across the seam; ranks interleaved so
    that 1 sits beside 7 and 10 beside 12."""
    width = 2 * height
    masks = np.zeros((13, height, width), dtype=bool)
    column = max(2, width // 64)
    for k in range(12):
        x = width // 3 + k * column
        masks[k, height // 2 - height // 10: height // 2 + height // 10, x: x + column] = True
    masks[12, height // 4: height // 3, :column] = True
    masks[12, height // 4: height // 3, -column:] = True
    ranks = np.array([1, 7, 2, 9, 10, 12, 11, 3, 8, 4, 5, 6, 13])
    return PanoInstances(masks=masks, ranks=ranks)


def overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("height", [32, 64, 128, 512, 1024])
def test_rank_numbers_never_overlap(height: int) -> None:
    instances = crowded(height)
    width = 2 * height
    masks = list(instances.masks)
    scale = max(0.45, height / 900.0)
    anchors = [p for m in masks for p in label_points(m)]
    # The scene is the hard case: numbers centred on their anchors would overlap.
    naive = []
    for (x, y), rank in zip(anchors, [r for m, r in zip(masks, instances.ranks, strict=True)
                                      for _ in label_points(m)], strict=True):
        (tw, th), _ = cv2.getTextSize(str(rank), cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        naive.append((x - tw // 2, y - th // 2, x + tw // 2, y + th // 2))
    assert any(overlaps(a, b) for a, b in itertools.combinations(naive, 2))

    band = (0, height - 10, width, height)
    labels, used = rank_labels(instances, masks, (height, width), scale, [band])
    assert len(anchors) == 14  # the seam object has two parts
    if height >= 64:  # below, 14 numbers do not fit even at the smallest size: some are left out
        assert sorted(int(label.text) for label in labels) == sorted([*range(1, 14), 13])
    else:
        assert [label.text for label in labels[:3]] == ["1", "2", "3"]  # the first come first
    for a, b in itertools.combinations([label.box for label in labels], 2):
        assert not overlaps(a, b), (a, b)
    for label in labels:
        x0, y0, x1, y1 = label.box
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        assert not overlaps(label.box, band)
    assert used <= scale and any(label.moved for label in labels)
    out = draw_ranked_overlay(np.zeros((height, width, 3), np.uint8), instances, title="t")
    assert out.shape == (height, width, 3)
