"""Synthetic panoramas: exact intersections, visible masks, seam/pole/occlusion cases, files, CLI.

Budget: about 10 s on the 2-core CI machine (small panoramas; timing is never asserted).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from foir360_core.cli.main import main as cli_main
from foir360_core.geometry import lonlat_to_vector, seam_aware_bbox, spherical_centroid
from foir360_core.io import Dataset, read_image
from foir360_core.synth import (
    CATEGORIES,
    SHAPES,
    SceneObject,
    cap_window,
    draw_geometry,
    generate_dataset,
    ray_directions,
    render_panorama,
    render_scene,
    sample_background,
)
from foir360_core.synth.shapes import intersect

GREY = np.array([[0.5, 0.5, 0.5], [0.2, 0.2, 0.2]])


def _background():
    return sample_background(np.random.default_rng(0))


def _sphere(direction_lon_lat_deg, dist: float, radius: float) -> SceneObject:
    lon, lat = np.radians(direction_lon_lat_deg)
    return SceneObject("sphere", center=lonlat_to_vector(lon, lat) * dist, rotation=np.eye(3),
                       size=np.full(3, radius), colors=GREY, texture="checker")


def _inside(kind: str, p: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Reference point-in-solid tests in the local frame (independent of the ray code)."""
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    if kind in ("sphere", "ellipsoid"):
        return ((p / size) ** 2).sum(-1) <= 1.0
    if kind == "box":
        return (np.abs(p) <= size).all(-1)
    r, h = size[0], size[2]
    if kind == "cylinder":
        return (x * x + y * y <= r * r) & (np.abs(z) <= h)
    return (np.abs(z) <= h) & (x * x + y * y <= (r / (2 * h) * (h - z)) ** 2)


