"""Pixel decoder and Mask2Former-style transformer decoder with masked attention.

The pixel decoder is a light FPN with a global transformer encoder on the stride-32 map
(every cell attends to the whole sphere, with spherical position codes), then a top-down
path to stride 4. Its stride-4 map gives the per-pixel mask features; strides 32/16/8 feed
the transformer decoder, whose N queries alternate over the three scales, each
cross-attention restricted to the query's current mask (Mask2Former's masked attention).
All 3×3 convolutions wrap in longitude, so masks continue across the seam.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as nnf
from torch import nn

from foir360_core.models.layers import SphericalPositionEncoding, WrapConv2d


def conv_gn_relu(cin: int, cout: int, kernel: int) -> nn.Sequential:
    """Conv (wrapping in longitude when it pads) + GroupNorm + ReLU."""
    conv_cls = WrapConv2d if kernel > 1 else nn.Conv2d
    return nn.Sequential(
        conv_cls(cin, cout, kernel, padding=kernel // 2, bias=False),
        nn.GroupNorm(min(32, cout // 4), cout),
        nn.ReLU(inplace=True),
    )


class PixelDecoder(nn.Module):
    """Backbone maps (strides 4..32) → mask features (stride 4) and 3 decoder scales."""

    def __init__(
        self,
        in_channels: tuple[int, ...],
        dim: int,
        encoder_layers: int,
        heads: int,
        ffn: int,
    ) -> None:
        super().__init__()
        self.lateral = nn.ModuleList(conv_gn_relu(c, dim, 1) for c in in_channels)
        self.output = nn.ModuleList(conv_gn_relu(dim, dim, 3) for _ in in_channels[:-1])
        layer = nn.TransformerEncoderLayer(dim, heads, ffn, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, encoder_layers, enable_nested_tensor=False)
        self.mask_proj = nn.Conv2d(dim, dim, 1)

    def forward(
        self, feats: list[torch.Tensor], pos: SphericalPositionEncoding
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        top = self.lateral[-1](feats[-1])
        b, c, h, w = top.shape
        tokens = top.flatten(2).transpose(1, 2) + pos(h, w, top.device)
        top = self.encoder(tokens).transpose(1, 2).reshape(b, c, h, w)
        outs = [top]
        for i in range(len(feats) - 2, -1, -1):
            lat = self.lateral[i](feats[i])
            top = lat + nnf.interpolate(top, size=lat.shape[-2:], mode="nearest")
            top = self.output[i](top)
            outs.append(top)
        # outs: strides 32, 16, 8, 4
        return self.mask_proj(outs[-1]), outs[:3]


class MLP(nn.Module):
    """Plain MLP with ReLU between layers."""

    def __init__(self, din: int, dhidden: int, dout: int, layers: int) -> None:
        super().__init__()
        dims = [din] + [dhidden] * (layers - 1) + [dout]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(dims))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = nnf.relu(x)
        return x


class DecoderLayer(nn.Module):
    """Masked cross-attention → self-attention → FFN (post-norm, as in Mask2Former)."""

    def __init__(self, dim: int, heads: int, ffn: int, dropout: float) -> None:
        super().__init__()
        self.cross = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn), nn.ReLU(inplace=True), nn.Linear(ffn, dim))
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(3))

    def forward(
        self,
        q: torch.Tensor,
        qpos: torch.Tensor,
        mem: torch.Tensor,
        mpos: torch.Tensor,
        attn_mask: torch.Tensor,
    ) -> torch.Tensor:
        q = self.norms[0](q + self.cross(q + qpos, mem + mpos, mem, attn_mask=attn_mask)[0])
        q = self.norms[1](q + self.self_attn(q + qpos, q + qpos, q)[0])
        return self.norms[2](q + self.ffn(q))


class TransformerDecoder(nn.Module):
    """N learned queries refined over the decoder scales; predictions after every layer."""

    def __init__(
        self,
        *,
        dim: int,
        num_queries: int,
        num_classes: int,
        layers: int,
        heads: int,
        ffn: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.heads = heads
        self.query_feat = nn.Embedding(num_queries, dim)
        self.query_pos = nn.Embedding(num_queries, dim)
        self.level_embed = nn.Embedding(3, dim)
        self.layers = nn.ModuleList(DecoderLayer(dim, heads, ffn, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.class_embed = nn.Linear(dim, num_classes + 1)
        self.mask_embed = MLP(dim, dim, dim, 3)

    def read_out(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Normed queries, their class logits and their mask embeddings."""
        q = self.norm(q)
        return q, self.class_embed(q), self.mask_embed(q)

    def attention_mask(self, logits: torch.Tensor) -> torch.Tensor:
        """Masked attention's blocked cells from mask logits at the next layer's scale."""
        blocked = logits.flatten(2) < 0.0  # sigmoid < 0.5: outside the query's current mask
        # A query whose mask is empty at this scale attends everywhere instead of nowhere.
        blocked = blocked & ~blocked.all(dim=-1, keepdim=True)
        return blocked.repeat_interleave(self.heads, dim=0)

    def forward(
        self,
        mask_features: torch.Tensor,
        scales: list[torch.Tensor],
        pos: SphericalPositionEncoding,
        *,
        aux_masks: bool = True,
    ) -> tuple[list[dict[str, torch.Tensor]], torch.Tensor]:
        """Every layer's predictions (only the last one's unless ``aux_masks``) and queries.

        Each layer's attention mask is its predecessor's mask logits at the layer's scale.
        Training supervises every layer's full-resolution masks, so it resizes those. At
        inference only the last layer's masks are wanted, and the mask features are resized
        once per scale instead: bilinear resizing acts on every channel alike, so it commutes
        with the per-pixel dot product (resize(e·F) = e·resize(F)), and the same logits cost
        1/4 to 1/64 of the full-resolution product and no per-layer resize of Q maps.
        """
        b = mask_features.shape[0]
        mems, mposes, sizes = [], [], []
        for level, x in enumerate(scales):
            h, w = x.shape[-2:]
            sizes.append((h, w))
            mems.append(x.flatten(2).transpose(1, 2))
            mposes.append(pos(h, w, x.device) + self.level_embed.weight[level])
        pooled = None if aux_masks else [
            nnf.interpolate(mask_features, size=hw, mode="bilinear", align_corners=False)
            for hw in sizes
        ]
        q = self.query_feat.weight.unsqueeze(0).expand(b, -1, -1)
        qpos = self.query_pos.weight.unsqueeze(0).expand(b, -1, -1)
        preds = []
        for i in range(len(self.layers) + 1):
            normed, cls, embed = self.read_out(q)
            if aux_masks or i == len(self.layers):
                masks = torch.einsum("bqc,bchw->bqhw", embed, mask_features)
                preds.append({"class_logits": cls, "mask_logits": masks})
            if i == len(self.layers):
                break
            level = i % len(scales)
            if pooled is None:
                small = nnf.interpolate(masks, size=sizes[level], mode="bilinear",
                                        align_corners=False)
            else:
                small = torch.einsum("bqc,bchw->bqhw", embed, pooled[level])
            q = self.layers[i](q, qpos, mems[level], mposes[level], self.attention_mask(small))
        return preds, normed
