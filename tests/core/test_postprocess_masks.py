"""The batched mask post-processing publishes what the per-instance one did.

The references below are the implementations this package used before (one ``cv2.remap``
per instance, a copying RLE encoder, a row-major geometry pass) plus an exact float64
bilinear resize; they live here, not in the package, to pin the rewrite down.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from pycocotools import mask as coco_mask

from foir360_core.geometry import mask_geometry, seam_aware_bbox
from foir360_core.geometry.components import largest_part, seam_components
from foir360_core.geometry.erp import lonlat_grid, solid_angle_weights
from foir360_core.models.postprocess import outputs_to_instances, upsample_masks
from foir360_core.structures import decode_rle, encode_masks


def remap_reference(maps: np.ndarray, out_size: tuple[int, int]) -> np.ndarray:
    """The former ``resize_wrap``: one ``cv2.remap`` per instance (positions on a 1/32 grid)."""
    _, h, w = maps.shape
    H, W = out_size
    xs = ((np.arange(W, dtype=np.float32) + 0.5) * (w / W) - 0.5) % w
    ys = np.clip((np.arange(H, dtype=np.float32) + 0.5) * (h / H) - 0.5, 0.0, h - 1.0)
    map_x = np.broadcast_to(xs[None, :], (H, W)).astype(np.float32)
    map_y = np.broadcast_to(ys[:, None], (H, W)).astype(np.float32)
    return np.stack([cv2.remap(m.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_WRAP) for m in maps])


def exact_reference(maps: np.ndarray, out_size: tuple[int, int]) -> np.ndarray:
    """Periodic-in-longitude, clamped-in-latitude bilinear resize in float64."""
    _, h, w = maps.shape
    H, W = out_size
    sx = (np.arange(W) + 0.5) * (w / W) - 0.5
    sy = np.clip((np.arange(H) + 0.5) * (h / H) - 0.5, 0.0, h - 1.0)
    x0, y0 = np.floor(sx).astype(int), np.minimum(np.floor(sy).astype(int), h - 2 if h > 1 else 0)
    fx, fy = sx - x0, sy - y0
    m = maps.astype(np.float64)
    cols = m[:, :, x0 % w] * (1 - fx) + m[:, :, (x0 + 1) % w] * fx
    if h == 1:
        return np.repeat(cols, H, axis=1)
    return cols[:, y0] * (1 - fy)[:, None] + cols[:, np.minimum(y0 + 1, h - 1)] * fy[:, None]


def old_row_sums_geometry(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Former geometry core: (N, 3) direction sums and (N,) solid angles, row-major float32."""
    n, height, width = masks.shape
    lon, lat = lonlat_grid(height, width)
    rows = masks.astype(np.float32).reshape(-1, width)
    row_cos = (rows @ np.cos(lon).astype(np.float32)).reshape(n, height)
    row_sin = (rows @ np.sin(lon).astype(np.float32)).reshape(n, height)
    row_cnt = masks.astype(np.float32).sum(axis=2)
    row_w = solid_angle_weights(height, width)[:, 0]
    vec = np.stack([row_cos @ (np.cos(lat) * row_w), -(row_sin @ (np.cos(lat) * row_w)),
                    row_cnt @ (np.sin(lat) * row_w)], axis=-1)
    return vec / np.linalg.norm(vec, axis=-1, keepdims=True), row_cnt @ row_w, row_cnt.sum(1)


def _near_cut(values: np.ndarray, cut: float, tol: float) -> np.ndarray:
    return np.abs(values - cut) <= tol * np.maximum(1.0, np.abs(values))


# (low-res, out): power-of-two factors, the node's default, non-integer and odd factors,
# down-scaling and the identity
SIZES = [((32, 64), (512, 1024)), ((32, 64), (128, 256)), ((8, 16), (64, 128)),
         ((32, 64), (100, 200)), ((30, 60), (512, 1024)), ((7, 13), (45, 91)),
         ((64, 128), (32, 64)), ((32, 64), (32, 64)), ((1, 5), (3, 10))]


