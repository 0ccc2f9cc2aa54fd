"""Where training starts: weights from an earlier model, and a frozen backbone prefix.

Training a model for real photos on a CPU has a few hours at most, so it starts from what is
already learned: ``init_from`` copies every weight of an earlier foir360 checkpoint whose name
and shape match (the decoder and heads of the synthetic demo model, say), and
``freeze_backbone_blocks`` keeps the ImageNet stem and first blocks fixed — they see edges
and textures, which real photos share with ImageNet, and skipping their gradients makes each
step cheaper. Frozen blocks also keep their batch-norm statistics: with 4 panoramas a batch,
updating them would undo the ImageNet statistics for nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from safetensors.torch import load_file

from foir360_core.models.checkpoint import read_metadata

log = logging.getLogger(__name__)


def init_from(model: torch.nn.Module, path: str | Path) -> int:
    """Copy the weights of checkpoint ``path`` that fit ``model``; returns how many tensors."""
    read_metadata(path)  # a foir360 checkpoint, or a clear CheckpointError
    own = model.state_dict()
    state = load_file(str(path), device="cpu")
    fitting = {k: v.to(own[k].dtype) for k, v in state.items()
               if k in own and own[k].shape == v.shape}
    model.load_state_dict(fitting, strict=False)
    skipped = sorted(set(state) - set(fitting))
    log.info("initialised %d of %d tensors from %s%s", len(fitting), len(own), path,
             f" (skipped {len(skipped)} that do not fit, e.g. {skipped[:3]})" if skipped else "")
    return len(fitting)


def _keep_eval(module: torch.nn.Module, _inputs: tuple) -> None:
    module.eval()


def freeze_backbone_blocks(model: torch.nn.Module, blocks: int) -> int:
    """Freeze the backbone's stem and its first ``blocks`` blocks; returns frozen parameters.

    Only backbones with an EfficientNet-style ``_blocks`` list have numbered blocks; for
    others ``blocks`` > 0 is a configuration error.
    """
    if blocks <= 0:
        return 0
    backbone = model.backbone
    if not hasattr(backbone, "_blocks"):
        raise ValueError(f"train.freeze_backbone_blocks needs an EfficientNet-style backbone, "
                         f"not {type(backbone).__name__}; set it to 0")
    frozen = [m for name, m in backbone.named_children() if name in ("_conv_stem", "_bn0")]
    frozen += list(backbone._blocks[:blocks])
    count = 0
    for module in frozen:
        module.register_forward_pre_hook(_keep_eval)
        for param in module.parameters():
            param.requires_grad_(False)
            count += param.numel()
    return count
