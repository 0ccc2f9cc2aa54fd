"""The TensorRT engine cache without a GPU: keys, metadata, staleness, atomic writes, locking.

The builder is the only part that needs TensorRT; here it is a function returning bytes, so
every decision the cache takes (reuse, rebuild, refuse) is exercised for real on disk.
The last test builds a real engine and runs only where TensorRT and a GPU exist.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from foir360_core.deps import is_importable, torch_cuda_available
from foir360_core.runtime.engine_cache import (
    CACHE_ENV,
    EngineCache,
    EngineCacheError,
    EngineKey,
    EngineStatus,
    check_engine,
    default_cache_dir,
    metadata_path,
)
from foir360_core.runtime.tensorrt_build import heartbeat, onnx_has_fp16, tensorrt_major

KEY = EngineKey(
    onnx_sha256="ab" * 32,
    tensorrt_version="10.13.0.35",
    gpu_name="NVIDIA Jetson AGX Orin",
    compute_capability="8.7",
    precision="fp16",
    input_shape=(1, 3, 512, 1024),
)
OTHER_VALUES = {
    "onnx_sha256": "cd" * 32,
    "tensorrt_version": "11.0.0.1",
    "gpu_name": "NVIDIA GeForce RTX 4090",
    "compute_capability": "8.9",
    "precision": "fp32",
    "input_shape": (1, 3, 256, 512),
}


class Builder:
    """Stands in for TensorRT's builder: counts calls and returns distinct bytes each time."""

    def __init__(self, delay_s: float = 0.0, fail: bool = False) -> None:
        self.calls = 0
        self.delay_s = delay_s
        self.fail = fail
        self._lock = threading.Lock()

    def __call__(self) -> bytes:
        with self._lock:
            self.calls += 1
            n = self.calls
        time.sleep(self.delay_s)
        if self.fail:
            raise RuntimeError("builder crashed")
        return bytes([n]) * 1000 + b"engine"


def test_key_digest_is_stable_and_covers_every_field():
    same = EngineKey(**{**dataclasses.asdict(KEY), "input_shape": [1, 3, 512, 1024]})
    assert same.digest == KEY.digest
    assert EngineKey.from_json(json.loads(json.dumps(KEY.to_json()))) == KEY
    digests = {KEY.digest}
    for field, value in OTHER_VALUES.items():
        changed = dataclasses.replace(KEY, **{field: value})
        assert changed.digest not in digests, field
        digests.add(changed.digest)
        (diff,) = changed.differences(KEY)
        assert diff.startswith(field)


@pytest.mark.parametrize("bad", [{"precision": "int8"}, {"input_shape": (1, 3, -1, 1024)}])
def test_key_rejects_unsupported_values(bad):
    with pytest.raises(ValueError):
        dataclasses.replace(KEY, **bad)


def test_store_then_lookup_is_ready_and_self_describing(tmp_path):
    cache = EngineCache(tmp_path)
    assert cache.lookup(KEY, "panorank").status is EngineStatus.MISSING
    path = cache.store(KEY, "panorank", b"x" * 100, {"model": {"name": "panorank"}})
    assert path.parent == tmp_path / "engines"
    assert "panorank-fp16-512x1024-" in path.name and KEY.digest in path.name
    found = cache.lookup(KEY, "panorank")
    assert found.status is EngineStatus.READY, found.reason
    meta = json.loads(metadata_path(path).read_text())
    assert meta["key"] == KEY.to_json()
    assert meta["engine_bytes"] == 100
    assert meta["model"] == {"name": "panorank"}
    assert meta["format"] == "foir360-engine/1" and meta["created_utc"]


@pytest.mark.parametrize("field", sorted(OTHER_VALUES))
def test_engine_built_elsewhere_is_stale_with_the_reason(tmp_path, field):
    path = EngineCache(tmp_path).store(KEY, "m", b"e" * 10)
    wanted = dataclasses.replace(KEY, **{field: OTHER_VALUES[field]})
    found = check_engine(path, wanted)
    assert found.status is EngineStatus.STALE
    assert field in found.reason


def _corrupt(path: Path, how: str) -> None:
    meta = metadata_path(path)
    if how == "flipped byte":
        data = bytearray(path.read_bytes())
        data[10] ^= 0xFF
        path.write_bytes(bytes(data))
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[:-3])
    elif how == "metadata lost (crash between the two writes)":
        meta.unlink()
    elif how == "engine lost":
        path.unlink()
    elif how == "metadata garbage":
        meta.write_text("{not json")
    elif how == "foreign metadata":
        meta.write_text(json.dumps({"format": "ultralytics", "key": KEY.to_json()}))


CORRUPTIONS = ["flipped byte", "truncated", "metadata lost (crash between the two writes)",
               "engine lost", "metadata garbage", "foreign metadata"]


@pytest.mark.parametrize("how", CORRUPTIONS)
def test_damaged_entries_are_stale_and_get_rebuilt(tmp_path, how, caplog):
    cache = EngineCache(tmp_path)
    builder = Builder()
    path = cache.get_or_build(KEY, "m", builder)
    _corrupt(path, how)
    assert cache.lookup(KEY, "m").status is EngineStatus.STALE
    with caplog.at_level(logging.WARNING):
        again = cache.get_or_build(KEY, "m", builder)
    assert again == path and builder.calls == 2
    assert "stale" in caplog.text
    assert cache.lookup(KEY, "m").status is EngineStatus.READY


