"""SeqRank-style sequential picking: the default rank head.

At each step every query sees which queries are already picked (a learned "visited"
embedding) and which was picked last (a "gaze" embedding that also conditions the image
tokens), and the head scores who comes next. Training is teacher-forced on the pseudo-label
order, with one extra step per image whose target is "nobody": the learned stop. Inference
is unrolled for a fixed number of steps with no data-dependent Python control flow, so it
exports to ONNX; already-picked queries are masked explicitly, which guarantees uniqueness.

Exported output: ``rank_scores`` (B, Q), higher = picked earlier; decoding sorts the kept
queries by it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from foir360_core.models.heads import register_rank_head
from foir360_core.models.heads.base import RankHead, RankTargets, nn, one_image, torch
from foir360_core.structures.instances import ranks_from_scores

NEG = -1.0e4


@register_rank_head
class SequentialRankHead(RankHead):
    """Picks the most important remaining query step by step (see the module docstring)."""

    name = "sequential"
    defaults: ClassVar[dict[str, Any]] = {"layers": 2, "max_steps": 50, "stop_threshold": 0.5}
    outputs = ("rank_scores",)

    def __init__(self, dim: int, model_cfg: dict) -> None:
        from foir360_core.models.heads._srm import SRMBlock

        super().__init__()
        p = self.params(model_cfg)
        heads, ffn = int(model_cfg["num_heads"]), int(model_cfg["ffn_dim"])
        self.max_steps = int(p["max_steps"])
        self.stop_threshold = float(p["stop_threshold"])
        self.in_proj = nn.Linear(dim + 1, dim)
        self.visited = nn.Parameter(torch.zeros(dim))
        self.gaze = nn.Parameter(torch.zeros(dim))
        self.start = nn.Parameter(torch.zeros(dim))
        nn.init.normal_(self.visited, std=0.02)
        nn.init.normal_(self.gaze, std=0.02)
        nn.init.normal_(self.start, std=0.02)
        self.blocks = nn.ModuleList(SRMBlock(dim, heads, ffn) for _ in range(int(p["layers"])))
        self.out = nn.Linear(dim, 1)

    def step_logits(self, base, z, zpos, visited, gaze, *, z_parts):
        """(S, Q) next-pick logits given ``visited`` (S, Q) 0/1 and ``gaze`` (S, Q) one-hot.

        ``z_parts`` holds each block's ``image_part(z)`` (see ``SRMBlock.image_part``).
        """
        x = base + visited.unsqueeze(-1) * self.visited + gaze.unsqueeze(-1) * self.gaze
        has_gaze = gaze.sum(-1, keepdim=True)
        gaze_vec = (gaze.unsqueeze(-1) * x).sum(1) + (1.0 - has_gaze) * self.start
        for block, z_part in zip(self.blocks, z_parts, strict=True):
            x = block(x, z, zpos, gaze_vec, z_part)
        return self.out(x).squeeze(-1)

    def image_parts(self, z):
        return [block.image_part(z) for block in self.blocks]

    def embed(self, q, obj_prob):
        """Query features plus their object probability (a strong cue for "who is left")."""
        return self.in_proj(torch.cat([q, obj_prob.unsqueeze(-1)], dim=-1))

    def teacher_forced(self, q, obj_prob, z, zpos, orders, *, max_steps, generator=None):
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

    def forward(self, queries, obj_prob, memory, memory_pos, *, rank: bool) -> dict:
        """Unrolled inference → ``rank_scores`` (B, Q); nothing when ``rank`` is False.

        A query picked at step k scores ``K - k + 1`` before the learned stop fires and
        ``-k`` after it, so sorting the scores replays the pick order and puts everything
        ranked after the stop below everything ranked before it. Queries never picked
        (K < Q) score below all picks, ordered by object probability.
        """
        if not rank:
            return {}
        nnf = torch.nn.functional
        b, nq, _ = queries.shape
        steps = min(self.max_steps, nq)
        base = self.embed(queries, obj_prob)
        zpos = memory_pos.expand(b, -1, -1)
        z_parts = self.image_parts(memory)
        visited = torch.zeros(b, nq, device=queries.device)
        gaze = torch.zeros(b, nq, device=queries.device)
        stopped = torch.zeros(b, 1, device=queries.device)
        scores = obj_prob - float(steps + 2)
        for k in range(1, steps + 1):
            logits = self.step_logits(base, memory, zpos, visited, gaze, z_parts=z_parts)
            logits = logits.masked_fill(visited > 0, NEG)
            best = logits.max(dim=1, keepdim=True).values
            pick = nnf.one_hot(logits.argmax(dim=1), nq).to(queries.dtype)
            stopped = torch.maximum(
                stopped, (torch.sigmoid(best) < self.stop_threshold).to(queries.dtype)
            )
            value = (1.0 - stopped) * float(steps - k + 1) - stopped * float(k)
            scores = scores * (1.0 - pick) + pick * value
            visited = visited + pick
            gaze = pick
        return {"rank_scores": scores}

    def loss(self, outputs: dict, targets: RankTargets, train_cfg: dict, generator=None):
        """Teacher-forced per-step BCE over the queries, with the final "stop" step."""
        from foir360_core.models.panorank import object_probability

        logits, wanted = self.teacher_forced(
            outputs["queries"],
            object_probability(outputs["class_logits"]),
            outputs["memory"],
            outputs["memory_pos"],
            targets.orders,
            max_steps=int(train_cfg["max_rank_steps"]),
            generator=generator,
        )
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        return bce(logits, wanted, reduction="none").sum(-1).mean()

    @classmethod
    def decode(cls, outputs: Mapping[str, np.ndarray], queries: np.ndarray) -> np.ndarray:
        """Sort the kept queries by ``rank_scores`` (ties by query order)."""
        scores = one_image(outputs, "rank_scores", 1).astype(np.float64)
        return ranks_from_scores(scores[queries])
