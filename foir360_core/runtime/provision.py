"""Getting a model ready for a backend: checkpoint -> cached ONNX -> cached TensorRT engine.

Shared by ``Ranker`` (on demand, at start-up) and ``foir360 build-engine`` (ahead of time,
when provisioning a robot), so both produce and find the very same cache entries.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from foir360_core.deps import require
from foir360_core.io.atomic import atomic_path
from foir360_core.models.artifact import ModelInfo, read_onnx_info
from foir360_core.runtime.engine_cache import EngineCache, file_sha256
from foir360_core.runtime.selection import ArtifactKind, detect_kind

log = logging.getLogger(__name__)


def ensure_onnx(
    model_path: Path, cache: EngineCache, input_size: tuple[int, int] | None = None
) -> Path:
    """The ONNX file for ``model_path``: itself, or a parity-checked export of a checkpoint.

    Exports live in ``cache.root/onnx``, named by the checkpoint's sha256 and input size, so
    a changed checkpoint is exported again and an unchanged one never is; the ``-loop``
    suffix keeps Loop exports (``runtime.rank_loop``) apart from older unrolled ones. Beside
    each, a record holds the checkpoint's and the export's sha256; an export that does not match
    it (swapped, damaged, or made before records) is exported again, as stale engines are
    rebuilt.
    """
    model_path = Path(model_path)
    if detect_kind(model_path) is ArtifactKind.ONNX:
        return model_path
    require("torch", "exporting a checkpoint to ONNX")
    require("onnx", "exporting a checkpoint to ONNX")
    from foir360_core.models.checkpoint import read_metadata as checkpoint_metadata
    from foir360_core.runtime.export import export_onnx

    meta = checkpoint_metadata(model_path)
    height, width = input_size or meta["input_size"]
    checkpoint_sha = file_sha256(model_path)
    target = (cache.root / "onnx"
              / f"{meta.get('name', 'model')}-{checkpoint_sha[:16]}-{height}x{width}-loop.onnx")
    record = target.with_name(target.name + ".json")
    if target.is_file():
        problem = _export_problem(target, record, checkpoint_sha)
        if problem is None:
            log.info("using cached ONNX export %s", target)
            return target
        log.warning("cached ONNX export %s %s: exporting it again", target, problem)
    log.info("exporting %s to ONNX once (cached at %s)", model_path.name, target)
    export_onnx(model_path, target, input_size=(height, width))
    with atomic_path(record) as tmp:
        tmp.write_text(json.dumps({"checkpoint": str(model_path.resolve()),
                                   "checkpoint_sha256": checkpoint_sha,
                                   "onnx_sha256": file_sha256(target),
                                   "input_size": [height, width]}, indent=2))
    return target


def _export_problem(target: Path, record: Path, checkpoint_sha: str) -> str | None:
    """Why a cached export cannot be used, or None when it matches its record."""
    try:
        recorded = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "has no readable export record (made by an older foir360, or damaged)"
    if not isinstance(recorded, dict) or recorded.get("checkpoint_sha256") != checkpoint_sha:
        return "was recorded for another checkpoint"
    if file_sha256(target) != recorded.get("onnx_sha256"):
        return "differs from the export recorded (replaced or damaged)"
    return None


def ensure_engine(
    onnx_path: Path,
    cache: EngineCache,
    *,
    precision: str,
    workspace_mb: int = 1024,
    input_size: tuple[int, int] | None = None,
    force: bool = False,
) -> tuple[Path, ModelInfo]:
    """A valid engine for ``onnx_path`` on this machine: from the cache, else built now."""
    from foir360_core.runtime.tensorrt_build import build_serialized_engine, engine_key

    info = read_onnx_info(onnx_path)
    size = input_size or info.input_size
    if size != info.input_size and not info.dynamic_shapes:
        raise ValueError(
            f"{onnx_path.name} has a fixed input of {info.input_size[0]}x{info.input_size[1]}; "
            f"export it again with --input-size {size[0]} {size[1]}"
        )
    shape = (1, 3, *size)
    key = engine_key(onnx_path, precision, shape)
    engine = cache.get_or_build(
        key, info.name,
        lambda: build_serialized_engine(onnx_path, precision=precision, input_shape=shape,
                                        workspace_mb=workspace_mb),
        extra={"model": {**info.to_json(), "input_size": list(size)},
               "onnx_path": str(Path(onnx_path).resolve()), "workspace_mb": workspace_mb},
        force=force,
    )
    return engine, info
