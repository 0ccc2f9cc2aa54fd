"""ERP conventions, spherical measures and local views (SPEC §3)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foir360_core.geometry import (
    ErpShapeError,
    ViewGeometry,
    azimuth_elevation,
    check_erp_shape,
    erp_to_view,
    fov_to_contain,
    lonlat_to_pixel,
    lonlat_to_vector,
    mask_geometry,
    pixel_to_lonlat,
    seam_aware_bbox,
    solid_angle_weights,
    spherical_centroid,
    vector_to_lonlat,
    view_to_erp,
    yaw_roll,
)

H, W = 64, 128


def disc_mask(lon: float, lat: float, radius_deg: float, h: int = H, w: int = W) -> np.ndarray:
    """Pixels within an angular radius of a direction: a spherical cap, exact on the sphere."""
    u = np.arange(w) + 0.5
    v = np.arange(h) + 0.5
    p_lon, p_lat = pixel_to_lonlat(u[None, :], v[:, None], h, w)
    vecs = lonlat_to_vector(p_lon, p_lat)
    centre = lonlat_to_vector(lon, lat)
    return vecs @ centre >= np.cos(np.radians(radius_deg))


def test_centre_column_looks_forward_and_right_is_negative_azimuth():
    lon, lat = pixel_to_lonlat(np.array([W / 2, W * 0.75]), np.array([H / 2, H / 2]), H, W)
    vec = lonlat_to_vector(lon, lat)
    np.testing.assert_allclose(vec[0], [1, 0, 0], atol=1e-12)
    az, el = azimuth_elevation(vec)
    assert az[1] == pytest.approx(-np.pi / 2)  # three quarters across = 90° to the right
    assert el[0] == pytest.approx(0.0)
    _, top_lat = pixel_to_lonlat(0.0, 0.0, H, W)
    assert top_lat == pytest.approx(np.pi / 2)


@given(st.floats(-np.pi, np.pi - 1e-9), st.floats(-np.pi / 2 + 1e-6, np.pi / 2 - 1e-6))
def test_lonlat_vector_pixel_round_trip(lon, lat):
    back_lon, back_lat = vector_to_lonlat(lonlat_to_vector(lon, lat))
    u, v = lonlat_to_pixel(back_lon, back_lat, H, W)
    lon2, lat2 = pixel_to_lonlat(u, v, H, W)
    assert np.cos(lon2 - lon) == pytest.approx(1.0, abs=1e-9)
    assert lat2 == pytest.approx(lat, abs=1e-9)


def test_solid_angle_weights_sum_to_sphere_and_follow_cos_latitude():
    weights = solid_angle_weights(H, W)
    assert weights.sum() * W == pytest.approx(4 * np.pi)
    assert weights[H // 2, 0] > weights[0, 0] * 10  # equator pixels are far larger than polar ones


def test_check_erp_shape_rejects_non_panoramas():
    check_erp_shape(512, 1024)
    with pytest.raises(ErpShapeError, match="not a 2:1"):
        check_erp_shape(480, 640)
    with pytest.warns(UserWarning, match="not a 2:1"):
        check_erp_shape(480, 640, strict=False)


def test_yaw_roll_is_exact_and_rejects_fractional_columns():
    image = np.arange(H * W).reshape(H, W)
    rolled = yaw_roll(image, 360.0 / W * 3)
    assert np.array_equal(rolled[:, 3:], image[:, :-3])
    with pytest.raises(ValueError, match="multiple of 360/W"):
        yaw_roll(image, 1.0)


@settings(max_examples=30, deadline=None)
@given(
    st.floats(-170, 170), st.floats(-60, 60), st.floats(8, 25), st.integers(-W // 2, W // 2)
)
def test_centroid_of_cap_is_its_centre_and_moves_with_yaw_roll(lon_deg, lat_deg, radius, shift):
    mask = disc_mask(np.radians(lon_deg), np.radians(lat_deg), radius)
    centre = spherical_centroid(mask)
    expected = lonlat_to_vector(np.radians(lon_deg), np.radians(lat_deg))
    assert np.degrees(np.arccos(np.clip(centre @ expected, -1, 1))) < 1.5
    rolled = spherical_centroid(yaw_roll(mask, shift * 360.0 / W))
    lon0, lat0 = vector_to_lonlat(centre)
    lon1, lat1 = vector_to_lonlat(rolled)
    expected_shift = shift * 2 * np.pi / W
    assert np.cos(lon1 - lon0 - expected_shift) == pytest.approx(1.0, abs=1e-9)
    assert lat1 == pytest.approx(lat0, abs=1e-6)


def test_seam_crossing_object_gets_forward_facing_back_centre_and_compact_box():
    mask = disc_mask(np.pi, 0.0, 15)  # straight behind the camera: split across both edges
    assert mask[:, 0].any() and mask[:, -1].any()
    geom = mask_geometry(mask)[0]
    assert abs(abs(geom.azimuth) - np.pi) < np.radians(1)
    x, _, w, _ = geom.bbox_xywh
    assert w < W / 4 and x + w > W  # one narrow box that wraps, not the whole width
    assert geom.extent_deg[0] == pytest.approx(w * 360 / W)


def test_polar_object_centroid_is_near_the_pole():
    mask = disc_mask(0.3, np.radians(85), 12)
    assert mask[0].all()  # the cap covers the whole top row
    _, elevation = azimuth_elevation(spherical_centroid(mask))
    assert np.degrees(elevation) == pytest.approx(85, abs=1.5)
    # The naive image-plane centroid would say about 80°; the plain pixel mean is biased.
    rows, _ = np.nonzero(mask)
    naive = 90 - (rows.mean() + 0.5) / H * 180
    assert abs(naive - 85) > abs(np.degrees(elevation) - 85)


def test_rings_point_to_their_pole_and_cancelling_masks_fall_back_forward():
    ring = np.zeros((H, W), bool)
    ring[5:10] = True
    assert np.allclose(spherical_centroid(ring), [0, 0, 1], atol=1e-6)
    band = np.zeros((H, W), bool)
    band[H // 2 - 4 : H // 2 + 4] = True  # symmetric about the equator: no centre
    everything = np.ones((1024, 2048), bool)
    empty = np.zeros((H, W), bool)
    for mask in (band, everything, empty):
        assert spherical_centroid(mask).tolist() == [1.0, 0.0, 0.0]
    assert seam_aware_bbox(np.zeros((H, W), bool)) == (0, 0, 0, 0)
    assert seam_aware_bbox(ring) == (0, 5, W, 5)


def test_solid_angle_of_a_cap_matches_the_formula():
    radius = 30
    geom = mask_geometry(disc_mask(0.0, 0.0, radius, 256, 512))[0]
    exact = 2 * np.pi * (1 - np.cos(np.radians(radius)))
    assert geom.solid_angle == pytest.approx(exact, rel=0.02)


@settings(max_examples=25, deadline=None)
@given(
    st.floats(-np.pi, np.pi), st.floats(-1.2, 1.2), st.floats(40, 110), st.integers(0, 10_000)
)
def test_erp_view_erp_round_trip_within_a_pixel(lon, lat, fov, seed):
    """Where a view covers the ERP and is finer than it, ERP → view → ERP reproduces the ERP."""
    h, w = 64, 128
    rng = np.random.default_rng(seed)
    erp = rng.integers(0, 255, (h, w), dtype=np.uint8)
    # A smooth image so a sub-pixel resampling error stays small.
    erp = np.repeat(np.repeat(erp[::8, ::8], 8, axis=0), 8, axis=1)
    masks = (erp[None] > 127)
    geom = ViewGeometry(lon, lat, fov, 256, 256)
    view_masks = erp_to_view(masks, geom, masks=True)
    back, covered = view_to_erp(view_masks, geom, (h, w), masks=True)
    inner = covered & ~np.roll(~covered, 1, 0) & ~np.roll(~covered, -1, 0)
    inner &= ~np.roll(~covered, 1, 1) & ~np.roll(~covered, -1, 1)
    disagree = (back[0] != masks[0]) & inner
    # Nearest-neighbour in both directions may move an edge by at most one pixel.
    edges = masks[0] != np.roll(masks[0], 1, 1)
    edges |= masks[0] != np.roll(masks[0], -1, 1)
    edges |= masks[0] != np.roll(masks[0], 1, 0)
    edges |= masks[0] != np.roll(masks[0], -1, 0)
    assert not (disagree & ~edges).any()
    assert covered.sum() > 0


def test_view_centre_pixel_samples_the_view_direction_and_image_is_not_mirrored():
    erp = np.zeros((H, W, 3), np.uint8)
    lon, lat = np.radians(40), np.radians(10)
    u, v = lonlat_to_pixel(lon, lat, H, W)
    erp[int(v), int(u)] = 255
    erp[int(v), (int(u) + 3) % W] = 128  # to the right in the ERP = larger longitude
    view = erp_to_view(erp, ViewGeometry(lon, lat, 30, 101, 101))
    bright = np.unravel_index(np.argmax(view[..., 0]), view.shape[:2])
    assert abs(bright[0] - 50) <= 2 and abs(bright[1] - 50) <= 2
    cols_128 = np.nonzero(np.abs(view[..., 0].astype(int) - 128) < 40)[1]
    assert cols_128.size and cols_128.mean() > 50  # right in the ERP stays right in the view


def test_view_across_the_seam_is_continuous():
    erp = np.zeros((H, W), np.uint8)
    erp[:, :4] = 200
    erp[:, -4:] = 200
    view = erp_to_view(erp, ViewGeometry(np.pi, 0.0, 60, 64, 64))
    assert (view[:, 28:36] > 150).all()


def test_mask_stack_warps_exactly_in_bit_planes():
    rng = np.random.default_rng(0)
    masks = rng.random((19, H, W)) > 0.5
    geom = ViewGeometry(0.5, -0.2, 70, 40, 30)
    stacked = erp_to_view(masks, geom, masks=True)
    one_by_one = np.stack([erp_to_view(m[None], geom, masks=True)[0] for m in masks])
    assert stacked.shape == (19, 30, 40)
    assert np.array_equal(stacked, one_by_one)


def test_fov_to_contain_holds_the_object():
    mask = disc_mask(1.0, 0.3, 20, 256, 512)
    lon, lat = vector_to_lonlat(spherical_centroid(mask))
    fov = fov_to_contain(mask, lon, lat, margin=0.1)
    assert 40 < fov < 50
    view = erp_to_view(mask[None], ViewGeometry(lon, lat, fov, 128, 128), masks=True)[0]
    assert not view[0].any() and not view[-1].any() and not view[:, 0].any()
    assert fov_to_contain(disc_mask(1.0, 0.3, 100, 64, 128), 1.0, 0.3) == 160.0
