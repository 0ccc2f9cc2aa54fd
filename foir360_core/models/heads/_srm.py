"""The sequential head's SRM block (SeqRank, adapted). Pure torch: imported only when the
head is built, so that decoding stays importable without torch."""

from __future__ import annotations

import torch
import torch.nn.functional as nnf
from torch import nn


class SRMBlock(nn.Module):
    """Gaze-conditioned image update, query self-attention, query→image cross-attention."""

    def __init__(self, dim: int, heads: int, ffn: int) -> None:
        super().__init__()
        self.fuse = nn.Sequential(
            nn.Linear(2 * dim, dim), nn.ReLU(inplace=True), nn.Linear(dim, dim)
        )
        self.self_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.cross = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn), nn.ReLU(inplace=True), nn.Linear(ffn, dim))
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(4))

    def image_part(self, z: torch.Tensor) -> torch.Tensor:
        """The image half of the fusion's first layer: fixed across steps, so computed once.

        ``fuse(cat(z, g))`` = ``fuse[2](relu(W_z z + W_g g + b))``; only ``W_g g`` changes
        from step to step, which saves one token-wide matmul per step at inference.
        """
        dim = z.shape[-1]
        first = self.fuse[0]
        return nnf.linear(z, first.weight[:, :dim], first.bias)

    def forward(
        self,
        x: torch.Tensor,
        z: torch.Tensor,
        zpos: torch.Tensor,
        gaze_vec: torch.Tensor,
        z_part: torch.Tensor,
    ) -> torch.Tensor:
        dim = z.shape[-1]
        gaze_part = nnf.linear(gaze_vec, self.fuse[0].weight[:, dim:]).unsqueeze(1)
        z = self.norms[0](z + self.fuse[2](torch.relu(z_part + gaze_part)))
        x = self.norms[1](x + self.self_attn(x, x, x)[0])
        x = self.norms[2](x + self.cross(x, z + zpos, z)[0])
        return self.norms[3](x + self.ffn(x))
