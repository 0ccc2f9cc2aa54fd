"""Checkpoints that never unpickle: safetensors weights with JSON metadata in the header.

A model file (``*.safetensors``) holds the weights (optionally fp16) and, under the
header key ``foir360``, a JSON document: model name, version, class names, input size,
preprocessing, the full config and its hash. ``load_checkpoint`` rebuilds the network
from that config alone, so a file is self-describing.

Resumable training state (optimizer, scheduler, counters, RNG) is a separate file saved
with ``torch.save`` of tensors and plain containers only, and read back with
``weights_only=True``, which refuses arbitrary objects.
"""

from __future__ import annotations

import copy
import json
import pickle
import time
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from foir360_core import __version__
from foir360_core.errors import UserError
from foir360_core.io.atomic import atomic_path
from foir360_core.models.artifact import preprocessing_meta
from foir360_core.models.backbones import architecture_spec
from foir360_core.models.config import config_hash, model_section
from foir360_core.models.panorank import PanoRank, build_model

FORMAT = "foir360-panorank/1"
META_KEY = "foir360"


class CheckpointError(UserError, ValueError):
    """A checkpoint file is missing, foreign or inconsistent."""


def save_checkpoint(
    path: str | Path,
    model: PanoRank,
    config: dict,
    meta: dict | None = None,
    *,
    fp16: bool = False,
) -> Path:
    """Write ``model`` with self-describing metadata; ``meta`` adds or overrides fields."""
    path = Path(path)
    model = getattr(model, "module", model)  # unwrap DistributedDataParallel
    state = {}
    for key, param in model.state_dict().items():
        value = param.detach().cpu()
        state[key] = (value.half() if fp16 and value.is_floating_point() else value).contiguous()
    full_config = copy.deepcopy(config)
    full_config["model"] = model_section(config)
    info: dict[str, Any] = {
        "format": FORMAT,
        "name": full_config["model"]["name"],
        "version": "0",
        "foir360_version": __version__,
        "class_names": list(full_config["model"]["class_names"]),
        "input_size": list(full_config["model"]["input_size"]),
        "preprocessing": preprocessing_meta(),
        "rank_head": full_config["model"]["rank_head"]["type"],
        "config": full_config,
        "config_hash": config_hash(full_config),
        "created_unix": int(time.time()),
        "dtype": "float16" if fp16 else "float32",
    }
    info.update(meta or {})
    with atomic_path(path) as tmp:
        metadata = {META_KEY: json.dumps(info, sort_keys=True), "format": "pt"}
        save_file(state, str(tmp), metadata=metadata)
    return path


def read_metadata(path: str | Path) -> dict:
    """The JSON metadata of a checkpoint, without loading its weights."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types for foreign files
        raise CheckpointError(f"{path} is not a safetensors file: {exc}") from exc
    if META_KEY not in header:
        raise CheckpointError(f"{path} has no '{META_KEY}' metadata: not a foir360 model file")
    try:
        meta = json.loads(header[META_KEY])
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: its '{META_KEY}' metadata is not JSON ({exc}); the file "
                              "is damaged or was not written by foir360") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else meta
        raise CheckpointError(f"{path}: unsupported format {found!r} (want {FORMAT})")
    return meta


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[PanoRank, dict]:
    """Rebuild the network from the file's own config, load its weights; eval mode."""
    meta = read_metadata(path)
    try:
        config = copy.deepcopy(meta["config"])
        same = config_hash(config) == meta["config_hash"]
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: its metadata lacks the model description ({exc!r}); "
                              "use a checkpoint written by `foir360 train`") from None
    if not same:
        raise CheckpointError(f"{path}: config hash mismatch, the metadata was edited or corrupted")
    try:  # the file holds every weight: read no other file, pass no free-form option on
        config["model"]["backbone"] = architecture_spec(config["model"]["backbone"])
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise CheckpointError(f"{path}: unusable backbone description: {exc}") from None
    model = build_model(config)
    try:
        state = load_file(str(path), device="cpu")
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise CheckpointError(f"{path}: cannot read its weights ({exc}); the file is damaged, "
                              "copy or export it again") from exc
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: weights do not fit the config "
            f"(missing {missing[:5]}, unexpected {unexpected[:5]})"
        )
    return model.to(device).eval(), meta


def save_training_state(path: str | Path, state: dict) -> Path:
    """Atomically ``torch.save`` a dict of tensors / numbers / strings / containers."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def load_training_state(path: str | Path) -> dict:
    """Read a training state with ``weights_only=True`` (no arbitrary unpickling)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"training state {path} does not exist; train without --resume first")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, EOFError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path} is not a readable training state ({first[:120]}); "
                              "delete it, or train without --resume to start over") from None
