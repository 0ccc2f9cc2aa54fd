"""The cached ONNX export of a checkpoint is checked against the checkpoint before use.

A file swapped in the cache (another model's export) or cut short is exported again, with
a warning saying why, instead of being run or failing with a protobuf traceback.
"""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

import torch

from foir360_core.models import build_model
from foir360_core.models.checkpoint import save_checkpoint
from foir360_core.runtime.engine_cache import EngineCache, file_sha256
from foir360_core.runtime.provision import ensure_onnx
from tests.logs import captured
from tests.tiny_model import TINY, save_tiny_checkpoint

pytestmark = pytest.mark.slow  # four ONNX exports with parity checks


def test_a_swapped_or_truncated_cached_export_is_rebuilt(tmp_path) -> None:
    import onnxruntime

    ours = save_tiny_checkpoint(tmp_path / "ours.safetensors", "1")
    torch.manual_seed(1)
    theirs = save_checkpoint(tmp_path / "theirs.safetensors", build_model(TINY), TINY,
                             {"version": "1"})
    cache = EngineCache(tmp_path / "cache")
    cached = ensure_onnx(ours, cache)
    exported = file_sha256(cached)
    foreign = ensure_onnx(theirs, cache)
    assert file_sha256(foreign) != exported

    shutil.copyfile(foreign, cached)  # another model's export under our name
    with captured("foir360_core.runtime.provision") as messages:
        again = ensure_onnx(ours, cache)
    assert again == cached and file_sha256(again) == exported
    assert any("exporting it again" in m for m in messages), messages

    cached.write_bytes(cached.read_bytes()[:4096])  # cut short
    with captured("foir360_core.runtime.provision") as messages:
        again = ensure_onnx(ours, cache)
    assert file_sha256(again) == exported
    assert any("exporting it again" in m for m in messages), messages
    onnxruntime.InferenceSession(str(again), providers=["CPUExecutionProvider"])

    with captured("foir360_core.runtime.provision") as messages:
        assert ensure_onnx(ours, cache) == cached  # a valid entry is used as is
    assert not any("again" in m for m in messages)
