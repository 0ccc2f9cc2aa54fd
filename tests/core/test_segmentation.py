"""Panoramic segmentation: the merge on the sphere (oracle), the command, its resume and bad input.

The oracle draws the true masks of synthetic panoramas into every view, cut by the view
borders exactly as a real segmenter's output is; merging must give back the true objects,
including the one across the ERP seam and the one near a pole that every synthetic scene has.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from foir360_core.cli.main import main
from foir360_core.geometry import ViewGeometry, erp_to_view, solid_angle_weights
from foir360_core.io import Dataset, read_image, write_image
from foir360_core.segmentation.base import ViewInstances
from foir360_core.segmentation.layouts import LAYOUTS, view_layout
from foir360_core.segmentation.merge import back_project, merge_fragments
from foir360_core.segmentation.oracle import OracleSegmenter
from foir360_core.segmentation.panoramic import PanoramicSegmenter
from foir360_core.synth import generate_dataset


@pytest.fixture(autouse=True)
def propagating_logs(monkeypatch, caplog):
    """The ROS launch pytest plugin makes new loggers non-propagating; caplog needs them, at
    INFO (the run summaries), whether or not that plugin is installed to set a level."""
    for name in ("foir360.segment", "foir360.label", "foir360_core.segmentation.batch"):
        monkeypatch.setattr(logging.getLogger(name), "propagate", True)
        caplog.set_level(logging.INFO, logger=name)


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("synth"), count=5, seed=3, height=256)


def iou_matrix(truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    t = truth.reshape(len(truth), -1).astype(np.float32)
    p = pred.reshape(len(pred), -1).astype(np.float32)
    inter = t @ p.T
    return inter / (t.sum(1)[:, None] + p.sum(1)[None, :] - inter)


def special_objects(masks: np.ndarray) -> tuple[list[int], list[int]]:
    """Indices of the true objects across the seam and of those reaching past ±60°."""
    height = masks.shape[1]
    seam = [i for i, m in enumerate(masks) if m[:, 0].any() and m[:, -1].any()]
    band = height // 6
    pole = [i for i, m in enumerate(masks) if m[:band].any() or m[-band:].any()]
    return seam, pole


def test_layouts_cover_the_whole_sphere_with_overlap():
    directions = np.random.default_rng(0).normal(size=(4000, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    for name in LAYOUTS:
        seen = np.zeros(len(directions), int)
        for geom in view_layout(name, 64):
            cam = directions @ geom.basis().T
            half = np.tan(np.radians(geom.fov_deg / 2))
            with np.errstate(divide="ignore", invalid="ignore"):
                inside = (cam[:, 0] > 0) & (np.abs(cam[:, 1] / cam[:, 0]) < half) & (
                    np.abs(cam[:, 2] / cam[:, 0]) < half)
            seen += inside
        assert seen.min() >= 1, name
        if name != "cube6":
            assert np.mean(seen >= 2) > 0.5, name  # overlap, so cut objects are seen whole
    with pytest.raises(ValueError, match="unknown view layout"):
        view_layout("ring3")


def test_oracle_merge_gives_back_every_true_object(synth):
    dataset = Dataset.load(synth)
    segmenter = PanoramicSegmenter(OracleSegmenter(synth))
    ious, specials = [], 0
    for record in dataset.images:
        truth = dataset.instances(record.id)
        result = segmenter(dataset.read_image(record.id), dataset.image_path(record.id))
        merged = result.instances
        assert len(merged) == len(truth), record.id
        assert merged.masks.sum(0).max() <= 1  # disjoint
        iou = iou_matrix(truth.masks, merged.masks)
        best = iou.argmax(1)
        assert len(set(best.tolist())) == len(truth)  # one merged instance per true object
        np.testing.assert_array_equal(merged.class_ids[best], truth.class_ids)
        ious.extend(iou.max(1).tolist())
        seam, pole = special_objects(truth.masks)
        for i in seam + pole:
            covering = (truth.masks[i][None] & merged.masks).reshape(len(merged), -1).sum(1)
            assert (covering > 0.01 * truth.masks[i].sum()).sum() == 1, (record.id, i)
            assert iou[i].max() >= 0.95
        specials += len(seam) + len(pole)
    assert np.mean(ious) >= 0.95 and min(ious) >= 0.85
    assert specials >= len(dataset)  # the scenes do hold seam and pole objects


def _view_masks(erp_masks: np.ndarray, geom: ViewGeometry) -> ViewInstances:
    masks = erp_to_view(erp_masks, geom, masks=True)
    return ViewInstances(masks, np.linspace(0.9, 0.5, len(masks)), np.arange(len(masks)))


def test_merge_joins_view_fragments_and_keeps_overlapping_objects_disjoint():
    height, width = 128, 256
    wide = np.zeros((height, width), bool)
    wide[50:80, 90:170] = True          # 112° wide: no 90° view holds it whole
    small = np.zeros((height, width), bool)
    small[60:70, 120:130] = True        # lies on the wide object
    erp = np.stack([wide, small])
    views = [ViewGeometry(np.radians(lon), 0.0, 90.0, 96, 96) for lon in (-45, 0, 45)]
    fragments = [back_project(_view_masks(erp, g), g, (height, width), 1) for g in views]
    merged = merge_fragments(fragments)
    assert len(merged.masks) == 2
    assert merged.masks.sum(0).max() == 1
    small_index = int(np.argmin(merged.masks.reshape(2, -1).sum(1)))
    assert iou_matrix(small[None], merged.masks[small_index][None])[0, 0] > 0.9
    big = merged.masks[1 - small_index]
    assert iou_matrix((wide & ~small)[None], big[None])[0, 0] > 0.9  # small claimed its pixels
    weights = solid_angle_weights(height, width)
    assert (big * weights).sum() > 0


def run_cli(*args) -> int:
    return main([str(a) for a in args])


def test_segment_command_writes_the_dataset_format_resumes_and_skips_bad_images(
        synth, tmp_path, caplog):
    images = tmp_path / "images"
    images.mkdir()
    for path in sorted((synth.parent / "images").glob("*.png"))[:3]:
        (images / path.name).write_bytes(path.read_bytes())
    (images / "broken.jpg").write_bytes(b"not an image")
    (images / "empty.png").write_bytes(b"")
    write_image(images / "square.png", np.zeros((64, 64, 3), np.uint8))
    out = tmp_path / "out" / "masks.json"
    spec = f"oracle:{synth}"
    code = run_cli("segment", images, "--out", out, "--segmenter", spec, "--no-progress",
                   "--preview", "--debug-dir", tmp_path / "debug", "--debug-count", 3)
    assert code == 1  # bad images were skipped
    for name in ("broken.jpg", "empty.png", "square.png"):
        assert name in caplog.text
    assert "not a 2:1" in caplog.text
    data = json.loads(out.read_text())
    assert len(data["images"]) == 3
    assert [c["name"] for c in data["categories"]] == [
        c["name"] for c in sorted(Dataset.load(synth).categories, key=lambda c: c["id"])]
    ann = data["annotations"][0]
    assert {"segmentation", "erp_bbox", "bbox", "area", "score", "category_id"} <= ann.keys()
    loaded = Dataset.load(out)
    assert loaded.read_image(loaded.images[0].id).shape == (256, 512, 3)
    assert loaded.instances(loaded.images[0].id).class_scores is not None
    assert len(list((out.parent / "masks.previews").glob("*.png"))) == 3
    # the first 3 files of the run get debug views; two of them are unreadable
    assert len(list((tmp_path / "debug" / "pano_0000").glob("view*.png"))) == len(view_layout())
    assert len(list((tmp_path / "debug").iterdir())) == 1

    caplog.clear()
    assert run_cli("segment", images, "--out", out, "--segmenter", spec, "--no-progress") == 1
    assert "segmented 0 panoramas (3 already done" in caplog.text
    first = sorted(images.glob("pano_*.png"))[0]
    edited = read_image(first)
    edited[0, 0] = 255 - edited[0, 0]
    write_image(first, edited)
    caplog.clear()
    run_cli("segment", images, "--out", out, "--segmenter", spec, "--no-progress")
    assert "segmented 1 panoramas (2 already done" in caplog.text  # the edited image only


def test_shards_then_an_unsharded_run_collect_without_segmenting_again(synth, tmp_path, caplog):
    images = synth.parent / "images"
    out = tmp_path / "masks.json"
    spec = f"oracle:{synth}"
    for shard in ("0/2", "1/2"):
        assert run_cli("segment", images, "--out", out, "--segmenter", spec, "--shard", shard,
                       "--no-progress") == 0
    assert len(json.loads((tmp_path / "masks.shard-0-of-2.json").read_text())["images"]) == 3
    caplog.clear()
    assert run_cli("segment", images, "--out", out, "--segmenter", spec, "--no-progress") == 0
    assert "segmented 0 panoramas (5 already done" in caplog.text
    assert len(Dataset.load(out)) == 5


@pytest.mark.parametrize(("spec", "message"), [
    ("nonexistent.onnx", "not found"),
    ("maskdino", "unknown segmenter"),
    ("oracle:missing.json", "oracle:MASKS.json"),
    ("hf:/nonexistent/folder", "hf:"),
])
def test_a_bad_segmenter_spec_is_one_clear_line_and_exit_2(synth, tmp_path, caplog, spec,
                                                         message):
    code = run_cli("segment", synth.parent / "images", "--out", tmp_path / "m.json",
                   "--segmenter", spec, "--no-progress")
    assert code == 2
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and message in errors[0].getMessage()
    assert "\n" not in errors[0].getMessage()


def test_malformed_yaml_spec_names_the_fix(synth, tmp_path, caplog):
    spec = tmp_path / "seg.yaml"
    spec.write_text("model: [unclosed\n")
    assert run_cli("segment", synth.parent / "images", "--out", tmp_path / "m.json",
                   "--segmenter", spec, "--no-progress") == 2
    assert "not valid YAML" in caplog.text and "README" in caplog.text


def test_label_segments_first_when_no_masks_are_given(synth, tmp_path, caplog):
    out = tmp_path / "labels.json"
    assert run_cli("label", synth.parent / "images", "--out", out) == 2
    assert "--masks" in caplog.text and "--segmenter" in caplog.text
    assert run_cli("label", synth.parent / "images", "--out", out, "--segmenter",
                   f"oracle:{synth}", "--saliency", "spectral", "--inpaint", "telea",
                   "--no-progress") == 0
    labels = Dataset.load(out)
    assert len(labels) == 5 and all(labels.has_ranks(r.id) for r in labels.images)
    assert (tmp_path / "labels.masks.json").is_file()


def test_annotate_without_masks_or_segmenter_names_both(synth, tmp_path, capsys):
    assert run_cli("annotate", synth.parent / "images", "--out", tmp_path / "r.json") == 2
    err = capsys.readouterr().err
    assert "--masks" in err and "--segmenter" in err


def test_a_loose_box_around_a_better_box_of_its_class_is_dropped():
    from foir360_core.segmentation.detector import nested_keep

    boxes = np.array([[10, 50, 60, 90], [0, 0, 100, 100], [12, 52, 58, 88], [0, 0, 100, 100]],
                     np.float32)
    scores = np.array([0.5, 0.3, 0.4, 0.3], np.float32)
    labels = np.array([1, 1, 2, 3])
    # the loose class-1 box goes; a class-2 box inside it and a lone class-3 box stay
    assert nested_keep(boxes, scores, labels).tolist() == [True, False, True, True]


def test_the_nadir_is_found_in_a_downward_view():
    from foir360_core.segmentation.detector import holds_pole

    down = ViewGeometry(0.0, np.radians(-60), 100.0, 512, 512)
    boxes = np.array([[200, 330, 310, 430], [0, 0, 100, 100]], np.float32)
    assert holds_pole(boxes, down).tolist() == [True, False]  # nadir 30° below the centre
    level = ViewGeometry(0.0, 0.0, 90.0, 512, 512)
    assert not holds_pole(np.array([[0, 0, 512, 512]], np.float32), level).any()
    from foir360_core.segmentation.detector import polar_centre

    centre = np.array([[246, 246, 266, 266]], np.float32)  # looks 60° down
    assert polar_centre(centre, down).tolist() == [True]
    assert polar_centre(centre, level).tolist() == [False]


REAL360 = Path("/work/shared/real360/images")


@pytest.mark.slow
def test_coco_centernet_segments_real_panoramas(tmp_path):
    if not REAL360.is_dir():
        pytest.skip(f"{REAL360} is absent (real ERP photos for development)")
    from foir360_core.segmentation.centernet import COCO_NAMES

    rooms = [REAL360 / "bifuse_Sample.jpg", REAL360 / "panolens_cabin.jpg"]
    out = tmp_path / "masks.json"
    assert run_cli("segment", *rooms, "--out", out, "--no-progress", "--workers", 2) == 0
    dataset = Dataset.load(out)
    assert [c["name"] for c in dataset.categories] == list(COCO_NAMES)
    names = set()
    for record in dataset.images:
        instances = dataset.instances(record.id)
        assert len(instances) >= 3
        assert instances.masks.sum(0).max() == 1
        names |= {COCO_NAMES[c - 1] for c in instances.class_ids}
    assert {"bed", "couch"} <= names  # a bedroom with a couch, a cabin with two beds
