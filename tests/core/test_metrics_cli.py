"""``foir360 eval`` end to end on tiny dataset files written to tmp."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from foir360_core.cli.main import main
from foir360_core.io import ImageRecord, write_dataset
from foir360_core.structures import PanoInstances

H, W = 8, 16


def masks() -> np.ndarray:
    out = np.zeros((3, H, W), dtype=bool)
    out[0, 0:2, 0:4] = out[1, 3:5, 3:9] = out[2, 6:8, 10:16] = True
    return out


def gt_file(path: Path) -> Path:
    """Images a, b, c with three ranked objects each, and d without any object."""
    gt = PanoInstances(masks(), ranks=[1, 2, 3])
    empty = PanoInstances(np.zeros((0, H, W), dtype=bool))
    return write_dataset(path, [(ImageRecord(i + 1, f"{name}.png", W, H), gt)
                                for i, name in enumerate("abc")]
                         + [(ImageRecord(4, "d.png", W, H), empty)])


def read_rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return {row["image"]: row for row in csv.DictReader(handle)}


def test_eval_all_profiles_joins_by_file_name(tmp_path, capsys):
    gt_path = gt_file(tmp_path / "gt.json")
    perfect = PanoInstances(masks(), scores=[0.9, 0.5, 0.1])
    reversed_ = PanoInstances(masks(), ranks=[3, 2, 1])
    # different ids and list order than the GT; "b" has no prediction at all
    pred_path = write_dataset(tmp_path / "pred.json", [
        (ImageRecord(40, "c.png", W, H), reversed_), (ImageRecord(7, "a.png", W, H), perfect)])
    out = tmp_path / "out"
    rc = main(["eval", "--gt", str(gt_path), "--pred", str(pred_path), "--profile", "all",
               "--out", str(out), "--no-progress"])
    captured = capsys.readouterr()
    assert rc == 0
    header = captured.out.splitlines()[0].split()
    assert header == ["metric", "foir360", "assr", "irsr", "seqrank"]
    assert "b.png: no prediction; scored as an empty prediction" in captured.err
    rows = read_rows(out / "per_image_foir360.csv")
    assert float(rows["a.png"]["rho"]) == pytest.approx(1.0)
    assert float(rows["c.png"]["rho"]) == pytest.approx(-1.0)
    assert rows["b.png"]["rho"] == "" and rows["b.png"]["n_pred"] == "0"
    assert rows["d.png"]["n_gt"] == "0" and float(rows["d.png"]["mae"]) == 0.0  # still scored
    assert set(read_rows(out / "per_image_seqrank.csv")) == {"a.png", "b.png", "c.png"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["foir360"]["summary"]["images_used"] == 2
    assert summary["foir360"]["summary"]["n_images"] == 4
    assert summary["foir360"]["summary"]["sor"] == pytest.approx(0.5)
    assert summary["foir360"]["profile"]["coverage"] == 0.98
    assert (out / "sor_plots.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_rejects_a_predicted_image_missing_from_gt(tmp_path, capsys):
    gt_path = gt_file(tmp_path / "gt.json")
    pred = PanoInstances(masks(), scores=[0.9, 0.5, 0.1])
    pred_path = write_dataset(tmp_path / "pred.json",
                              [(ImageRecord(99, "zzz.png", W, H), pred)])
    rc = main(["eval", "--gt", str(gt_path), "--pred", str(pred_path), "--no-progress"])
    assert rc == 2
    assert "prediction image 99 (zzz.png) is not in the GT" in capsys.readouterr().err


def test_eval_joins_by_id_only_when_asked_and_honours_threshold_overrides(tmp_path, capsys):
    gt_path = gt_file(tmp_path / "gt.json")
    pred = PanoInstances(masks(), scores=[0.9, 0.5, 0.1])
    pred_path = write_dataset(tmp_path / "pred.json",
                              [(ImageRecord(2, "renamed.png", W, H), pred)])
    args = ["eval", "--gt", str(gt_path), "--pred", str(pred_path), "--profile", "assr",
            "--coverage", "0.7", "--iou", "0.3", "--no-progress"]
    assert main(args) == 2  # an unknown name is not silently paired with GT image 2
    assert "renamed.png) is not in the GT" in capsys.readouterr().err
    assert main([*args, "--join", "id"]) == 0
    captured = capsys.readouterr()
    assert "assr: coverage 0.7, IoU 0.3" in captured.out
    summary = [line.split() for line in captured.out.splitlines()]
    assert ["images_used", "1"] in [row[:2] for row in summary]


def test_eval_joins_names_written_from_different_folders(tmp_path, capsys):
    """GT names relative to the dataset folder, predictions' to the image folder."""
    gt = PanoInstances(masks(), ranks=[1, 2, 3])
    gt_path = write_dataset(tmp_path / "data" / "gt.json",
                            [(ImageRecord(i, f"images/{n}.png", W, H), gt)
                             for i, n in enumerate("ab", 1)])
    pred = PanoInstances(masks(), scores=[0.9, 0.5, 0.1])
    pred_path = write_dataset(tmp_path / "ranked" / "ranked.json",
                              [(ImageRecord(1, "b.png", W, H), pred)])
    rc = main(["eval", "--gt", str(gt_path), "--pred", str(pred_path), "--no-progress",
               "--out", str(tmp_path / "eval")])
    assert rc == 0, capsys.readouterr().err
    rows = read_rows(tmp_path / "eval" / "per_image_foir360.csv")
    assert float(rows["images/b.png"]["rho"]) == pytest.approx(1.0)
    assert rows["images/a.png"]["n_pred"] == "0"


def test_eval_reports_a_missing_file(tmp_path, capsys):
    rc = main(["eval", "--gt", str(tmp_path / "nope.json"), "--pred", str(tmp_path / "p.json")])
    assert rc == 2
    assert "dataset file not found" in capsys.readouterr().err
