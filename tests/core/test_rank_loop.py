"""The sequential rank head exported as an ONNX Loop: same outputs as PyTorch and as the
unrolled export, the early-exit threshold input, and no optimised-graph cache for it.

A tiny randomly initialised PanoRank (``tests.tiny_model``) stands in for trained weights.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from foir360_core.models.artifact import INPUT_NAME, THRESHOLD_INPUT  # noqa: E402
from foir360_core.models.checkpoint import load_checkpoint  # noqa: E402
from foir360_core.models.preprocess import prepare_input  # noqa: E402
from foir360_core.onnx import onnx_session  # noqa: E402
from foir360_core.onnx.session import has_control_flow, optimized_model_path  # noqa: E402
from foir360_core.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend  # noqa: E402
from foir360_core.runtime.export import export_onnx, sample_panorama  # noqa: E402
from tests.tiny_model import save_tiny_checkpoint  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp("loop") / "tiny.safetensors", "1")


@pytest.fixture(scope="module")
def exports(checkpoint, tmp_path_factory):
    """(loop, unrolled) exports of the same checkpoint, both parity-checked on export."""
    out = tmp_path_factory.mktemp("onnx")
    return (export_onnx(checkpoint, out / "loop.onnx").path,
            export_onnx(checkpoint, out / "unrolled.onnx", loop=False).path)


@pytest.fixture(scope="module")
def batch():
    return prepare_input(sample_panorama((64, 128), seed=3), (64, 128))


def _ops(path) -> list[str]:
    return [node.op_type for node in onnx.load(str(path)).graph.node]


def test_the_loop_export_has_one_loop_and_fewer_nodes(exports):
    loop, unrolled = exports
    assert _ops(loop).count("Loop") == 1 and "Loop" not in _ops(unrolled)
    assert len(_ops(loop)) < len(_ops(unrolled)) / 2
    assert has_control_flow(loop) and not has_control_flow(unrolled)


def test_loop_equals_unrolled_and_pytorch(exports, checkpoint, batch):
    model, _ = load_checkpoint(checkpoint)
    with torch.inference_mode():
        ref = [t.numpy() for t in model.float().eval().export_module()(torch.from_numpy(batch))]
    loop = OnnxRuntimeBackend(exports[0], device="cpu").infer(batch)
    unrolled = OnnxRuntimeBackend(exports[1], device="cpu").infer(batch)
    for i, name in enumerate(model.output_names):
        np.testing.assert_allclose(loop[name], ref[i], atol=1e-4)
        np.testing.assert_allclose(loop[name], unrolled[name], atol=1e-4)
    np.testing.assert_array_equal(np.argsort(-loop["rank_scores"]), np.argsort(-ref[2]))


def test_the_threshold_input_ends_the_loop_early(exports, batch):
    session = ort.InferenceSession(str(exports[0]), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_overridable_initializers()] == [THRESHOLD_INPUT]
    default = session.run(["rank_scores"], {INPUT_NAME: batch})[0]

    def run(threshold: float) -> np.ndarray:
        feed = {INPUT_NAME: batch, THRESHOLD_INPUT: np.array(threshold, np.float32)}
        return session.run(["rank_scores"], feed)[0]
    np.testing.assert_array_equal(run(0.0), default)  # default 0: every step runs
    assert np.all(run(2.0) < -2.0)  # nothing reaches 2: nobody is picked
    backend = OnnxRuntimeBackend(exports[0], device="cpu", rank_threshold=2.0)
    np.testing.assert_array_equal(backend.infer(batch)["rank_scores"], run(2.0))
    # the unrolled graph has no such input, and the backend feeds it nothing
    OnnxRuntimeBackend(exports[1], device="cpu", rank_threshold=2.0).infer(batch)


def test_kept_queries_rank_the_same_with_an_early_exit(exports, batch):
    session = ort.InferenceSession(str(exports[0]), providers=["CPUExecutionProvider"])
    class_logits, full = session.run(["class_logits", "rank_scores"], {INPUT_NAME: batch})
    probs = np.exp(class_logits[0]) / np.exp(class_logits[0]).sum(-1, keepdims=True)
    obj = 1.0 - probs[:, -1]
    threshold = float(np.median(obj))
    early = session.run(["rank_scores"], {INPUT_NAME: batch,
                                          THRESHOLD_INPUT: np.array(threshold, np.float32)})[0]
    kept = obj >= threshold
    assert 0 < kept.sum() < len(obj)
    np.testing.assert_array_equal(early[0][kept], full[0][kept])


def test_the_session_cache_skips_loop_graphs(exports, tmp_path, batch):
    loop, unrolled = exports
    onnx_session(loop, cache_dir=tmp_path).run(None, {INPUT_NAME: batch})
    assert not optimized_model_path(ort, loop, tmp_path).exists()
    onnx_session(unrolled, cache_dir=tmp_path)
    assert optimized_model_path(ort, unrolled, tmp_path).is_file()


def test_the_cli_can_still_unroll(checkpoint, tmp_path):
    from foir360_core.cli.main import main

    out = tmp_path / "cli.onnx"
    assert main(["export", str(checkpoint), "--out", str(out), "--unrolled", "--no-parity"]) == 0
    assert not has_control_flow(out)
