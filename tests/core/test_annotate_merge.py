"""Merging annotators' rank files and their agreement (Kendall's tau)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from foir360_core.annotate import merge_annotations
from foir360_core.cli.main import main
from foir360_core.io import Dataset, ImageRecord, write_dataset
from foir360_core.structures import PanoInstances

H, W = 32, 64


def masks(n: int, shift: int = 0) -> np.ndarray:
    out = np.zeros((n, H, W), dtype=bool)
    for i in range(n):
        out[i, 10:16, 2 + 6 * i + shift : 6 + 6 * i + shift] = True
    return out


def annotator_file(path: Path, name: str, ranked: dict[int, list[int]],
                   shifted: frozenset[int] = frozenset()) -> Path:
    """A rank file as ``foir360 annotate`` writes it: image id -> ranks of its objects."""
    entries = [(ImageRecord(i, f"pano_{i}.png", W, H, {"annotation": {"annotator": name}}),
                PanoInstances(masks(len(r), shift=1 if i in shifted else 0), ranks=r))
               for i, r in ranked.items()]
    return write_dataset(path, entries, info={"annotate": {"annotator": name}})


def test_agreement_and_merge(tmp_path: Path) -> None:
    a = annotator_file(tmp_path / "a.json", "alice",
                       {1: [1, 2, 3, 4], 2: [1, 2, 3], 3: [2, 1], 4: [1]})
    b = annotator_file(tmp_path / "b.json", "bob", {1: [2, 1, 3, 4], 2: [3, 2, 1], 5: [1, 2]})
    report = merge_annotations([a, b], tmp_path / "merged.json")
    assert report.annotators == ["alice", "bob"]
    assert (report.images, report.shared) == (5, 2)
    pair = report.pairs[0]
    # One swapped pair of 4 objects: tau = (5 - 1) / 6; a full reversal of 3: tau = -1.
    assert pair.taus == pytest.approx({1: 4 / 6, 2: -1.0})
    assert report.mean_tau == pytest.approx((4 / 6 - 1.0) / 2)
    merged = Dataset.load(tmp_path / "merged.json")
    assert [r.id for r in merged.images] == [1, 2, 3, 4, 5]
    assert merged.instances(3).ranks.tolist() == [2, 1]  # only alice: copied
    assert merged.instances(5).ranks.tolist() == [1, 2]  # only bob: copied
    # Objects 2 and 3 are agreed; objects 0 and 1 tie (one vote each way) and stay on top.
    assert sorted(merged.instances(1).ranks[:2].tolist()) == [1, 2]
    assert merged.instances(1).ranks[2:].tolist() == [3, 4]
    extra = merged.record(1).extra["annotations"]
    assert [e["annotator"] for e in extra] == ["alice", "bob"]
    assert merged.info["annotate_merge"]["pairs"][0]["images"] == 2


def test_images_with_different_masks_are_not_compared(tmp_path: Path) -> None:
    a = annotator_file(tmp_path / "a.json", "alice", {1: [1, 2, 3]})
    b = annotator_file(tmp_path / "b.json", "bob", {1: [3, 2, 1]}, shifted=frozenset({1}))
    report = merge_annotations([a, b], tmp_path / "merged.json")
    assert report.pairs[0].taus == {} and report.mean_tau is None
    assert any("masks differ" in w for w in report.warnings)
    assert Dataset.load(tmp_path / "merged.json").instances(1).ranks.tolist() == [1, 2, 3]


def test_cli_writes_the_merge_and_the_report(tmp_path: Path, capsys) -> None:
    a = annotator_file(tmp_path / "a.json", "alice", {1: [1, 2, 3]})
    b = annotator_file(tmp_path / "b.json", "alice", {1: [1, 3, 2]})
    code = main(["annotate-merge", str(a), str(b), "--out", str(tmp_path / "m.json"),
                 "--report", str(tmp_path / "report.json")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "Kendall's tau alice vs alice (b.json): 0.333" in printed
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["mean_kendall_tau"] == pytest.approx(1 / 3)
    assert main(["annotate-merge", str(tmp_path / "missing.json"), "--out",
                 str(tmp_path / "x.json")]) == 2
