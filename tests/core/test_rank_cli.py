"""``foir360 rank`` as the user chains it: file names `eval` can join, and the node's 2:1 rule."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from foir360_core.cli.main import main
from foir360_core.io import Dataset, write_dataset, write_image
from foir360_core.synth import generate_dataset
from tests.logs import captured
from tests.tiny_model import save_tiny_checkpoint


@pytest.fixture(scope="module")
def model_args(tmp_path_factory) -> list[str]:
    """The tiny model and one ONNX cache for the module (the export takes seconds)."""
    folder = tmp_path_factory.mktemp("rank")
    checkpoint = save_tiny_checkpoint(folder / "tiny.safetensors", "1")
    return ["--model", str(checkpoint), "--backend", "onnxruntime", "--cache-dir",
            str(folder / "cache"), "--score-threshold", "0"]


def test_rank_names_images_relative_to_the_input_folder_so_eval_joins_them(
        model_args, tmp_path, capsys) -> None:
    masks = generate_dataset(tmp_path / "data", 2, seed=3, height=64, n_objects=3)
    source = Dataset.load(masks)
    gt = write_dataset(tmp_path / "data" / "gt.json",
                       [(r, source.instances(r.id).with_ranks(
                           np.arange(1, len(source.instances(r.id)) + 1)))
                        for r in source.images])
    out = tmp_path / "ranked"
    assert main(["rank", str(tmp_path / "data" / "images"), "--out", str(out),
                 *model_args]) == 0
    ranked = Dataset.load(out / "ranked.json")
    assert [r.file_name for r in ranked.images] == ["pano_0000.png", "pano_0001.png"]
    assert ranked.read_image(1).shape == (64, 128, 3)  # still resolvable from the JSON
    capsys.readouterr()
    assert main(["eval", "--gt", str(gt), "--pred", str(out / "ranked.json"),
                 "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "no prediction" not in err and "joined by id" not in err


def test_rank_rejects_a_non_erp_image_unless_allowed(model_args, tmp_path) -> None:
    image = np.random.default_rng(0).integers(0, 255, (64, 100, 3), dtype=np.uint8)
    write_image(tmp_path / "in" / "photo.png", image)
    args = ["rank", str(tmp_path / "in"), "--out", str(tmp_path / "out"),
            *model_args]
    with captured("foir360.rank") as messages:
        assert main(args) == 1  # the image was skipped: exit 1, as for an unreadable one
    assert any("not a 2:1" in m and "--no-strict-erp" in m for m in messages)
    assert not (tmp_path / "out" / "ranked.json").exists()
    with pytest.warns(UserWarning, match="not a 2:1"):
        assert main([*args, "--no-strict-erp"]) == 0
        assert len(Dataset.load(tmp_path / "out" / "ranked.json", strict_erp=False)) == 1


def test_a_truncated_onnx_model_is_one_line_naming_it(model_args, tmp_path, capsys) -> None:
    from foir360_core.runtime.export import export_onnx

    checkpoint = model_args[model_args.index("--model") + 1]
    onnx = export_onnx(checkpoint, tmp_path / "model.onnx", parity=False).path
    onnx.write_bytes(onnx.read_bytes()[:5000])  # a copy cut short
    image = np.zeros((64, 128, 3), np.uint8)
    write_image(tmp_path / "in" / "pano.png", image)
    with captured("foir360.rank") as messages:
        code = main(["rank", str(tmp_path / "in"), "--out", str(tmp_path / "out"),
                     "--model", str(onnx), "--backend", "onnxruntime"])
    lines = capsys.readouterr().err.splitlines() + messages
    assert code != 0 and len(lines) == 1, lines
    assert str(onnx) in lines[0] and "cannot load ONNX model" in lines[0]
    assert "re-export" in lines[0]  # and what to do about it
