"""Which backend runs which model artifact, in which order, and when to fall back.

These are pure decisions (no imports of torch, onnxruntime or tensorrt), so they are unit
tested without a GPU; ``Ranker`` tries the planned backends in order and logs each fallback.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from foir360_core.errors import UserError

BACKENDS = ("tensorrt", "onnxruntime", "torch")
# "auto" prefers the fastest backend a machine can run; torch is last because a robot
# deployment should not need it (it is the reference and the training framework).
AUTO_ORDER = ("tensorrt", "onnxruntime", "torch")

ENGINE_SUFFIXES = (".engine", ".plan", ".trt")
ONNX_SUFFIXES = (".onnx",)
CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".pth", ".ckpt")


class ArtifactKind(Enum):
    CHECKPOINT = "checkpoint"
    ONNX = "onnx"
    ENGINE = "engine"


class ModelArtifactError(UserError, ValueError):
    """The model path is missing or of an unknown type."""


def detect_kind(path: Path) -> ArtifactKind:
    """The artifact type of ``path`` from its suffix (a checkpoint may be a folder)."""
    path = Path(path)
    if not path.exists():
        raise ModelArtifactError(f"model file not found: {path}")
    suffix = path.suffix.lower()
    if suffix in ENGINE_SUFFIXES:
        return ArtifactKind.ENGINE
    if suffix in ONNX_SUFFIXES:
        return ArtifactKind.ONNX
    if suffix in CHECKPOINT_SUFFIXES or path.is_dir():
        return ArtifactKind.CHECKPOINT
    raise ModelArtifactError(
        f"cannot tell what {path} is: expected a PyTorch checkpoint "
        f"({', '.join(CHECKPOINT_SUFFIXES)}), an ONNX file (.onnx) or a TensorRT engine "
        f"({', '.join(ENGINE_SUFFIXES)})"
    )


# What each backend can load: TensorRT builds engines from ONNX, and a checkpoint can be
# exported to ONNX first (that export needs PyTorch). PyTorch runs only checkpoints.
COMPATIBLE: dict[ArtifactKind, tuple[str, ...]] = {
    ArtifactKind.ENGINE: ("tensorrt",),
    ArtifactKind.ONNX: ("tensorrt", "onnxruntime"),
    ArtifactKind.CHECKPOINT: ("tensorrt", "onnxruntime", "torch"),
}


def plan_backends(kind: ArtifactKind, requested: str, allow_fallback: bool) -> list[str]:
    """Backends to try, best first.

    ``auto`` tries every compatible backend in ``AUTO_ORDER``. An explicit choice comes
    first and, when ``allow_fallback``, is followed by the other compatible backends; without
    fallback it is the only entry, so a missing package fails loudly instead.
    """
    if requested != "auto" and requested not in BACKENDS:
        raise ValueError(f"unknown backend {requested!r}; choose auto or one of {BACKENDS}")
    compatible = [name for name in AUTO_ORDER if name in COMPATIBLE[kind]]
    if requested == "auto":
        return compatible
    if requested not in compatible:
        raise ModelArtifactError(
            f"the {requested} backend cannot run a {kind.value} artifact; it runs "
            f"{', '.join(k.value for k, v in COMPATIBLE.items() if requested in v)} files"
        )
    if not allow_fallback:
        return [requested]
    return [requested, *(name for name in compatible if name != requested)]