def test_valid_engine_is_reused_and_force_rebuilds(tmp_path):
    cache = EngineCache(tmp_path)
    builder = Builder()
    first = cache.get_or_build(KEY, "m", builder)
    assert cache.get_or_build(KEY, "m", builder) == first and builder.calls == 1
    cache.get_or_build(KEY, "m", builder, force=True)
    assert builder.calls == 2
    assert first.read_bytes().startswith(bytes([2]))
    meta = json.loads(metadata_path(first).read_text())
    assert meta["build_seconds"] >= 0


def test_failed_build_leaves_no_partial_files(tmp_path):
    cache = EngineCache(tmp_path)
    good = cache.get_or_build(KEY, "m", Builder())
    before = good.read_bytes()
    with pytest.raises(RuntimeError, match="builder crashed"):
        cache.get_or_build(KEY, "m", Builder(fail=True), force=True)
    assert good.read_bytes() == before
    assert cache.lookup(KEY, "m").status is EngineStatus.READY
    other = dataclasses.replace(KEY, precision="fp32")
    with pytest.raises(RuntimeError):
        cache.get_or_build(other, "m", Builder(fail=True))
    assert not cache.engine_path(other, "m").exists()
    assert not list(cache.directory.glob("*.tmp"))


def test_concurrent_starts_build_once(tmp_path):
    builder = Builder(delay_s=0.3)
    results = []

    def start() -> None:
        results.append(EngineCache(tmp_path).get_or_build(KEY, "m", builder))

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builder.calls == 1
    assert len(set(results)) == 1


def test_unwritable_cache_fails_before_building(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    builder = Builder()
    with pytest.raises(EngineCacheError, match=CACHE_ENV):
        EngineCache(blocker / "cache").get_or_build(KEY, "m", builder)
    assert builder.calls == 0


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "explicit"))
    assert default_cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "foir360"
    assert EngineCache().directory == tmp_path / "xdg" / "foir360" / "engines"


def test_entries_lists_intact_and_damaged_engines(tmp_path):
    cache = EngineCache(tmp_path)
    cache.store(KEY, "a", b"1" * 10)
    damaged = cache.store(dataclasses.replace(KEY, precision="fp32"), "b", b"2" * 10)
    damaged.write_bytes(b"2")
    statuses = {e.engine_path.name.split("-")[0]: e.status for e in cache.entries()}
    assert statuses == {"a": EngineStatus.READY, "b": EngineStatus.STALE}


def test_heartbeat_logs_while_a_build_runs(caplog):
    with caplog.at_level(logging.INFO), heartbeat("TensorRT build of m.onnx", interval_s=0.05):
        time.sleep(0.23)
    beats = [r for r in caplog.records if "still running" in r.getMessage()]
    assert 2 <= len(beats) <= 5
    assert "m.onnx" in beats[0].getMessage()


def test_tensorrt_major_version():
    assert tensorrt_major("10.13.0.35") == 10
    assert tensorrt_major("11.4.1") == 11
    with pytest.raises(ValueError):
        tensorrt_major("unknown")


def test_onnx_precision_is_read_from_its_weights(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    for dtype, expected in ((np.float32, False), (np.float16, True)):
        weight = numpy_helper.from_array(np.ones((2, 2), dtype), "w")
        node = helper.make_node("MatMul", ["x", "w"], ["y"])
        elem = TensorProto.FLOAT16 if expected else TensorProto.FLOAT
        graph = helper.make_graph(
            [node], "g", [helper.make_tensor_value_info("x", elem, [2, 2])],
            [helper.make_tensor_value_info("y", elem, [2, 2])], [weight])
        path = tmp_path / f"{dtype.__name__}.onnx"
        onnx.save(helper.make_model(graph), str(path))
        assert onnx_has_fp16(path) is expected


@pytest.mark.gpu
@pytest.mark.skipif(not (is_importable("tensorrt") and torch_cuda_available()),
                    reason="needs TensorRT and a CUDA GPU")
def test_real_engine_build_reuse_and_run(tmp_path):
    torch = pytest.importorskip("torch")
    from foir360_core.runtime.backends.tensorrt_backend import TensorRTBackend
    from foir360_core.runtime.tensorrt_build import build_serialized_engine, engine_key

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU()).eval()
    onnx_path = tmp_path / "tiny.onnx"
    shape = (1, 3, 32, 64)
    torch.onnx.export(net, (torch.zeros(shape),), str(onnx_path), dynamo=False,
                      input_names=["images"], output_names=["out"])
    key = engine_key(onnx_path, "fp32", shape)
    cache = EngineCache(tmp_path / "cache")
    builder = Builder()

    def build() -> bytes:
        builder()
        return build_serialized_engine(onnx_path, precision="fp32", input_shape=shape)

    path = cache.get_or_build(key, "tiny", build)
    assert cache.get_or_build(key, "tiny", build) == path and builder.calls == 1
    assert check_engine(path, key).status is EngineStatus.READY
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    out = TensorRTBackend(path, precision="fp32").infer(x)["out"]
    with torch.inference_mode():
        ref = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(out, ref, atol=1e-3)
