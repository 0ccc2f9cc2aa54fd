"""PanoRank: backbone → pixel decoder → masked-attention decoder → class, mask, rank.

``forward(images)`` takes (B, 3, H, W) normalised images (see ``preprocess``) at any 2:1
size that is a multiple of 32 and returns a dict:

* ``class_logits`` (B, Q, C+1), the last class meaning "no object";
* ``mask_logits`` (B, Q, H/4, W/4);
* the rank head's outputs (``model.rank_head.type``, see ``models.heads``): e.g.
  ``rank_scores`` (B, Q) for the sequential head (eval mode, or ``rank=True``),
  ``rank_logits`` (B, Q, R) for the Hungarian one;
* ``aux`` (per-layer predictions, in training mode only), ``queries`` and ``memory`` for
  the training losses.

``export_module()`` wraps the eval path as a module returning the tuple of
``output_names`` (class_logits, mask_logits, then the head's outputs), which
``torch.onnx.export`` can trace.
"""

from __future__ import annotations

import torch
from torch import nn

from foir360_core.models.artifact import CORE_OUTPUTS
from foir360_core.models.backbones import build_backbone
from foir360_core.models.config import check_input_size, model_section
from foir360_core.models.decoder import PixelDecoder, TransformerDecoder
from foir360_core.models.heads import head_class
from foir360_core.models.layers import SphericalPositionEncoding


class PanoRank(nn.Module):
    """The panorama-aware segmentation-and-ranking network (SPEC §5)."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        cfg = model_section(config)
        self.config = cfg
        dim, heads, ffn = int(cfg["hidden_dim"]), int(cfg["num_heads"]), int(cfg["ffn_dim"])
        if len(cfg["class_names"]) != int(cfg["num_classes"]):
            raise ValueError(
                f"model.class_names has {len(cfg['class_names'])} names for "
                f"num_classes={cfg['num_classes']}"
            )
        check_input_size(*cfg["input_size"])
        self.backbone = build_backbone(cfg["backbone"])
        self.pos = SphericalPositionEncoding(dim)
        self.pixel_decoder = PixelDecoder(
            tuple(self.backbone.channels), dim, int(cfg["encoder_layers"]), heads, ffn
        )
        self.decoder = TransformerDecoder(
            dim=dim,
            num_queries=int(cfg["num_queries"]),
            num_classes=int(cfg["num_classes"]),
            layers=int(cfg["decoder_layers"]),
            heads=heads,
            ffn=ffn,
            dropout=float(cfg["dropout"]),
        )
        self.rank_type = str(cfg["rank_head"]["type"])
        self.rank_head = head_class(self.rank_type)(dim, cfg)

    @property
    def class_names(self) -> list[str]:
        return list(self.config["class_names"])

    @property
    def output_names(self) -> tuple[str, ...]:
        """Names of ``export_module()``'s outputs, in order (the ONNX graph's outputs)."""
        return (*CORE_OUTPUTS, *self.rank_head.outputs)

    @property
    def input_size(self) -> tuple[int, int]:
        h, w = self.config["input_size"]
        return int(h), int(w)

    def forward(self, images: torch.Tensor, rank: bool | None = None) -> dict:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")
        check_input_size(int(images.shape[-2]), int(images.shape[-1]))
        feats = self.backbone(images)
        mask_features, scales = self.pixel_decoder(feats, self.pos)
        # per-layer masks are training targets only; inference takes the cheaper path
        preds, queries = self.decoder(mask_features, scales, self.pos, aux_masks=self.training)
        top = scales[0]
        memory = top.flatten(2).transpose(1, 2)
        memory_pos = self.pos(top.shape[-2], top.shape[-1], top.device).unsqueeze(0)
        out = dict(preds[-1])
        out.update(aux=preds[:-1], queries=queries, memory=memory, memory_pos=memory_pos)
        if rank is None:
            rank = not self.training
        obj_prob = object_probability(out["class_logits"])
        out.update(self.rank_head(queries, obj_prob, memory, memory_pos, rank=rank))
        return out

    def export_module(self) -> nn.Module:
        """A traceable eval-mode module: images → the tuple of ``output_names``.

        The wrapper is created in eval mode: exporters restore the wrapper's own mode
        recursively afterwards, which would otherwise flip this model into training mode.
        """
        return _ExportWrapper(self).eval()


def object_probability(class_logits: torch.Tensor) -> torch.Tensor:
    """P(query is an object) = 1 − P(no object) under the class softmax."""
    return 1.0 - class_logits.softmax(-1)[..., -1]


class _ExportWrapper(nn.Module):
    def __init__(self, model: PanoRank) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(images, rank=True)
        return tuple(out[name] for name in self.model.output_names)


def build_model(config: dict) -> PanoRank:
    """Build PanoRank from a full config (with a ``model`` section) or a bare model section."""
    return PanoRank(config)
