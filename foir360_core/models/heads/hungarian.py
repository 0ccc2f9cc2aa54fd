"""Per-query rank-slot classification with exclusive assignment (seed 002).

Each query classifies its rank slot 1..R (the last one meaning "R or later"). Decoding
solves the exclusive assignment of the kept queries to slots with the Hungarian algorithm,
so ranks are unique. The graph exports the slot logits themselves (``rank_logits``), so
that the runtime decodes exactly as the training validation does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.special import softmax

from foir360_core.models.heads import register_rank_head
from foir360_core.models.heads.base import RankHead, RankTargets, nn, one_image, torch
from foir360_core.structures.instances import ranks_from_scores


def exclusive_ranks(rank_logits: np.ndarray) -> np.ndarray:
    """Unique ranks 1..n from per-object rank-slot logits (n, R) by Hungarian assignment.

    Cost is −log P(slot); slots are replicated so that any n fits (the last slot means
    "R or later"), then objects are ordered by their assigned slot, ties by probability.
    """
    n, slots = rank_logits.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    logp = np.log(softmax(rank_logits.astype(np.float64), axis=-1) + 1e-12)
    columns = np.minimum(np.arange(max(n, slots)), slots - 1)
    cost = -logp[:, columns]
    rows, cols = linear_sum_assignment(cost)
    assigned = np.empty(n, dtype=np.float64)
    assigned[rows] = columns[cols] - 1e-6 * logp[rows, columns[cols]]
    return ranks_from_scores(-assigned)


@register_rank_head
class HungarianRankHead(RankHead):
    """Rank-slot classifier over query features and object probability."""

    name = "hungarian"
    defaults: ClassVar[dict[str, Any]] = {"rank_slots": 32}
    outputs = ("rank_logits",)

    def __init__(self, dim: int, model_cfg: dict) -> None:
        super().__init__()
        self.slots = int(self.params(model_cfg)["rank_slots"])
        self.mlp = nn.Sequential(
            nn.Linear(dim + 1, dim), nn.ReLU(inplace=True), nn.Linear(dim, self.slots)
        )

    def forward(self, queries, obj_prob, memory, memory_pos, *, rank: bool) -> dict:
        """``rank_logits`` (B, Q, R), always: the loss and the decoding both need them."""
        return {"rank_logits": self.mlp(torch.cat([queries, obj_prob.unsqueeze(-1)], dim=-1))}

    def loss(self, outputs: dict, targets: RankTargets, train_cfg: dict, generator=None):
        """Rank-slot cross-entropy of the matched queries (ranks past R go to slot R)."""
        logits = outputs["rank_logits"]
        device = logits.device
        total = torch.zeros((), device=device)
        count = 0
        for b, (order, ranks) in enumerate(zip(targets.orders, targets.ranks, strict=True)):
            slot = (ranks - 1).clamp(max=self.slots - 1).to(device)
            total = total + torch.nn.functional.cross_entropy(
                logits[b, order.to(device)], slot, reduction="sum")
            count += len(order)
        return total / max(count, 1)

    @classmethod
    def decode(cls, outputs: Mapping[str, np.ndarray], queries: np.ndarray) -> np.ndarray:
        """Exclusive assignment of the kept queries to rank slots."""
        return exclusive_ranks(one_image(outputs, "rank_logits", 2)[queries])