@pytest.mark.parametrize(("low", "out"), SIZES)
@pytest.mark.parametrize("seed", range(4))
def test_upsampled_masks_match_the_exact_bilinear_resize(low, out, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 3.0, size=(5, *low)).astype(np.float32)
    cut = float(rng.normal())
    got, nonempty = upsample_masks(logits, out, cut)
    np.testing.assert_array_equal(nonempty, got.any(axis=(1, 2)))
    exact = exact_reference(logits, out)
    differ = got != (exact > cut)
    assert not differ[~_near_cut(exact, cut, 1e-4)].any()
    assert differ.mean() < 1e-4


def blob_logits(rng: np.random.Generator, count: int, h: int, w: int) -> np.ndarray:
    """Round blobs on a negative background, some across the seam or at a pole, like a
    trained model's mask logits (and unlike noise, they leave most of the map inactive)."""
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.empty((count, h, w), np.float32)
    for q in range(count):
        cx, cy, r = rng.uniform(0, w), rng.uniform(-1, h), rng.uniform(0.5, max(1.0, w / 4))
        dx = np.minimum(np.abs(xx - cx), w - np.abs(xx - cx))
        out[q] = 4.0 * (1.0 - np.hypot(dx, yy - cy) / r) + rng.normal(0, 0.3, (h, w))
    return out


@pytest.mark.parametrize(("low", "out"), SIZES)
@pytest.mark.parametrize("seed", range(4))
def test_windowed_upsampling_of_compact_objects_is_exact(low, out, seed):
    rng = np.random.default_rng(200 + seed)
    logits = blob_logits(rng, 8, *low)
    got, nonempty = upsample_masks(logits, out, 0.0)
    np.testing.assert_array_equal(nonempty, got.any(axis=(1, 2)))
    exact = exact_reference(logits, out)
    differ = got != (exact > 0.0)
    assert not differ[~_near_cut(exact, 0.0, 1e-4)].any()


@pytest.mark.parametrize(("low", "out"), [s for s in SIZES if s[1][0] / s[0][0] in (2, 4, 8, 16)])
@pytest.mark.parametrize("seed", range(4))
def test_upsampled_masks_equal_the_former_remap_where_its_grid_is_exact(low, out, seed):
    # At power-of-two factors up to 16 every sample lies on remap's 1/32 grid, so the old
    # and new resize differ only in float rounding: masks agree bit for bit away from the cut.
    rng = np.random.default_rng(100 + seed)
    logits = rng.normal(0.0, 3.0, size=(6, *low)).astype(np.float32)
    old = remap_reference(logits, out)
    got, _ = upsample_masks(logits, out, 0.0)
    differ = got != (old > 0.0)
    assert not differ[~_near_cut(old, 0.0, 1e-5)].any()


def test_masks_come_in_pycocotools_layout_and_round_trip_without_copies():
    rng = np.random.default_rng(7)
    masks, _ = upsample_masks(rng.normal(size=(4, 16, 32)).astype(np.float32), (64, 128), 0.3)
    assert np.moveaxis(masks, 0, -1).flags.f_contiguous
    rles = encode_masks(masks)
    copied = coco_mask.encode(np.asfortranarray(
        np.moveaxis(np.ascontiguousarray(masks), 0, -1).astype(np.uint8)))
    assert [r["counts"] for r in rles] == [r["counts"].decode("ascii") for r in copied]
    decoded = decode_rle(rles)
    np.testing.assert_array_equal(decoded, masks)
    assert np.moveaxis(decoded, 0, -1).flags.f_contiguous


@pytest.mark.parametrize("layout", ["lon_major", "row_major"])
def test_geometry_matches_the_former_pass_in_either_layout(layout):
    from foir360_core.synth import render_panorama

    masks = render_panorama(3, height=128).instances.masks
    if layout == "lon_major":
        masks = np.ascontiguousarray(masks.transpose(0, 2, 1)).transpose(0, 2, 1)
    geometry = mask_geometry(masks)
    directions, solid, areas = old_row_sums_geometry(masks)
    np.testing.assert_allclose([g.direction for g in geometry], directions, atol=1e-6)
    np.testing.assert_allclose([g.solid_angle for g in geometry], solid, rtol=1e-9)
    assert [g.area_px for g in geometry] == areas.astype(int).tolist()
    assert [g.bbox_xywh for g in geometry] == [seam_aware_bbox(m) for m in masks]


