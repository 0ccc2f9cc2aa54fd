"""Inference runtime: ``Ranker`` over TensorRT, ONNX Runtime or PyTorch, and the engine cache.

``Ranker(model, backend)`` loads a checkpoint, ONNX file or TensorRT engine, picks a backend
(with a logged fallback when allowed) and turns an ERP image into ranked ``PanoInstances``
with the same pre- and post-processing on every backend. ``EngineCache`` keeps TensorRT
engines keyed on ONNX hash, TensorRT version, GPU, precision and input shape.
"""

from foir360_core.deps import BackendUnavailableError
from foir360_core.models.artifact import ModelInfo, ModelInfoError, read_onnx_info
from foir360_core.runtime.engine_cache import (
    EngineCache,
    EngineCacheError,
    EngineKey,
    EngineStatus,
    check_engine,
    default_cache_dir,
)
from foir360_core.runtime.ranker import Ranker
from foir360_core.runtime.selection import ArtifactKind, ModelArtifactError, plan_backends
from foir360_core.runtime.tensorrt_build import EngineBuildError
from foir360_core.runtime.timing import StageTimings

__all__ = [
    "ArtifactKind",
    "BackendUnavailableError",
    "EngineBuildError",
    "EngineCache",
    "EngineCacheError",
    "EngineKey",
    "EngineStatus",
    "ModelArtifactError",
    "ModelInfo",
    "ModelInfoError",
    "Ranker",
    "StageTimings",
    "check_engine",
    "default_cache_dir",
    "plan_backends",
    "read_onnx_info",
]
