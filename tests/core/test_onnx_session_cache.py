"""The optimised-graph cache of ``onnx_session``: same outputs, reused, rebuilt when stale."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest

from foir360_core.onnx import onnx_session
from foir360_core.onnx.session import optimized_model_path

ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory):
    torch.manual_seed(0)
    net = torch.nn.Sequential(  # conv + BN + activation: the optimiser fuses and reorders these
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 4, 3, padding=1), torch.nn.Sigmoid()).eval()
    path = tmp_path_factory.mktemp("onnx") / "net.onnx"
    torch.onnx.export(net, (torch.randn(1, 3, 16, 32),), str(path), dynamo=False,
                      input_names=["x"], output_names=["y"])
    return path


def _run(session) -> np.ndarray:
    x = np.random.default_rng(0).normal(size=(1, 3, 16, 32)).astype(np.float32)
    return session.run(None, {"x": x})[0]


def test_first_session_saves_the_optimised_graph_and_later_ones_load_it(onnx_file, tmp_path):
    plain = _run(onnx_session(onnx_file))
    cached = optimized_model_path(ort, onnx_file, tmp_path)
    assert not cached.exists()
    np.testing.assert_array_equal(_run(onnx_session(onnx_file, cache_dir=tmp_path)), plain)
    assert cached.is_file() and [p.name for p in tmp_path.iterdir()] == [cached.name]
    stamp = cached.stat().st_mtime_ns
    np.testing.assert_array_equal(_run(onnx_session(onnx_file, cache_dir=tmp_path)), plain)
    assert cached.stat().st_mtime_ns == stamp  # loaded, not rewritten


def test_a_changed_model_gets_a_new_entry_and_a_broken_entry_is_rebuilt(onnx_file, tmp_path,
                                                                        caplog):
    before = optimized_model_path(ort, onnx_file, tmp_path)
    os.utime(onnx_file, ns=(1, 1))
    assert optimized_model_path(ort, onnx_file, tmp_path) != before
    cached = optimized_model_path(ort, onnx_file, tmp_path)
    tmp_path.mkdir(exist_ok=True)
    cached.write_bytes(b"not an onnx file")
    with caplog.at_level(logging.WARNING):
        session = onnx_session(onnx_file, cache_dir=tmp_path)
    assert "ignoring unreadable optimised ONNX cache" in caplog.text
    np.testing.assert_array_equal(_run(session), _run(onnx_session(onnx_file)))
    assert cached.stat().st_size > 100


def test_unoptimised_sessions_write_no_cache(onnx_file, tmp_path):
    onnx_session(onnx_file, optimize=False, cache_dir=tmp_path)
    assert not any(tmp_path.iterdir())