def test_post_processing_publishes_the_former_bytes_on_model_like_outputs():
    """Whole ``outputs_to_instances`` vs the former per-instance path: same RLE, boxes, areas."""
    rng = np.random.default_rng(11)
    nq = 30
    mask_logits = blob_logits(rng, nq, 32, 64)
    class_logits = rng.normal(size=(nq, 2)).astype(np.float32)
    class_logits[:, 0] += 1.0
    rank_scores = rng.normal(size=nq)
    for out in ((512, 1024), (128, 256)):
        outputs = {"class_logits": class_logits, "mask_logits": mask_logits,
                   "rank_scores": rank_scores}
        inst = outputs_to_instances(outputs, rank_head="sequential", out_size=out,
                                    score_threshold=0.0, max_instances=20,
                                    largest_part=False)
        assert len(inst) >= 10
        old = remap_reference(mask_logits, out) > 0.0
        # each published mask is, bit for bit, the former mask of one query
        same = (old[:, None] == inst.masks[None]).all(axis=(2, 3))
        assert same.any(axis=0).all()
        ref = old[same.argmax(axis=0)]
        assert [r["counts"] for r in inst.to_rle()] == [r["counts"] for r in encode_masks(ref)]
        assert [g.bbox_xywh for g in inst.geometry] == [seam_aware_bbox(m) for m in ref]
        assert [g.area_px for g in inst.geometry] == ref.sum((1, 2)).tolist()


def test_largest_part_keeps_exactly_the_biggest_seam_joined_piece():
    """Two queries: one object across the seam plus a speck; one object plus a larger copy."""
    low = np.full((2, 16, 32), -6.0, np.float32)
    low[0, 7:10, :2] = low[0, 7:10, -2:] = 4.0  # 3x4 cells across the seam: one object
    low[0, 3, 15] = 4.0  # a one-cell speck far away
    low[1, 2:4, 5:7] = 4.0  # 2x2
    low[1, 10:13, 20:23] = 4.0  # 3x3: the largest part
    expected = low.copy()
    expected[0, 3, 15] = expected[1, 2:4, 5:7] = -6.0
    outputs = {"class_logits": np.array([[3.0, -3.0]] * 2, np.float32), "mask_logits": low,
               "rank_scores": np.array([0.9, 0.8])}
    for out in ((16, 32), (64, 128), (128, 256)):
        inst = outputs_to_instances(outputs, rank_head="sequential", out_size=out)
        ref = exact_reference(expected, out) > 0.0
        same = (ref[:, None] == inst.masks[None]).all(axis=(2, 3))
        assert len(inst) == 2 and same.any(axis=0).all()
        assert all(seam_components(m) == 1 for m in inst.masks)
        every = outputs_to_instances(outputs, rank_head="sequential", out_size=out,
                                     largest_part=False)
        assert sorted(seam_components(m) for m in every.masks) == [2, 2]


def test_largest_part_weighs_parts_by_solid_angle():
    """A polar part with more pixels but less sphere loses to a smaller equatorial one."""
    mask = np.zeros((40, 80), bool)
    mask[0:2, 0:20] = True  # 40 px at the pole: tiny solid angle
    mask[19:21, 40:50] = True  # 20 px on the horizon
    kept = largest_part(mask)
    assert kept[19:21, 40:50].all() and kept.sum() == 20


def test_largest_part_of_a_band_of_rows_weighs_them_at_their_latitude():
    """Passed only the rows an object uses (as post-processing does), the parts keep the
    weights of their true latitudes: the same choice as on the whole map."""
    mask = np.zeros((40, 80), bool)
    mask[0:2, 0:20] = True  # 40 px at the pole
    mask[19:21, 40:50] = True  # 20 px on the horizon: more sphere
    band = mask[0:21]
    kept = largest_part(band, top=0, height=40)
    np.testing.assert_array_equal(kept, largest_part(mask)[0:21])
    assert kept[19:21, 40:50].all() and kept.sum() == 20
    # read as a whole 21-row map, the horizon part sits near the other pole and loses
    assert largest_part(band)[0:2, 0:20].all()
