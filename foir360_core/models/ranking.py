"""Ranking heads: SeqRank-style sequential picking, and per-query rank slots (seed 002).

Both heads output ``rank_scores`` (B, Q), higher = more important, so ranks are always
unique once sorted (ties broken by query index).

``SequentialRankHead`` (SeqRank's SRM, adapted): at each step every query sees which
queries are already picked (a learned "visited" embedding) and which was picked last (a
"gaze" embedding that also conditions the image tokens), and the head scores who comes
next. Training is teacher-forced on the pseudo-label order, with one extra step per image
whose target is "nobody": the learned stop. Inference is unrolled for a fixed number of
steps with no data-dependent Python control flow, so it exports to ONNX; already-picked
queries are masked explicitly, which guarantees uniqueness.

``HungarianRankHead`` (seed 002's exclusive classification): each query classifies its
rank slot 1..R; the exclusive assignment of queries to slots is solved with the Hungarian
algorithm at post-processing (``postprocess.exclusive_ranks``); its ``rank_scores`` is
the expected importance, sorted when no assignment is run (ONNX path).
"""

from __future__ import annotations

import torch
import torch.nn.functional as nnf
from torch import nn

NEG = -1.0e4


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


class SequentialRankHead(nn.Module):
    """Picks the most important remaining query step by step (see module docstring)."""

    def __init__(
        self, dim: int, *, heads: int, ffn: int, layers: int, max_steps: int, stop_threshold: float
    ) -> None:
        super().__init__()
        self.max_steps = max_steps
        self.stop_threshold = stop_threshold
        self.in_proj = nn.Linear(dim + 1, dim)
        self.visited = nn.Parameter(torch.zeros(dim))
        self.gaze = nn.Parameter(torch.zeros(dim))
        self.start = nn.Parameter(torch.zeros(dim))
        nn.init.normal_(self.visited, std=0.02)
        nn.init.normal_(self.gaze, std=0.02)
        nn.init.normal_(self.start, std=0.02)
        self.blocks = nn.ModuleList(SRMBlock(dim, heads, ffn) for _ in range(layers))
        self.out = nn.Linear(dim, 1)

    def step_logits(
        self,
        base: torch.Tensor,
        z: torch.Tensor,
        zpos: torch.Tensor,
        visited: torch.Tensor,
        gaze: torch.Tensor,
        *,
        z_parts: list[torch.Tensor],
    ) -> torch.Tensor:
        """(S, Q) next-pick logits given ``visited`` (S, Q) 0/1 and ``gaze`` (S, Q) one-hot.

        ``z_parts`` holds each block's ``image_part(z)`` (see ``SRMBlock.image_part``).
        """
        x = base + visited.unsqueeze(-1) * self.visited + gaze.unsqueeze(-1) * self.gaze
        has_gaze = gaze.sum(-1, keepdim=True)
        gaze_vec = (gaze.unsqueeze(-1) * x).sum(1) + (1.0 - has_gaze) * self.start
        for block, z_part in zip(self.blocks, z_parts, strict=True):
            x = block(x, z, zpos, gaze_vec, z_part)
        return self.out(x).squeeze(-1)

    def image_parts(self, z: torch.Tensor) -> list[torch.Tensor]:
        return [block.image_part(z) for block in self.blocks]

    def embed(self, q: torch.Tensor, obj_prob: torch.Tensor) -> torch.Tensor:
        """Query features plus their object probability (a strong cue for "who is left")."""
        return self.in_proj(torch.cat([q, obj_prob.unsqueeze(-1)], dim=-1))

    def teacher_forced(
        self,
        q: torch.Tensor,
        obj_prob: torch.Tensor,
        z: torch.Tensor,
        zpos: torch.Tensor,
        orders: list[torch.Tensor],
        *,
        max_steps: int,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and 0/1 targets (S, Q) for teacher-forced steps of every image.

        ``orders[b]`` lists image b's matched query indices, rank 1 first. Step s has the
        first s picked and targets the (s+1)-th; step n targets nobody (the stop). When an
        image has more than ``max_steps`` steps, a random subset is used (always keeping
        the stop step), which bounds memory on crowded scenes.
        """
        nq = q.shape[1]
        base = self.embed(q, obj_prob)
        rows, visited, gaze, targets = [], [], [], []
        for b, order in enumerate(orders):
            n = int(order.numel())
            steps = torch.arange(n + 1)
            if n + 1 > max_steps:
                keep = torch.randperm(n, generator=generator)[: max_steps - 1]
                steps = torch.cat([steps[keep].sort().values, torch.tensor([n])])
            for s in steps.tolist():
                v = torch.zeros(nq, device=q.device)
                v[order[:s]] = 1.0
                g = torch.zeros(nq, device=q.device)
                if s > 0:
                    g[order[s - 1]] = 1.0
                t = torch.zeros(nq, device=q.device)
                if s < n:
                    t[order[s]] = 1.0
                rows.append(b)
                visited.append(v)
                gaze.append(g)
                targets.append(t)
        idx = torch.tensor(rows, device=q.device, dtype=torch.long)
        logits = self.step_logits(
            base[idx],
            z[idx],
            zpos.expand(len(rows), -1, -1),
            torch.stack(visited),
            torch.stack(gaze),
            z_parts=[part[idx] for part in self.image_parts(z)],
        )
        return logits, torch.stack(targets)

    def forward(
        self, q: torch.Tensor, obj_prob: torch.Tensor, z: torch.Tensor, zpos: torch.Tensor
    ) -> torch.Tensor:
        """Unrolled inference → rank_scores (B, Q).

        A query picked at step k scores ``K - k + 1`` before the learned stop fires and
        ``-k`` after it, so sorting the scores replays the pick order and puts everything
        ranked after the stop below everything ranked before it. Queries never picked
        (K < Q) score below all picks, ordered by object probability.
        """
        b, nq, _ = q.shape
        steps = min(self.max_steps, nq)
        base = self.embed(q, obj_prob)
        zpos = zpos.expand(b, -1, -1)
        z_parts = self.image_parts(z)
        visited = torch.zeros(b, nq, device=q.device)
        gaze = torch.zeros(b, nq, device=q.device)
        stopped = torch.zeros(b, 1, device=q.device)
        scores = obj_prob - float(steps + 2)
        for k in range(1, steps + 1):
            logits = self.step_logits(base, z, zpos, visited, gaze, z_parts=z_parts)
            logits = logits.masked_fill(visited > 0, NEG)
            best = logits.max(dim=1, keepdim=True).values
            pick = nnf.one_hot(logits.argmax(dim=1), nq).to(q.dtype)
            stopped = torch.maximum(
                stopped, (torch.sigmoid(best) < self.stop_threshold).to(q.dtype)
            )
            value = (1.0 - stopped) * float(steps - k + 1) - stopped * float(k)
            scores = scores * (1.0 - pick) + pick * value
            visited = visited + pick
            gaze = pick
        return scores


class HungarianRankHead(nn.Module):
    """Per-query rank-slot classification (slots 1..R, the last one meaning "R or later")."""

    def __init__(self, dim: int, slots: int) -> None:
        super().__init__()
        self.slots = slots
        self.mlp = nn.Sequential(
            nn.Linear(dim + 1, dim), nn.ReLU(inplace=True), nn.Linear(dim, slots)
        )

    def forward(self, q: torch.Tensor, obj_prob: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(rank_logits (B, Q, R), rank_scores (B, Q) = expected importance)."""
        logits = self.mlp(torch.cat([q, obj_prob.unsqueeze(-1)], dim=-1))
        weights = torch.arange(self.slots, 0, -1, device=q.device, dtype=q.dtype)
        return logits, (logits.softmax(-1) * weights).sum(-1)
