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


def resolve_model(model: str | Path, backend: str) -> Path:
    """The file to load for ``model``: a shipped model's name (``models.SHIPPED_MODELS``;
    empty = the default) becomes its file in the form ``backend`` loads (``shipped_artifact``);
    anything else is a path. A name always means the shipped model, even if a file of that
    name sits in the working directory: write ``./NAME`` for the file."""
    from foir360_core.models import DEFAULT_MODEL, SHIPPED_MODELS

    name = str(model) or DEFAULT_MODEL
    return shipped_artifact(name, backend) if name in SHIPPED_MODELS else Path(model)


def shipped_artifact(name: str, backend: str) -> Path:
    """The shipped model ``name`` in the form ``backend`` loads without torch when it can.

    Each shipped model comes twice (``foir360_core/assets``): a checkpoint and its
    parity-checked ONNX export. ONNX Runtime and TensorRT (and "auto" when either is
    importable) get the ONNX file, so a robot installed without torch never needs it;
    PyTorch gets the checkpoint, and so does anything when the ONNX copy is missing.
    """
    from foir360_core.deps import is_importable
    from foir360_core.models import shipped_model_path

    checkpoint = shipped_model_path(name)
    deployable = checkpoint.with_suffix(ONNX_SUFFIXES[0])
    if backend == "torch" or not deployable.is_file():
        return checkpoint
    if backend == "auto" and not any(map(is_importable, ("onnxruntime", "tensorrt"))):
        return checkpoint
    return deployable


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
