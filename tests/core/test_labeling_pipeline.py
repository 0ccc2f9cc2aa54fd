"""LVRC + LIE + LRC + PLE on constructed panoramas whose right answer is known.

The saliency model here is the image brightness, so on a black panorama with discs of
different grey levels the importance order is the brightness order, in every view, after
every erasure, and globally — for the fast and the exact erasure, top-1 and top-K.
"""

from __future__ import annotations

import numpy as np
import pytest

from foir360_core.geometry import lonlat_grid
from foir360_core.labeling import (
    LabelConfig,
    LabelingError,
    OpenCVInpainter,
    PseudoLabeler,
    density_score,
)
from foir360_core.structures import PanoInstances

H, W = 128, 256


class Brightness:
    """A saliency model whose response is a known function of the scene: its grey level."""

    name = "brightness"

    def __call__(self, image_rgb: np.ndarray) -> np.ndarray:
        return image_rgb.astype(np.float32).mean(axis=2)


class Flat:
    """A saliency model with no signal at all (PLE must give it weight 0)."""

    name = "flat"

    def __call__(self, image_rgb: np.ndarray) -> np.ndarray:
        return np.ones(image_rgb.shape[:2], dtype=np.float32)


def cap(lon_deg: float, lat_deg: float, radius_deg: float) -> np.ndarray:
    """A spherical disc on the ERP grid (correct across the seam and near the poles)."""
    lon, lat = lonlat_grid(H, W)
    lon0, lat0 = np.radians(lon_deg), np.radians(lat_deg)
    cos_d = (np.sin(lat)[:, None] * np.sin(lat0)
             + np.cos(lat)[:, None] * np.cos(lat0) * np.cos(lon[None, :] - lon0))
    return cos_d >= np.cos(np.radians(radius_deg))


# (lon, lat): a chain of discs ~30° apart, crossing the seam and ending at the north pole.
# Greys fall along the chain, so neighbouring views overlap by one object and the local
# orders pin down the whole order (Algorithm 1 must recover it exactly).
CHAIN = [(150, 0), (180, 0), (-150, 0), (-120, 0), (-90, 10), (-60, 0), (-30, 0), (0, 0),
         (30, 25), (40, 60), (60, 80)]
GREYS = [250, 235, 220, 205, 190, 175, 160, 145, 130, 115, 100]
SCENE = [(lon, lat, grey) for (lon, lat), grey in zip(CHAIN, GREYS, strict=True)]
SEAM, POLE = 1, 10


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, PanoInstances, list[int]]:
    image = np.zeros((H, W, 3), dtype=np.uint8)
    masks = np.stack([cap(lon, lat, 8.0) for lon, lat, _ in SCENE])
    for mask, (_, _, grey) in zip(masks, SCENE, strict=True):
        image[mask] = grey
    truth = [int(i) for i in np.argsort([-g for _, _, g in SCENE])]
    return image, PanoInstances(masks=masks), truth


def labeler(**config) -> PseudoLabeler:
    base = {"reduction": "mean", "view_size": 96, "er": 2, "min_fov_deg": 90.0}
    return PseudoLabeler([Brightness()], OpenCVInpainter("telea"),
                         LabelConfig(**{**base, **config}))


def order_of(ranks: np.ndarray) -> list[int]:
    return [int(i) for i in np.argsort(ranks)]


@pytest.mark.parametrize("mode", ["fast", "exact"])
@pytest.mark.parametrize("topk", [1, 3])
def test_brightness_scene_gives_the_brightness_order(scene, mode, topk):
    image, instances, truth = scene
    result = labeler(mode=mode, topk=topk).label(image, instances)
    np.testing.assert_array_equal(np.sort(result.ranks), np.arange(1, len(SCENE) + 1))
    assert order_of(result.ranks) == truth
    for view in result.views:  # every local order agrees with the truth too
        local = list(view.ranking.objects)
        assert local == sorted(local, key=truth.index)
    assert result.ranks[SEAM] == 2  # the seam-crossing disc is the second brightest
    assert result.ranks[POLE] == len(SCENE)  # the polar disc is the dimmest


