"""Loading a trained checkpoint touches only the checkpoint: whatever its metadata says.

The metadata is the attacker's to write (the config hash is just a hash of it), so these
tests rewrite it and recompute the hash, as a crafted file would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from foir360_core.models.checkpoint import (
    META_KEY,
    CheckpointError,
    load_checkpoint,
    read_metadata,
)
from foir360_core.models.config import config_hash
from tests.tiny_model import save_tiny_checkpoint


def crafted(source: Path, target: Path, backbone: dict) -> Path:
    """``source`` with its backbone section replaced and the config hash made to match."""
    meta = read_metadata(source)
    meta["config"]["model"]["backbone"] = backbone
    meta["config_hash"] = config_hash(meta["config"])
    save_file(load_file(str(source)), str(target),
              metadata={META_KEY: json.dumps(meta), "format": "pt"})
    return target


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return save_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.safetensors", "1")


@pytest.mark.parametrize("weights", ["garbage", "missing"])
def test_a_weights_path_in_the_metadata_is_never_read(tiny, tmp_path, weights) -> None:
    bait = tmp_path / "bait.pth"
    if weights == "garbage":
        bait.write_bytes(b"a file loading must not open")
    backbone = {"name": "efficientnet_lite0", "pretrained": True,
                "options": {"weights": str(bait)}}
    model, meta = load_checkpoint(crafted(tiny, tmp_path / "crafted.safetensors", backbone))
    reference, _ = load_checkpoint(tiny)
    for (key, a), b in zip(model.state_dict().items(), reference.state_dict().values(),
                           strict=True):
        torch.testing.assert_close(a, b, msg=key)  # every weight is the checkpoint's
    assert meta["config"]["model"]["backbone"]["options"]["weights"] == str(bait)


def test_free_form_backbone_options_are_refused(tiny, tmp_path) -> None:
    backbone = {"name": "timm", "pretrained": False,
                "options": {"model": "resnet18", "checkpoint": str(tmp_path / "x.pth"),
                            "pretrained_cfg_overlay": {"file": str(tmp_path / "y.bin")}}}
    path = crafted(tiny, tmp_path / "crafted.safetensors", backbone)
    with pytest.raises(CheckpointError, match="pretrained_cfg_overlay") as refused:
        load_checkpoint(path)
    assert str(path) in str(refused.value)
    hub = {"name": "timm", "pretrained": False, "options": {"model": "hf-hub:someone/model"}}
    with pytest.raises(CheckpointError, match="hf-hub"):
        load_checkpoint(crafted(tiny, tmp_path / "hub.safetensors", hub))
