"""Where training starts: weights from an earlier checkpoint, a frozen backbone prefix."""

from __future__ import annotations

import copy

import pytest
import torch

from foir360_core.models import build_model
from foir360_core.models.checkpoint import CheckpointError, save_checkpoint
from foir360_core.training.init import freeze_backbone_blocks, init_from
from tests.core.test_training import ranked_dataset, tiny_config  # noqa: F401


def test_init_from_copies_every_fitting_tensor(tmp_path):
    config = tiny_config()
    source = build_model(config)
    path = save_checkpoint(tmp_path / "a.safetensors", source, config)
    wider = copy.deepcopy(config)
    wider["model"]["num_queries"] += 2  # the query embeddings no longer fit
    target = build_model(wider)
    copied = init_from(target, path)
    own = target.state_dict()
    assert 0 < copied < len(own)
    for key, value in source.state_dict().items():
        if own[key].shape == value.shape:
            assert torch.equal(own[key], value)
        else:
            assert not torch.equal(own[key][: len(value)], value)


def test_init_from_refuses_a_foreign_file(tmp_path):
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        init_from(build_model(tiny_config()), bad)


def test_frozen_blocks_neither_learn_nor_move_their_statistics():
    config = tiny_config()
    model = build_model(config)
    assert freeze_backbone_blocks(model, 2) > 0
    stem = model.backbone._conv_stem.weight.detach().clone()
    stats = model.backbone._bn0.running_mean.clone()
    free = next(model.backbone._blocks[3].parameters())
    model.train()
    h, w = model.input_size
    out = model(torch.randn(2, 3, h, w))
    out["mask_logits"].sum().backward()
    assert model.backbone._conv_stem.weight.grad is None
    assert free.grad is not None
    assert torch.equal(model.backbone._conv_stem.weight, stem)
    assert torch.equal(model.backbone._bn0.running_mean, stats)
    assert freeze_backbone_blocks(model, 0) == 0


def test_training_run_starts_from_a_checkpoint_with_frozen_blocks(ranked_dataset, tmp_path):  # noqa: F811
    """``train.init_from`` + ``train.freeze_backbone_blocks`` + ``data.cache`` in a real run."""
    from foir360_core.models.checkpoint import load_checkpoint
    from foir360_core.training.trainer import train

    config = tiny_config(epochs=1)
    start = save_checkpoint(tmp_path / "start.safetensors", build_model(config), config)
    config["train"].update(init_from=str(start), freeze_backbone_blocks=2)
    config["data"].update(cache=True, tilt_degrees=5.0)
    result = train(config, data=str(ranked_dataset), out=tmp_path / "run", progress=False)
    trained, _ = load_checkpoint(result.last_model)
    initial, _ = load_checkpoint(start)
    frozen = trained.backbone._blocks[1]._depthwise_conv.weight  # stored as fp16
    assert torch.equal(frozen, initial.backbone._blocks[1]._depthwise_conv.weight.half().float())
    learned = trained.backbone._blocks[4]._depthwise_conv.weight
    assert not torch.equal(learned, initial.backbone._blocks[4]._depthwise_conv.weight)