def test_views_overlap_so_that_every_object_is_compared(scene):
    image, instances, _ = scene
    result = labeler().label(image, instances)
    assert len(result.views) == len(SCENE)
    assert all(v.target in v.ranking.objects for v in result.views)
    seen_with_others = {o for v in result.views if len(v.ranking.objects) > 1
                        for o in v.ranking.objects}
    assert seen_with_others == set(range(len(SCENE)))
    seam_view = result.views[SEAM]
    assert set(seam_view.ranking.objects) == {0, 1, 2}  # neighbours on both sides of the seam


def test_call_counts_fast_is_one_inpainting_per_view(scene):
    image, instances, _ = scene
    fast = labeler(mode="fast").label(image, instances)
    exact = labeler(mode="exact").label(image, instances)
    sizes = [len(v.ranking.objects) for v in fast.views]
    assert sizes == [len(v.ranking.objects) for v in exact.views]
    assert fast.counters.saliency_calls == sum(max(k - 1, 0) for k in sizes)
    assert exact.counters.saliency_calls == fast.counters.saliency_calls
    assert fast.counters.inpaint_calls == sum(k >= 3 for k in sizes)
    assert exact.counters.inpaint_calls == sum(max(k - 2, 0) for k in sizes)
    topk = labeler(mode="exact", topk=3).label(image, instances)
    assert topk.counters.saliency_calls < exact.counters.saliency_calls


def test_ple_ignores_a_model_without_signal(scene):
    image, instances, truth = scene
    fused = PseudoLabeler([Flat(), Brightness()], OpenCVInpainter("telea"),
                          LabelConfig(reduction="mean", view_size=96, er=2))
    result = fused.label(image, instances)
    assert order_of(result.ranks) == truth
    single = labeler().label(image, instances)
    assert result.counters.saliency_calls == 2 * single.counters.saliency_calls


class WinnerTakesAll:
    """Sees only the brightest pixels of the view: without erasure the rest would tie at 0."""

    name = "winner"

    def __call__(self, image_rgb: np.ndarray) -> np.ndarray:
        grey = image_rgb.astype(np.float32).mean(axis=2)
        return (grey >= grey.max() - 1.0).astype(np.float32)


@pytest.mark.parametrize("mode", ["fast", "exact"])
def test_erasure_reveals_each_next_object(mode):
    """Greys rise with the object index, so only erasure can recover the order 4, 3, 2, 1, 0."""
    image = np.full((H, W, 3), 20, dtype=np.uint8)
    masks = np.stack([cap(lon, 0, 6) for lon in (-24, -12, 0, 12, 24)])
    for mask, grey in zip(masks, (60, 90, 120, 150, 180), strict=True):
        image[mask] = grey
    result = PseudoLabeler([WinnerTakesAll()], OpenCVInpainter("telea"),
                           LabelConfig(mode=mode, view_size=96, er=2, min_fov_deg=100)
                           ).label(image, PanoInstances(masks=masks))
    assert [v.ranking.objects for v in result.views][2] == (4, 3, 2, 1, 0)
    assert order_of(result.ranks) == [4, 3, 2, 1, 0]


def test_deterministic_and_bad_input(scene):
    image, instances, _ = scene
    a = labeler().label(image, instances)
    b = labeler().label(image, instances)
    assert a.density == pytest.approx(density_score(instances))
    np.testing.assert_array_equal(a.ranks, b.ranks)
    assert a.extra()["local_rankings"] == b.extra()["local_rankings"]
    with pytest.raises(LabelingError, match="no objects"):
        labeler().label(image, PanoInstances(masks=np.zeros((0, H, W), dtype=bool)))
    with pytest.raises(LabelingError, match="image size"):
        labeler().label(image[:64], instances)
    single = labeler().label(image, instances.subset(np.array([POLE])))
    assert single.ranks.tolist() == [1] and single.counters.saliency_calls == 0
    with pytest.raises(ValueError, match="mode"):
        LabelConfig(mode="slow")
