"""PanoRank configuration: defaults, YAML files with a ``base`` chain, and overrides.

A config is a plain nested dict with the sections ``model``, ``data``, ``train`` and
``val``. Files in ``training/configs/`` name their parent with ``base: other.yaml`` and
only state what they change, so a GPU or tiny CPU variant stays a few lines long. The
hash of the resolved ``model`` section is stored in every checkpoint, so a checkpoint can
always be matched to the architecture that produced it.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from foir360_core.errors import UserError
from foir360_core.settings import RankerSettings

DEFAULT_CONFIG: dict[str, Any] = {
    "model": {
        "name": "panorank",
        "backbone": {"name": "efficientnet_lite0", "pretrained": True, "options": {}},
        "hidden_dim": 128,
        "num_queries": 50,
        "num_classes": 1,
        "class_names": ["object"],
        "encoder_layers": 1,
        "decoder_layers": 6,
        "num_heads": 4,
        "ffn_dim": 512,
        "dropout": 0.0,
        # a registered head (models.heads: "sequential", "hungarian", ...); its own
        # parameters and their defaults live in its class
        "rank_head": {"type": "sequential"},
        "input_size": [256, 512],
    },
    "data": {
        "train": None,
        "val": None,
        "val_fraction": 0.1,
        "yaw_roll": True,
        "hflip": 0.5,
        "color_jitter": 0.1,
        "tilt_degrees": 0.0,  # random pitch and roll of the sphere, up to ± this
        # teacher objects under this share of the input's pixels are neither training nor
        # validation targets (a few-pixel speck at input size is noise, not an object)
        "min_object_fraction": 0.0,
        "cache": False,  # keep decoded samples in memory (small real datasets)
        "num_workers": 0,
    },
    "train": {
        "seed": 0,
        "epochs": 10,
        "batch_size": 4,
        "lr": 2.0e-4,
        "backbone_lr_mult": 0.2,
        "weight_decay": 0.05,
        "grad_clip": 1.0,
        "warmup_steps": 50,
        "num_points": 4096,
        "loss_weights": {"class": 2.0, "mask_bce": 5.0, "mask_dice": 5.0, "rank": 2.0},
        "no_object_weight": 0.1,
        "max_rank_steps": 24,
        "checkpoint_every": 1,
        "fp16_weights": True,
        "device": "auto",
        "max_minutes": None,
        "init_from": None,  # checkpoint whose fitting weights start the run
        "freeze_backbone_blocks": 0,  # backbone stem + this many first blocks stay fixed
    },
    "val": {
        "every": 1,
        "max_images": None,
        **RankerSettings().postprocess(),  # the runtime's defaults, defined once
        "profiles": ["foir360", "assr"],
        "select": "instance_recall",  # the figure that picks model_best
    },
}


class ConfigError(UserError, ValueError):
    """A config file or override is malformed."""


def deep_merge(base: dict, override: dict) -> dict:
    """Recursive dict merge: dicts merge key by key, everything else (lists too) replaces."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_config(path: str | Path, overrides: list[str] | None = None) -> dict:
    """Load a YAML config, resolve its ``base`` chain over the defaults, apply overrides."""
    config = deep_merge(DEFAULT_CONFIG, _load_chain(Path(path), seen=()))
    config["model"] = model_section(config)  # the rank head's own keys become overridable
    return apply_overrides(config, overrides or [])


def _load_chain(path: Path, seen: tuple[Path, ...]) -> dict:
    path = path.resolve()
    if path in seen:
        raise ConfigError(f"config inheritance loops through {path}")
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping at the top level")
    base_name = data.pop("base", None)
    if base_name is None:
        return data
    return deep_merge(_load_chain(path.parent / base_name, (*seen, path)), data)


def apply_overrides(config: dict, overrides: list[str]) -> dict:
    """Apply ``section.key=value`` strings (value parsed as YAML) to a copy of ``config``."""
    config = copy.deepcopy(config)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        node = config
        parts = key.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a config section")
            node = node[part]
        if parts[-1] not in node:
            raise ConfigError(f"override {item!r}: unknown key {parts[-1]!r} (typo?)")
        node[parts[-1]] = _parse_value(raw)
    return config


def _parse_value(raw: str) -> Any:
    """YAML value, except that ``1e-3`` is a float (YAML 1.1 reads it as a string)."""
    value = yaml.safe_load(raw)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def model_section(config: dict) -> dict:
    """The resolved model section of a full config or of a bare model section."""
    section = config.get("model", config) if isinstance(config, dict) else None
    if not isinstance(section, dict):
        raise ConfigError("config must be a mapping with a 'model' section")
    from foir360_core.models.heads import resolve_rank_head

    model = deep_merge(DEFAULT_CONFIG["model"], section)
    try:
        model["rank_head"] = resolve_rank_head(model["rank_head"])
    except ValueError as err:
        raise ConfigError(f"model.rank_head.type: {err}") from None
    return model


def config_hash(config: dict) -> str:
    """Short stable hash of the resolved model section (architecture identity)."""
    model = model_section(config)
    model = {k: v for k, v in model.items() if k != "backbone"} | {
        "backbone": {k: v for k, v in model["backbone"].items() if k != "pretrained"}
    }
    blob = json.dumps(model, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def check_input_size(height: int, width: int, stride: int = 32) -> None:
    """Reject input sizes the network cannot use: 2:1 ERP, multiple of the deepest stride."""
    if width != 2 * height:
        raise ConfigError(f"input_size must be 2:1 (width = 2 × height), got {height}x{width}")
    if height % stride:
        raise ConfigError(
            f"input height {height} must be a multiple of {stride} (the backbone's deepest "
            f"stride); try {max(stride, round(height / stride) * stride)}"
        )
