"""A third rank head, defined outside the package: one file, one class, no other edit.

It scores each query with one linear layer (higher = more important) and learns by a
pairwise logistic loss over the matched queries. Selected by ``rank_head: {type: toy}``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from foir360_core.models.heads import RankHead, RankTargets, one_image, register_rank_head
from foir360_core.structures.instances import ranks_from_scores


@register_rank_head
class ToyRankHead(RankHead):
    name = "toy"
    defaults: ClassVar[dict[str, Any]] = {"temperature": 1.0}
    outputs = ("toy_importance",)

    def __init__(self, dim: int, model_cfg: dict) -> None:
        super().__init__()
        self.temperature = float(self.params(model_cfg)["temperature"])
        self.score = nn.Linear(dim, 1)

    def forward(self, queries, obj_prob, memory, memory_pos, *, rank: bool) -> dict:
        return {"toy_importance": self.score(queries).squeeze(-1) / self.temperature}

    def loss(self, outputs: dict, targets: RankTargets, train_cfg: dict, generator=None):
        scores = outputs["toy_importance"]
        total = scores.sum() * 0.0
        for b, order in enumerate(targets.orders):
            s = scores[b, order.to(scores.device)]
            if len(s) > 1:  # every earlier object should outscore every later one
                diff = s[:, None] - s[None, :]
                upper = torch.triu(torch.ones_like(diff), diagonal=1)
                total = total + (nn.functional.softplus(-diff) * upper).sum() / upper.sum()
        return total / max(len(targets.orders), 1)

    @classmethod
    def decode(cls, outputs, queries: np.ndarray) -> np.ndarray:
        return ranks_from_scores(one_image(outputs, "toy_importance", 1)[queries])
