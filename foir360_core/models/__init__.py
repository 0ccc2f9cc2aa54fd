"""PanoRank, the panorama-aware segmentation-and-ranking network (SPEC §5), and its contract.

* ``build_model(config)`` → ``PanoRank``; ``model(images)`` → dict with ``class_logits``,
  ``mask_logits`` and the rank head's outputs (``heads``: one plug-in class per head);
  ``model.export_module()`` for ONNX.
* ``artifact``: the model contract (``ModelInfo``, tensor names, preprocessing constants)
  that training writes and export, runtime and node read.
* ``preprocess.prepare_input`` and ``postprocess.outputs_to_instances`` are shared by the
  training validation and the runtime, so both see exactly the same numbers.
* ``checkpoint.save_checkpoint`` / ``load_checkpoint`` (safetensors, never pickle).
* ``SHIPPED_MODELS``: the models in ``foir360_core/assets`` by name; ``shipped_model_path``
  and ``default_model_path()`` (the default, ``DEFAULT_MODEL``) give their checkpoints.
"""

from __future__ import annotations

import importlib
from pathlib import Path

# Shipped models by name → checkpoint file in foir360_core/assets (each with its ONNX copy
# beside it); anywhere a model is asked for (Ranker, --model, the node's model parameter) a
# name works. Their figures and how they were made: foir360_core/assets/MODEL_CARD.md.
SHIPPED_MODELS = {
    "panorank-real360": "panorank_real360.safetensors",
    "panorank-synthetic-demo": "panorank_synthetic_demo.safetensors",
}
DEFAULT_MODEL = "panorank-real360"


def shipped_model_path(name: str = DEFAULT_MODEL) -> Path:
    """Checkpoint of the shipped model ``name`` (``foir360_core/assets/``)."""
    if name not in SHIPPED_MODELS:
        raise FileNotFoundError(f"no shipped model is named {name!r}; the shipped models are "
                                f"{', '.join(SHIPPED_MODELS)}, or give a file path")
    path = Path(__file__).resolve().parent.parent / "assets" / SHIPPED_MODELS[name]
    if not path.is_file():
        raise FileNotFoundError(
            f"the shipped model {name} ({path}) is missing; reinstall foir360 or train one "
            "with `foir360 train training/configs/default.yaml` and pass its path"
        )
    return path


def default_model_path() -> Path:
    """Checkpoint of the shipped default model, ``DEFAULT_MODEL``."""
    return shipped_model_path(DEFAULT_MODEL)


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
    "DEFAULT_MODEL",
    "SHIPPED_MODELS",
    "PanoRank",
    "build_model",
    "default_model_path",
    "load_config",
    "register_backbone",
    "shipped_model_path",
]
