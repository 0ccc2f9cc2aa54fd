"""PanoRank, the panorama-aware segmentation-and-ranking network (SPEC §5), and its contract.

* ``build_model(config)`` → ``PanoRank``; ``model(images)`` → dict with ``class_logits``,
  ``mask_logits`` and the rank head's outputs (``heads``: one plug-in class per head);
  ``model.export_module()`` for ONNX.
* ``artifact``: the model contract (``ModelInfo``, tensor names, preprocessing constants)
  that training writes and export, runtime and node read.
* ``preprocess.prepare_input`` and ``postprocess.outputs_to_instances`` are shared by the
  training validation and the runtime, so both see exactly the same numbers.
* ``checkpoint.save_checkpoint`` / ``load_checkpoint`` (safetensors, never pickle).
* ``default_model_path()`` is the shipped demonstration model.
"""

from __future__ import annotations

import importlib
from pathlib import Path

DEFAULT_MODEL_FILE = "panorank_default.safetensors"


def default_model_path() -> Path:
    """Path of the shipped default model (``foir360_core/assets/``)."""
    path = Path(__file__).resolve().parent.parent / "assets" / DEFAULT_MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"the shipped default model {path} is missing; reinstall foir360 or train one with "
            "`foir360 train training/configs/default.yaml` and pass its path"
        )
    return path


# The network needs torch; pre/post-processing and the model path do not. Loading these
# names on first use lets an ONNX Runtime or TensorRT deployment run without torch.
_LAZY = {
    "BACKBONES": "foir360_core.models.backbones",
    "register_backbone": "foir360_core.models.backbones",
    "DEFAULT_CONFIG": "foir360_core.models.config",
    "load_config": "foir360_core.models.config",
    "PanoRank": "foir360_core.models.panorank",
    "build_model": "foir360_core.models.panorank",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BACKBONES",
    "DEFAULT_CONFIG",
    "PanoRank",
    "build_model",
    "default_model_path",
    "load_config",
    "register_backbone",
]
