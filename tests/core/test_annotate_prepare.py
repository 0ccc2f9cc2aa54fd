"""What the annotation page shows: seam-free roll, hit-test maps, sparse/dense, sub-windows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from foir360_core.annotate.prepare import (
    WindowOptions,
    choose_roll,
    components,
    index_map,
    label_points,
    plan_windows,
    prepare_panorama,
    visible_fraction,
)
from foir360_core.geometry import ViewGeometry, lonlat_to_pixel, solid_angle_weights, view_to_erp
from foir360_core.structures import PanoInstances

H, W = 64, 128


def box(y: int, x: int, h: int, w: int, *, height: int = H, width: int = W) -> np.ndarray:
    """A rectangle mask; columns wrap around the seam like the panorama does."""
    mask = np.zeros((height, width), dtype=bool)
    mask[y : y + h, np.arange(x, x + w) % width] = True
    return mask


def crosses_seam(mask: np.ndarray) -> bool:
    return bool(mask[:, 0].any() and mask[:, -1].any())


def test_roll_moves_the_widest_gap_onto_the_seam() -> None:
    # One object across the seam, others leaving a wide gap at columns 40..89.
    masks = np.stack([box(20, 120, 10, 16), box(30, 20, 8, 20), box(25, 90, 8, 10)])
    assert crosses_seam(masks[0])
    roll = choose_roll(masks)
    rolled = np.roll(masks, roll, axis=2)
    assert not any(crosses_seam(m) for m in rolled)
    empty = ~rolled.any(axis=(0, 1))
    # The gap (50 columns) is now split over both edges, about half on each side.
    assert empty[:20].all() and empty[-20:].all()


def test_roll_when_every_column_is_occupied_cuts_the_thinnest_column() -> None:
    band = box(30, 0, 2, W)  # a thin ring around the horizon: always cut somewhere
    tall = box(10, 50, 40, 30)
    masks = np.stack([band, tall])
    rolled = np.roll(masks, choose_roll(masks), axis=2)
    assert not crosses_seam(rolled[1])


def test_roll_of_no_objects_is_zero() -> None:
    assert choose_roll(np.zeros((0, H, W), dtype=bool)) == 0


def test_index_map_puts_the_smaller_object_on_top_and_labels_inside() -> None:
    big, small = box(10, 10, 40, 60), box(20, 20, 10, 10)
    index = index_map(np.stack([big, small]), [0, 1])
    assert index[25, 25] == 2 and index[12, 12] == 1 and index[0, 0] == 0
    points = label_points(index, [0, 1])
    for k, (x, y) in points.items():
        assert index[y, x] == k + 1
    # The label of the big object avoids the hole the small one makes in it.
    x, y = points[0]
    assert not small[y, x]


def test_object_hidden_under_smaller_ones_gets_no_label_point() -> None:
    whole = box(10, 10, 10, 10)
    left, right = box(10, 10, 10, 5), box(10, 15, 10, 5)
    index = index_map(np.stack([whole, left, right]), [0, 1, 2])
    assert 0 not in label_points(index, [0, 1, 2])


def test_sparse_panorama_is_rolled_and_keeps_every_object() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    masks = np.stack([box(20, 124, 10, 8), box(30, 40, 8, 10)])
    prepared = prepare_panorama(image, PanoInstances(masks), dense_threshold=1e9)
    assert prepared.mode == "sparse" and len(prepared.surfaces) == 1
    surface = prepared.surfaces[0]
    np.testing.assert_array_equal(surface.image, np.roll(image, prepared.roll_columns, axis=1))
    assert math.isclose(prepared.yaw_deg, prepared.roll_columns * 360 / W)
    assert sorted(np.unique(surface.index_map)) == [0, 1, 2]
    assert not crosses_seam(surface.index_map == 1)


def test_density_threshold_decides_the_mode() -> None:
    image = np.zeros((H, W, 3), np.uint8)
    instances = PanoInstances(np.stack([box(20, 10 * i, 8, 6) for i in range(8)]))
    low = prepare_panorama(image, instances, dense_threshold=1e9)
    high = prepare_panorama(image, instances, dense_threshold=0.0)
    assert low.mode == "sparse" and high.mode == "dense"
    assert low.density == high.density > 0


def test_density_is_measured_at_a_reference_width() -> None:
    """The same scene at two resolutions gets about the same score."""
    small = PanoInstances(np.stack([box(20, 10 * i, 8, 6) for i in range(6)]))
    big = PanoInstances(np.stack([box(40, 20 * i, 16, 12, height=2 * H, width=2 * W)
                                  for i in range(6)]))
    a = prepare_panorama(np.zeros((H, W, 3), np.uint8), small).density
    b = prepare_panorama(np.zeros((2 * H, 2 * W, 3), np.uint8), big).density
    assert a == pytest.approx(b, rel=0.05)


def test_bad_input_is_rejected_with_a_reason() -> None:
    image = np.zeros((H, W, 3), np.uint8)
    with pytest.raises(ValueError, match="different image"):
        prepare_panorama(image, PanoInstances(np.zeros((1, H // 2, W // 2), bool)))
    with pytest.raises(ValueError, match="no objects"):
        prepare_panorama(image, PanoInstances(np.zeros((0, H, W), bool)))


def ring_of_objects(n: int, height: int = 128) -> PanoInstances:
    """n small objects evenly around the horizon of a (height, 2*height) panorama."""
    width = 2 * height
    masks = []
    for i in range(n):
        u, v = lonlat_to_pixel(2 * math.pi * i / n - math.pi + 0.1, 0.0, height, width)
        masks.append(box(int(v) - 3, int(u) - 3, 6, 6, height=height, width=width))
    return PanoInstances(np.stack(masks))


def test_dense_windows_overlap_and_link_every_object() -> None:
    instances = ring_of_objects(18)
    windows, unseen = plan_windows(instances, WindowOptions(count=6, width=64, height=48))
    assert unseen == ()
    members = [m for _, m in windows]
    assert set().union(*map(set, members)) == set(range(18))
    assert len(components(18, members)) == 1
    # Neighbouring ring windows share objects: the collector's "transfer bridges".
    assert all(set(members[i]) & set(members[(i + 1) % 6]) for i in range(6))


def test_object_near_the_pole_gets_a_window_centred_on_it() -> None:
    base = ring_of_objects(12)
    height, width = base.image_size
    polar = box(2, 60, 6, 40, height=height, width=width)
    instances = PanoInstances(np.concatenate([base.masks, polar[None]]))
    windows, unseen = plan_windows(instances, WindowOptions(count=6, width=64, height=48))
    assert unseen == ()
    holders = [(g, m) for g, m in windows if 12 in m]
    # One bridging window, between the polar object and its nearest neighbour.
    assert len(holders) == 1 and len(holders[0][1]) >= 2
    assert holders[0][0].lat > math.radians(20)
    assert len(components(13, [m for _, m in windows])) == 1


def test_dense_surfaces_show_only_their_members() -> None:
    instances = ring_of_objects(12)
    image = np.zeros((*instances.image_size, 3), np.uint8)
    prepared = prepare_panorama(image, instances, dense_threshold=0.0,
                                windows=WindowOptions(count=6, width=64, height=48))
    assert prepared.mode == "dense" and prepared.components == 1
    for surface in prepared.surfaces:
        shown = set(np.unique(surface.index_map).tolist()) - {0}
        assert shown <= {k + 1 for k in surface.objects}
        assert surface.image.shape == (48, 64, 3)
        assert set(surface.label_points) <= set(surface.objects)


def test_visible_fraction_matches_the_covered_part_of_the_sphere() -> None:
    """The view-space estimate (view pixels weighted by their solid angle) agrees with the
    exact one (ERP pixels inside the view's footprint, weighted by theirs)."""
    height, width = 256, 512
    masks = np.stack([box(110, 230, 30, 50, height=height, width=width),   # whole in view
                      box(100, 300, 40, 80, height=height, width=width),   # cut by the edge
                      box(60, 240, 30, 40, height=height, width=width),    # high, partly out
                      box(120, 10, 20, 20, height=height, width=width)])   # behind
    instances = PanoInstances(masks)
    geom = ViewGeometry(math.radians(10.0), 0.0, 90.0, 640, 480)
    _, covered = view_to_erp(np.zeros((480, 640), np.uint8), geom, (height, width))
    weights = solid_angle_weights(height, width)[:, 0]
    exact = (masks & covered).sum(axis=2) @ weights / (masks.sum(axis=2) @ weights)
    estimate = visible_fraction(instances, geom)
    assert exact[0] == pytest.approx(1.0) and exact[3] == 0.0
    assert 0.1 < exact[1] < 0.9 and 0.1 < exact[2] < 0.9
    np.testing.assert_allclose(estimate, exact, atol=0.03)
