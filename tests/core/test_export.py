"""ONNX export: embedded metadata, fixed and dynamic shapes, the parity check, the CLI.

A tiny randomly initialised PanoRank (D's ``build_model`` + ``save_checkpoint``) stands in
for trained weights; export, ONNX Runtime and the comparison all run for real.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from foir360_core.cli.main import main  # noqa: E402
from foir360_core.models.artifact import (  # noqa: E402
    ModelInfo,
    ModelInfoError,
    read_onnx_info,
)
from foir360_core.models.checkpoint import load_checkpoint  # noqa: E402
from foir360_core.runtime.export import ExportError, check_parity, export_onnx  # noqa: E402
from foir360_core.runtime.parity import compare_instances  # noqa: E402
from foir360_core.structures import PanoInstances  # noqa: E402
from tests.tiny_model import save_tiny_checkpoint  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp("export") / "tiny.safetensors", "3")


@pytest.fixture(scope="module")
def exported(checkpoint, tmp_path_factory):
    return export_onnx(checkpoint, tmp_path_factory.mktemp("onnx") / "tiny.onnx")


def test_export_embeds_the_model_description(exported, checkpoint):
    _, meta = load_checkpoint(checkpoint)
    info = read_onnx_info(exported.path)
    assert info == exported.info
    assert info.name == "tiny" and info.version == "3"
    assert info.class_names == ("box", "ball")
    assert info.input_size == (64, 128) and not info.dynamic_shapes
    assert info.config_hash == meta["config_hash"]
    assert info.preprocessing["mean"] == [0.5, 0.5, 0.5]
    model = onnx.load(str(exported.path))
    onnx.checker.check_model(model)
    assert model.producer_name == "foir360" and model.model_version == 3
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, 64, 128]
    assert [o.name for o in model.graph.output] == ["class_logits", "mask_logits", "rank_scores"]


def test_export_parity_passed_and_is_recorded(exported):
    (report,) = exported.parity
    assert report.ok, report.summary()
    assert report.input_size == (64, 128)
    assert max(report.max_abs_diff.values()) < 1e-3
    assert report.instances[0] == report.instances[1] >= 1


def test_parity_check_catches_a_wrong_graph(exported, checkpoint, tmp_path):
    model = onnx.load(str(exported.path))
    rng = np.random.default_rng(1)
    for init in model.graph.initializer:  # the decoder's weights, perturbed by 50 %
        if "decoder" in init.name and init.data_type == onnx.TensorProto.FLOAT:
            values = onnx.numpy_helper.to_array(init)
            noisy = values * (1 + 0.5 * rng.standard_normal(values.shape)).astype(np.float32)
            init.CopyFrom(onnx.numpy_helper.from_array(noisy.astype(np.float32), init.name))
    broken = tmp_path / "broken.onnx"
    onnx.save(model, str(broken))
    torch_model, _ = load_checkpoint(checkpoint)
    report = check_parity(torch_model, broken, (64, 128))
    assert not report.ok
    assert max(report.max_abs_diff.values()) > 1e-2


def test_shape_specialised_graph_is_refused_as_dynamic(checkpoint, tmp_path):
    out = tmp_path / "dyn.onnx"
    with pytest.raises(ExportError, match="fixed shapes"):
        export_onnx(checkpoint, out, dynamic=True)
    assert not out.exists()
    assert not list(tmp_path.iterdir())  # no temporary file left behind


def test_invalid_input_size_is_rejected(checkpoint, tmp_path):
    with pytest.raises(ValueError, match="multiple of 32"):
        export_onnx(checkpoint, tmp_path / "x.onnx", input_size=(50, 100))


def _instances(masks_at: list[int], scores: list[float], classes=None) -> PanoInstances:
    masks = np.zeros((len(masks_at), 8, 16), bool)
    for i, col in enumerate(masks_at):
        masks[i, 2:6, col:col + 3] = True
    scores = np.asarray(scores, float)
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), int)
    ranks[order] = np.arange(1, len(scores) + 1)
    return PanoInstances(masks=masks, class_ids=classes or [0] * len(scores), ranks=ranks,
                         scores=scores)


def test_compare_instances_rules():
    ref = _instances([0, 4, 8, 12], [4.0, 3.0, 2.0, 1.0])
    same_shuffled = _instances([12, 8, 4, 0], [1.0, 2.0, 3.0, 4.0])
    assert compare_instances(ref, same_shuffled) == ([], 1.0)
    swapped = _instances([0, 4, 8, 12], [3.0, 4.0, 2.0, 1.0])
    problems, _ = compare_instances(ref, swapped)
    assert any("order differs" in p for p in problems)
    tied_ref = _instances([0, 4, 8, 12], [4.0, 3.0005, 3.0, 1.0])
    tie_swapped = _instances([0, 4, 8, 12], [4.0, 3.0, 3.0005, 1.0])
    assert compare_instances(tied_ref, tie_swapped)[0] == []
    fewer = _instances([0, 4, 8], [4.0, 3.0, 2.0])
    assert any("4 instances" in p for p in compare_instances(ref, fewer)[0])
    shifted = _instances([1, 4, 8, 12], [4.0, 3.0, 2.0, 1.0])
    problems, worst = compare_instances(ref, shifted)
    assert worst == pytest.approx(0.5) and any("IoU" in p for p in problems)
    other_class = _instances([0, 4, 8, 12], [4.0, 3.0, 2.0, 1.0], classes=[1, 0, 0, 0])
    assert any("class" in p for p in compare_instances(ref, other_class)[0])


def test_model_info_roundtrip_and_missing_metadata():
    info = ModelInfo("m", "2", ("a", "b"), (256, 512), {"mean": [0.5] * 3}, "abc", True)
    assert ModelInfo.from_onnx_metadata(info.to_onnx_metadata()) == info
    with pytest.raises(ModelInfoError, match="foir360 export"):
        ModelInfo.from_onnx_metadata({"other": "x"})


def test_export_cli_at_another_fixed_size(checkpoint, tmp_path, capsys):
    out = tmp_path / "cli.onnx"
    assert main(["export", str(checkpoint), "--out", str(out), "--input-size", "96", "192"]) == 0
    printed = capsys.readouterr().out
    assert "parity at 96x192" in printed and "OK" in printed
    info = read_onnx_info(out)
    assert info.name == "tiny" and info.input_size == (96, 192)
    assert main(["export", str(tmp_path / "missing.safetensors"), "--out", str(out)]) == 1


def test_exported_model_ranks_with_onnxruntime_in_a_process_without_torch(exported):
    """A robot with only ONNX Runtime: the runtime, pre- and post-processing never need torch."""
    script = (
        "import sys; sys.modules['torch'] = None\n"  # any `import torch` now fails
        "import numpy as np\n"
        "from foir360_core.runtime import Ranker\n"
        f"ranker = Ranker({str(exported.path)!r}, backend='onnxruntime', score_threshold=0.0,"
        " allow_fallback=False, threads=1)\n"
        "result = ranker.rank(np.full((64, 128, 3), 90, np.uint8))\n"
        "assert sorted(result.ranks.tolist()) == list(range(1, len(result) + 1))\n"
        "print('backend', ranker.info['backend'], 'instances', len(result))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parents[2], check=False)
    assert done.returncode == 0, done.stderr
    assert "backend onnxruntime" in done.stdout
