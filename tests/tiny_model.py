"""The smallest real PanoRank the runtime and export tests share: random weights, 64x128 input."""

from pathlib import Path

import torch

from foir360_core.models import build_model
from foir360_core.models.checkpoint import save_checkpoint

TINY = {"model": {
    "name": "tiny", "backbone": {"name": "efficientnet_lite0", "pretrained": False},
    "hidden_dim": 32, "num_queries": 10, "decoder_layers": 1, "num_heads": 2, "ffn_dim": 64,
    "num_classes": 2, "class_names": ["box", "ball"],
    "rank_head": {"type": "sequential", "layers": 1, "max_steps": 10}, "input_size": [64, 128],
}}


def save_tiny_checkpoint(path: Path, version: str) -> Path:
    """Seeded, so every test module gets the same weights."""
    torch.manual_seed(0)
    return save_checkpoint(path, build_model(TINY), TINY, {"version": version})
