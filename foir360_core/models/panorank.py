"""PanoRank: backbone → pixel decoder → masked-attention decoder → class, mask, rank.

``forward(images)`` takes (B, 3, H, W) normalised images (see ``preprocess``) at any 2:1
size that is a multiple of 32 and returns a dict:

* ``class_logits`` (B, Q, C+1), the last class meaning "no object";
* ``mask_logits`` (B, Q, H/4, W/4);
* ``rank_scores`` (B, Q), higher = more important (eval mode, or ``rank=True``);
* ``aux`` (per-layer predictions), ``queries`` and ``memory`` for the training losses;
* ``rank_logits`` (B, Q, R) with the Hungarian rank head.

``export_module()`` wraps the eval path as a module returning the tuple
(class_logits, mask_logits, rank_scores), which ``torch.onnx.export`` can trace.
"""

from __future__ import annotations

import torch
from torch import nn

from foir360_core.models.backbones import build_backbone
from foir360_core.models.config import check_input_size, model_section
from foir360_core.models.decoder import PixelDecoder, TransformerDecoder
from foir360_core.models.layers import SphericalPositionEncoding
from foir360_core.models.ranking import HungarianRankHead, SequentialRankHead


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
        rank = cfg["rank_head"]
        self.rank_type = rank["type"]
        if self.rank_type == "sequential":
            self.rank_head: nn.Module = SequentialRankHead(
                dim,
                heads=heads,
                ffn=ffn,
                layers=int(rank["layers"]),
                max_steps=int(rank["max_steps"]),
                stop_threshold=float(rank["stop_threshold"]),
            )
        elif self.rank_type == "hungarian":
            self.rank_head = HungarianRankHead(dim, int(rank["rank_slots"]))
        else:
            raise ValueError(
                f"model.rank_head.type must be 'sequential' or 'hungarian', got {self.rank_type!r}"
            )

    @property
    def class_names(self) -> list[str]:
        return list(self.config["class_names"])

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
        preds, queries = self.decoder(mask_features, scales, self.pos)
        top = scales[0]
        memory = top.flatten(2).transpose(1, 2)
        memory_pos = self.pos(top.shape[-2], top.shape[-1], top.device).unsqueeze(0)
        out = dict(preds[-1])
        out.update(aux=preds[:-1], queries=queries, memory=memory, memory_pos=memory_pos)
        if rank is None:
            rank = not self.training
        obj_prob = object_probability(out["class_logits"])
        if self.rank_type == "hungarian":
            out["rank_logits"], out["rank_scores"] = self.rank_head(queries, obj_prob)
        elif rank:
            out["rank_scores"] = self.rank_head(queries, obj_prob, memory, memory_pos)
        return out

    def export_module(self) -> nn.Module:
        """A traceable eval-mode module: images → (class_logits, mask_logits, rank_scores).

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

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.model(images, rank=True)
        return out["class_logits"], out["mask_logits"], out["rank_scores"]


def build_model(config: dict) -> PanoRank:
    """Build PanoRank from a full config (with a ``model`` section) or a bare model section."""
    return PanoRank(config)
