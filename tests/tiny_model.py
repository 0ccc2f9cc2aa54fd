"""The smallest real PanoRank the runtime and export tests share: random weights, 64x128 input."""

import copy
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


def tiny_config(rank_head: str) -> dict:
    """``TINY`` with another rank head (its own parameters at their defaults)."""
    config = copy.deepcopy(TINY)
    config["model"]["rank_head"] = {"type": rank_head}
    config["model"]["num_classes"], config["model"]["class_names"] = 1, ["object"]
    return config


def train_one_step(config: dict, seed: int = 0):
    """Build the tiny model for ``config`` and take one AdamW step on a synthetic panorama.

    Returns the model (eval mode) and the step's loss parts. Ground-truth ranks: larger
    objects first, which is enough to give every head's loss a real target.
    """
    from foir360_core.models.config import DEFAULT_CONFIG
    from foir360_core.models.preprocess import prepare_input
    from foir360_core.structures.instances import ranks_from_scores
    from foir360_core.synth import render_panorama
    from foir360_core.training.data import Sample
    from foir360_core.training.losses import Criterion

    torch.manual_seed(seed)
    model = build_model(config).train()
    height, width = model.input_size
    pano = render_panorama(seed, height=height, n_objects=4)
    masks = pano.instances.masks
    sample = Sample(
        image=torch.from_numpy(prepare_input(pano.image, (height, width))[0]),
        masks=torch.from_numpy(masks.astype("float32")),
        classes=torch.zeros(len(masks), dtype=torch.long),
        ranks=torch.from_numpy(ranks_from_scores(masks.reshape(len(masks), -1).sum(1))),
        image_id=seed,
    )
    train_cfg = {**DEFAULT_CONFIG["train"], "num_points": 256}
    criterion = Criterion(model, train_cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    outputs = model(sample.image[None])
    loss, parts = criterion(model, outputs, [sample], float(len(masks)))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return model.eval(), parts
