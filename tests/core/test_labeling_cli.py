"""``foir360 label`` end to end on synthetic panoramas: output, resume, shards, workers, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from foir360_core.cli.main import main
from foir360_core.io import Dataset
from foir360_core.labeling.pipeline import LabelConfig
from foir360_core.labeling.runner import RunOptions, run_labeling
from foir360_core.synth import generate_dataset

FAST = ["--inpaint", "telea", "--view-size", "96", "--no-progress"]


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("synth"), 3, seed=7, height=128,
                            n_objects=(4, 8))


def options(masks: Path, out: Path, **kw) -> RunOptions:
    base = {"masks": masks, "out": out, "inpaint": "telea", "progress_bar": False,
            "config": LabelConfig(view_size=96)}
    return RunOptions(**{**base, **kw})


def ranks_of(path: Path) -> dict[int, list[int]]:
    dataset = Dataset.load(path)
    return {r.id: dataset.instances(r.id).ranks.tolist() for r in dataset.images}


def test_label_writes_a_complete_ranked_dataset_and_resumes(synth, tmp_path):
    out = tmp_path / "labels" / "labels.json"
    assert main(["label", str(synth.parent), "--masks", str(synth), "--out", str(out),
                 *FAST]) == 0
    labeled = Dataset.load(out)  # validates: every image's ranks are a permutation of 1..N
    source = Dataset.load(synth)
    assert [r.id for r in labeled.images] == [r.id for r in source.images]
    for record in labeled.images:
        instances = labeled.instances(record.id)
        assert len(instances) == len(source.instances(record.id))
        assert instances.scores is not None
        np.testing.assert_array_equal(instances.masks, source.instances(record.id).masks)
        assert record.extra["density"] > 0 and isinstance(record.extra["dense"], bool)
        assert len(record.extra["local_rankings"]) == len(instances)
        assert labeled.read_image(record.id).shape == (128, 256, 3)  # file_name still resolves
    again = run_labeling(options(synth, out))
    assert again.already_done == 3 and again.labeled == 0
    assert ranks_of(out) == ranks_of(out)
    progress = out.with_name("labels.json.progress") / "all.jsonl"
    assert len(progress.read_text().splitlines()) == 3
    other = tmp_path / "again.json"
    assert main(["label", str(synth), "--out", str(other), *FAST]) == 0  # masks JSON as IMAGES
    assert ranks_of(other) == ranks_of(out)  # deterministic
    assert main(["label", str(synth), "--out", str(out), "--mode", "exact", *FAST]) == 2


def test_shards_then_merge_and_workers_match_a_single_run(synth, tmp_path):
    single = run_labeling(options(synth, tmp_path / "single.json")).output
    out = tmp_path / "sharded.json"
    for index in range(2):
        summary = run_labeling(options(synth, out, shard=(index, 2)))
        part = Dataset.load(summary.output)
        assert summary.output.name == f"sharded.shard-{index}-of-2.json"
        assert [r.id for r in part.images] == ([1, 3] if index == 0 else [2])
    merged = run_labeling(options(synth, out))
    assert merged.already_done == 3 and merged.labeled == 0
    assert ranks_of(out) == ranks_of(single)
    pooled = run_labeling(options(synth, tmp_path / "pooled.json", workers=2))
    assert pooled.labeled == 3
    assert ranks_of(pooled.output) == ranks_of(single)


def test_debug_dir_writes_views_saliency_and_erasure_steps(synth, tmp_path):
    run_labeling(options(synth, tmp_path / "l.json", debug_dir=tmp_path / "debug"))
    files = sorted(p.name for p in (tmp_path / "debug" / "image_1").iterdir())
    assert "view000_input.png" in files
    assert any(f.endswith("_saliency.png") for f in files)
    assert any(f.endswith("step01_image.png") for f in files)


def test_bad_panoramas_are_reported_and_the_rest_is_labeled(synth, tmp_path, caplog):
    data = json.loads(synth.read_text())
    shutil.copytree(synth.parent / "images", tmp_path / "images")
    (tmp_path / "images" / "pano_0001.png").write_bytes(b"\x89PNG truncated")
    by_image = {i: [a for a in data["annotations"] if a["image_id"] == i] for i in (1, 2, 3)}
    by_image[3][0]["segmentation"]["size"] = [64, 128]  # a mask that does not fit
    extra = [dict(data["images"][0], id=4), dict(data["images"][0], id=5)]
    one = dict(by_image[1][0], id=9999, image_id=5)
    data["images"] += extra
    data["annotations"] = [*by_image[1], *by_image[2], *by_image[3], one]
    masks = tmp_path / "masks.json"
    masks.write_text(json.dumps(data))
    summary = run_labeling(options(masks, tmp_path / "out.json"))
    assert summary.labeled == 2 and summary.trivial == 1 and summary.empty == 1
    assert set(summary.failed) == {2, 3}
    assert "cannot decode image" in summary.failed[2]
    assert "does not fit" in summary.failed[3] or "mask of size" in summary.failed[3]
    result = ranks_of(summary.output)
    assert set(result) == {1, 5} and result[5] == [1]
    assert sorted(result[1]) == list(range(1, len(by_image[1]) + 1))
    assert main(["label", str(masks), "--out", str(tmp_path / "cli.json"), *FAST]) == 1
    empty = tmp_path / "empty.json"
    empty.write_text("")
    assert main(["label", str(empty), "--out", str(tmp_path / "x.json"), *FAST]) == 2
    assert "is empty" in caplog.text
    empty.write_text(json.dumps({"images": [], "annotations": []}))
    assert main(["label", str(empty), "--out", str(tmp_path / "x.json"), *FAST]) == 2


def test_a_changed_panorama_is_labeled_again_on_resume(synth, tmp_path):
    data = json.loads(synth.read_text())
    masks = synth.parent / "changed.json"
    masks.write_text(json.dumps(data))
    out = tmp_path / "labels.json"
    assert run_labeling(options(masks, out)).labeled == 3
    first = [a for a in data["annotations"] if a["image_id"] == 1]
    data["annotations"] = [a for a in data["annotations"] if a["id"] != first[-1]["id"]]
    masks.write_text(json.dumps(data))
    summary = run_labeling(options(masks, out))
    assert summary.labeled == 1 and summary.already_done == 2
    assert sorted(ranks_of(out)[1]) == list(range(1, len(first)))


def copy_dataset(synth: Path, where: Path) -> tuple[Path, dict]:
    """A private copy of the synthetic dataset (images and masks) that a test may change."""
    shutil.copytree(synth.parent / "images", where / "images")
    data = json.loads(synth.read_text())
    masks = where / "masks.json"
    masks.write_text(json.dumps(data))
    return masks, data


def test_resume_relabels_a_panorama_whose_masks_or_image_changed(synth, tmp_path, caplog):
    masks, data = copy_dataset(synth, tmp_path)
    out = tmp_path / "labels.json"
    assert run_labeling(options(masks, out)).labeled == 3
    # Same object count, other masks: the objects' old ranks would go to the wrong masks.
    first = [a for a in data["annotations"] if a["image_id"] == 1]
    first[0]["segmentation"], first[1]["segmentation"] = \
        first[1]["segmentation"], first[0]["segmentation"]
    masks.write_text(json.dumps(data))
    summary = run_labeling(options(masks, out))
    assert summary.labeled == 1 and summary.already_done == 2
    assert "image 1" in caplog.text and "changed" in caplog.text
    fresh = run_labeling(options(masks, tmp_path / "fresh.json"))
    assert ranks_of(out) == ranks_of(fresh.output)
    # Same masks, another picture.
    records = Dataset.load(masks)
    (tmp_path / records.record(2).file_name).write_bytes(
        (tmp_path / records.record(3).file_name).read_bytes())
    assert run_labeling(options(masks, out)).labeled == 1
    assert run_labeling(options(masks, out)).labeled == 0


def test_a_torn_last_progress_line_is_repaired_once(synth, tmp_path, caplog):
    masks, _ = copy_dataset(synth, tmp_path)
    out = tmp_path / "labels.json"
    assert run_labeling(options(masks, out)).labeled == 3
    progress = out.with_name("labels.json.progress") / "all.jsonl"
    text = progress.read_text()
    progress.write_text(text[: len(text) - 40])  # killed while writing the last line
    summary = run_labeling(options(masks, out))
    assert summary.labeled == 1 and summary.already_done == 2
    assert "torn" in caplog.text
    again = run_labeling(options(masks, out))
    assert again.labeled == 0 and again.already_done == 3
    lines = progress.read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(line)["status"] == "ok" for line in lines)


def test_a_duplicate_image_id_is_reported_and_the_rest_labeled(synth, tmp_path):
    masks, data = copy_dataset(synth, tmp_path)
    data["images"].append(dict(data["images"][1], file_name="another.png"))
    masks.write_text(json.dumps(data))
    summary = run_labeling(options(masks, tmp_path / "labels.json"))
    assert summary.labeled == 2 and set(summary.failed) == {2}
    assert "used by 2" in summary.failed[2] and "another.png" in summary.failed[2]
    assert set(ranks_of(summary.output)) == {1, 3}
    assert main(["label", str(masks), "--out", str(tmp_path / "cli.json"), *FAST]) == 1