@pytest.mark.parametrize("kind", SHAPES)
def test_intersection_matches_ray_marching(kind):
    """The closed-form nearest hit equals the first inside sample of a fine ray march."""
    rng = np.random.default_rng(SHAPES.index(kind))
    size = {"sphere": [0.7] * 3, "cylinder": [0.5, 0.5, 0.9], "cone": [0.5, 0.5, 0.9]}.get(
        kind, [0.9, 0.5, 0.3])
    obj = SceneObject(kind, center=[3.0, 0.5, 0.2], rotation=Rotation.random(
        random_state=rng).as_matrix(), size=size, colors=GREY)
    dirs = obj.center / np.linalg.norm(obj.center) + rng.normal(scale=0.3, size=(600, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    hit = intersect(obj, dirs)
    step = 2e-3
    ts = np.arange(0.0, 6.0, step)
    inside = _inside(kind, (ts[None, :, None] * dirs[:, None, :] - obj.center) @ obj.rotation,
                     obj.size)
    first = np.where(inside.any(1), ts[inside.argmax(1)], np.inf)
    hits = np.isfinite(hit.t)
    assert 50 < hits.sum() < 600
    np.testing.assert_array_equal(hits, np.isfinite(first))
    assert np.abs(first[hits] - hit.t[hits]).max() <= step
    local = (hit.t[hits, None] * dirs[hits] - obj.center) @ obj.rotation
    assert _inside(kind, local, obj.size * (1 + 1e-6)).all()  # on the surface
    assert (np.einsum("ij,ij->i", hit.normal[hits], dirs[hits]) < 0).all()  # faces the camera


@pytest.mark.parametrize(
    "lon_lat", [(0, 0), (179, 10), (-178, -20), (100, 60), (40, 84), (-100, -89)])
def test_cap_window_holds_every_hit_pixel(lon_lat):
    """Restricting rays to the bounding-cap window loses no pixel, across the seam and poles."""
    height = 96
    obj = SceneObject("box", center=lonlat_to_vector(*np.radians(lon_lat)) * 3.0,
                      rotation=Rotation.from_euler("xyz", [20, 30, 40], degrees=True).as_matrix(),
                      size=[0.6, 0.4, 0.5], colors=GREY)
    everywhere = np.isfinite(intersect(obj, ray_directions(height).reshape(-1, 3)).t)
    rows, cols = cap_window(obj.center, obj.bounding_radius, height)
    window = np.zeros((height, 2 * height), bool)
    window[rows.start:rows.stop][:, cols] = True
    assert everywhere.any()
    assert window.ravel()[everywhere].all()
    assert window.mean() < 0.5
    pano = render_scene([obj], _background(), height, min_pixels=1)
    np.testing.assert_array_equal(pano.instances.masks[0].ravel(), everywhere)


def test_same_seed_same_panorama_and_different_seed_differs():
    a, b, c = (render_panorama(s, 96) for s in (11, 11, 12))
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.instances.masks, b.instances.masks)
    np.testing.assert_array_equal(a.instances.class_ids, b.instances.class_ids)
    assert not np.array_equal(a.image, c.image)
    assert a.image.shape == (96, 192, 3) and a.image.dtype == np.uint8
    assert a.instances.ranks is None and a.class_names == SHAPES


def test_masks_are_disjoint_visible_parts_and_match_the_image():
    """Objects change exactly the pixels of their masks; no pixel belongs to two masks."""
    rng = np.random.default_rng(3)
    background = _background()
    from foir360_core.synth.scene import sample_objects

    objects = sample_objects(rng, background, 10)
    pano = render_scene(objects, background, 128, min_pixels=1)
    empty = render_scene([], background, 128)
    masks = pano.instances.masks
    assert len(masks) >= 6
    assert masks.sum(axis=0).max() == 1
    changed = (pano.image != empty.image).any(axis=2)
    union = masks.any(axis=0)
    assert not (changed & ~union).any()
    assert (changed & union).sum() >= 0.95 * union.sum()
    np.testing.assert_array_equal(pano.instances.class_ids, [o.class_id for o in pano.objects])


def test_small_objects_are_dropped_from_instances():
    far = _sphere((30, 0), 30.0, 0.1)  # about 0.4 px across at H = 128
    near = _sphere((-30, 0), 3.0, 0.8)
    pano = render_scene([far, near], _background(), 128)
    assert pano.objects == (near,) and pano.hidden == (far,)
    assert len(pano.instances) == 1


def test_seam_crossing_object_gets_a_compact_wrapping_box():
    pano = render_scene([_sphere((180, 5), 4.0, 1.0)], _background(), 128)
    mask = pano.instances.masks[0]
    width = mask.shape[1]
    assert mask[:, 0].any() and mask[:, -1].any()
    x, _, w, _ = seam_aware_bbox(mask)
    assert x + w > width and w < width // 4
    assert pano.instances.geometry[0].bbox_xywh[2] == w


@pytest.mark.parametrize("lat", [78.0, 89.0, -80.0])
def test_polar_object_centroid_is_its_3d_direction(lat):
    """A sphere's silhouette is a circular cap about its centre, so the centroid must match."""
    sphere = _sphere((60, lat), 3.0, 0.9)
    pano = render_scene([sphere], _background(), 128)
    centre = spherical_centroid(pano.instances.masks[0])
    truth = sphere.center / np.linalg.norm(sphere.center)
    assert np.degrees(np.arccos(np.clip(centre @ truth, -1, 1))) < 1.0


def test_near_object_hides_far_one():
    far = _sphere((0, 0), 8.0, 1.6)
    near = _sphere((2, 1), 3.0, 0.3)
    alone = render_scene([far], _background(), 128).instances.masks[0]
    both = render_scene([far, near], _background(), 128)
    far_mask, near_mask = both.instances.masks
    np.testing.assert_array_equal(far_mask, alone & ~near_mask)
    assert 0 < (alone & near_mask).sum() == near_mask.sum()  # the near one sits inside
    reversed_order = render_scene([near, far], _background(), 128)  # depth, not draw order
    np.testing.assert_array_equal(reversed_order.instances.masks, both.instances.masks[::-1])
    np.testing.assert_array_equal(reversed_order.image, both.image)
    hidden = render_scene([_sphere((0, 0), 8.0, 0.2), _sphere((0, 0), 3.0, 0.5)],
                          _background(), 128)
    assert [o.size[0] for o in hidden.objects] == [0.5] and len(hidden.hidden) == 1


def test_generated_scenes_contain_seam_polar_and_occluded_objects():
    seam = polar = occluded = 0
    for seed in range(3):
        pano = render_panorama(seed, 192)
        width = pano.image.shape[1]
        for obj, geom in zip(pano.objects, pano.instances.geometry, strict=True):
            x, _, w, _ = geom.bbox_xywh
            seam += x + w > width
            polar += abs(np.degrees(geom.elevation)) > 55
            alone = render_scene([obj], _background(), 192, min_pixels=1).instances.masks
            occluded += geom.area_px < alone.sum()
    assert seam >= 2 and polar >= 2 and occluded >= 2


def test_bad_arguments_are_rejected_clearly():
    with pytest.raises(ValueError, match="height"):
        render_panorama(0, height=16)
    with pytest.raises(ValueError, match="MIN <= MAX"):
        render_panorama(0, height=64, n_objects=(5, 3))
    with pytest.raises(ValueError, match="unknown shape"):
        SceneObject("torus", center=[1, 0, 0], rotation=np.eye(3), size=[1, 1, 1], colors=GREY)
    with pytest.raises(ValueError, match="count"):
        generate_dataset("/nonexistent", 0)


def test_dataset_written_and_reread(tmp_path):
    path = generate_dataset(tmp_path / "ds", 2, seed=4, height=64, n_objects=(3, 4))
    dataset = Dataset.load(path)
    assert [c["name"] for c in dataset.categories] == [c["name"] for c in CATEGORIES]
    assert len(dataset) == 2
    for record in dataset.images:
        again = render_panorama(record.extra["seed"], 64, (3, 4))
        np.testing.assert_array_equal(dataset.read_image(record.id), again.image)
        loaded = dataset.instances(record.id)
        np.testing.assert_array_equal(loaded.masks, again.instances.masks)
        np.testing.assert_array_equal(loaded.class_ids, again.instances.class_ids)
        assert not dataset.has_ranks(record.id)


def test_preview_draws_a_wrapping_box_on_both_sides():
    pano = render_scene([_sphere((180, 0), 4.0, 1.0), _sphere((0, 20), 4.0, 1.0)],
                        _background(), 128)
    overlay = draw_geometry(pano.image, pano.instances, pano.class_names, title="t")
    assert overlay.shape == pano.image.shape and overlay.dtype == np.uint8
    x, y, w, _ = pano.instances.geometry[0].bbox_xywh
    changed = (overlay != pano.image).any(axis=2)
    assert changed[y, x] and changed[y, (x + w - 1) % 256]
    with pytest.raises(ValueError, match="masks are"):
        draw_geometry(pano.image[:64], pano.instances)


def test_cli_end_to_end(tmp_path, capsys):
    out = tmp_path / "synth"
    rc = cli_main(["synth", "--out", str(out), "--count", "2", "--seed", "1", "--height", "64",
                   "--objects", "3-5", "--preview"])
    assert rc == 0
    assert "wrote 2 panoramas" in capsys.readouterr().out
    dataset = Dataset.load(out / "masks.json")
    for record in dataset.images:
        preview = read_image(out / "previews" / record.file_name.split("/")[-1])
        assert preview.shape == (64, 128, 3)
        assert not np.array_equal(preview, dataset.read_image(record.id))
    assert cli_main(["synth", "--out", str(out), "--count", "1", "--height", "8"]) == 2


def test_sequences_move_the_camera_keep_ids_and_write_a_dataset_and_a_bag(tmp_path):
    """Same seed, same frames; ids follow objects; images turn with the camera; files read."""
    from rosbags.highlevel import AnyReader

    from foir360_core.synth.sequence import SequenceSettings, render_sequence

    settings = SequenceSettings(frames=6, height=64, yaw_deg=10.0)
    first, again = render_sequence(3, settings), render_sequence(3, settings)
    a, b = first.frame(4), again.frame(4)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.track_ids, b.track_ids)
    frames = list(first)
    assert [f.stamp_ns for f in frames] == [settings.stamp_ns(i) for i in range(6)]
    assert not np.array_equal(frames[0].image, frames[1].image)
    for frame in frames:
        assert len(set(frame.track_ids.tolist())) == len(frame.instances)
        assert set(frame.track_ids.tolist()) <= set(range(1, len(first.movers) + 1))
    # a 10° yaw turn moves the common objects' centroids by about 10° of azimuth
    common = set(frames[0].track_ids.tolist()) & set(frames[1].track_ids.tolist())
    shifts = []
    for gt_id in common:
        az = [np.degrees(f.instances.geometry[list(f.track_ids).index(gt_id)].azimuth)
              for f in frames[:2]]
        shifts.append((az[1] - az[0] + 180.0) % 360.0 - 180.0)
    assert abs(np.median(shifts) + 10.0) < 4.0, shifts

    assert cli_main(["synth", "--out", str(tmp_path / "seq"), "--sequence", "6", "--height",
                     "64", "--seed", "3", "--yaw-deg", "10"]) == 0
    dataset = Dataset.load(tmp_path / "seq" / "masks.json")
    assert len(dataset) == 6
    for record, frame in zip(dataset.images, frames, strict=True):
        assert record.extra["stamp_ns"] == frame.stamp_ns
        assert dataset.track_ids(record.id).tolist() == frame.track_ids.tolist()
        assert np.array_equal(dataset.instances(record.id).masks, frame.instances.masks)
        assert np.array_equal(dataset.read_image(record.id), frame.image)
    with AnyReader([tmp_path / "seq" / "bag"]) as reader:
        stamps = [ts for _, ts, _ in reader.messages()]
        assert [c.topic for c in reader.connections] == ["/camera/image"]
    assert stamps == [f.stamp_ns for f in frames]


def test_sequence_instances_are_at_least_1_in_2048_of_the_frame():
    """Specks of a few pixels blink behind their occluders: not ground-truth instances."""
    from foir360_core.synth.sequence import (
        SequenceSettings,
        render_sequence,
        sequence_min_pixels,
    )

    assert sequence_min_pixels(256) == 64 and sequence_min_pixels(512) == 256
    assert sequence_min_pixels(64) == 16  # never below the still-panorama floor
    kept = render_sequence(0, SequenceSettings(frames=2, height=256)).frame(1)
    specks = render_sequence(0, SequenceSettings(frames=2, height=256, min_pixels=16)).frame(1)
    sizes = kept.instances.masks.reshape(len(kept.instances), -1).sum(axis=1)
    assert sizes.min() >= 64
    assert set(kept.track_ids.tolist()) < set(specks.track_ids.tolist())
