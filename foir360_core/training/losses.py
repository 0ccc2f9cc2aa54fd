"""Hungarian matching and the PanoRank losses (Mask2Former + SeqRank / seed 002).

Masks are compared on randomly sampled points, as in Mask2Former, instead of full maps:
far cheaper and as accurate. Point sampling wraps across the longitude seam, so a mask
that straddles it is scored as one object.

Losses, per decoder layer (the auxiliary layers too):
* class: cross-entropy, the "no object" class down-weighted;
* mask: sigmoid BCE + dice on the matched pairs;
* rank (final layer only): the rank head's own ``loss`` (``models.heads``) over the
  matched queries in ground-truth order.
"""

from __future__ import annotations

import torch
import torch.nn.functional as nnf
from scipy.optimize import linear_sum_assignment

from foir360_core.models.heads import RankTargets
from foir360_core.models.layers import circular_pad_lon
from foir360_core.models.panorank import PanoRank
from foir360_core.training.data import Sample


def point_sample_wrap(maps: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Bilinear values of (N, h, w) maps at (P, 2) points (x, y in [0, 1)), seam-periodic."""
    n, _, w = maps.shape
    padded = circular_pad_lon(maps.unsqueeze(1), 1)  # (N, 1, h, w + 2)
    gx = 2.0 * (points[:, 0] * w + 1.0) / (w + 2) - 1.0
    gy = 2.0 * points[:, 1] - 1.0
    grid = torch.stack([gx, gy], dim=-1).view(1, 1, -1, 2).expand(n, -1, -1, -1)
    out = nnf.grid_sample(padded, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.view(n, -1)


def pairwise_mask_costs(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(Q, P) logits vs (n, P) 0/1 targets → BCE and dice cost matrices (Q, n)."""
    p = logits.shape[1]
    pos = nnf.binary_cross_entropy_with_logits(logits, torch.ones_like(logits), reduction="none")
    neg = nnf.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits), reduction="none")
    bce = (pos @ targets.T + neg @ (1.0 - targets).T) / p
    prob = logits.sigmoid()
    dice = 1.0 - (2.0 * prob @ targets.T + 1.0) / (
        prob.sum(-1)[:, None] + targets.sum(-1)[None] + 1.0
    )
    return bce, dice


def dice_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    prob = logits.sigmoid()
    num = 2.0 * (prob * targets).sum(-1) + 1.0
    return (1.0 - num / (prob.sum(-1) + targets.sum(-1) + 1.0)).sum()


@torch.no_grad()
def hungarian_match(
    class_logits: torch.Tensor,
    mask_logits: torch.Tensor,
    sample: Sample,
    points: torch.Tensor,
    weights: dict,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Optimal one-to-one (query, object) pairs for one image (scipy Hungarian)."""
    prob = class_logits.softmax(-1)[:, sample.classes]  # (Q, n)
    pred = point_sample_wrap(mask_logits, points)
    tgt = point_sample_wrap(sample.masks.to(mask_logits.device), points)
    bce, dice = pairwise_mask_costs(pred, tgt)
    cost = weights["mask_bce"] * bce + weights["mask_dice"] * dice - weights["class"] * prob
    rows, cols = linear_sum_assignment(cost.float().cpu().numpy())
    return torch.as_tensor(rows, dtype=torch.long), torch.as_tensor(cols, dtype=torch.long)


class Criterion:
    """Computes the total loss and its parts for one batch."""

    def __init__(self, model: PanoRank, train_cfg: dict) -> None:
        self.num_classes = int(model.config["num_classes"])
        self.train_cfg = dict(train_cfg)
        self.weights = dict(train_cfg["loss_weights"])
        self.num_points = int(train_cfg["num_points"])
        self.class_weight = torch.ones(self.num_classes + 1)
        self.class_weight[-1] = float(train_cfg["no_object_weight"])

    def __call__(
        self,
        model: PanoRank,
        outputs: dict,
        samples: list[Sample],
        num_objects: float,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        device = outputs["class_logits"].device
        points = [torch.rand(self.num_points, 2, generator=generator).to(device) for _ in samples]
        layers = [*outputs["aux"], {k: outputs[k] for k in ("class_logits", "mask_logits")}]
        total = torch.zeros((), device=device)
        parts: dict[str, float] = {}
        final_matches = []
        for depth, layer in enumerate(layers):
            matches = [
                hungarian_match(
                    layer["class_logits"][b], layer["mask_logits"][b], s, points[b], self.weights
                )
                for b, s in enumerate(samples)
            ]
            losses = self._set_losses(layer, samples, matches, points, num_objects)
            for name, value in losses.items():
                total = total + self.weights[name] * value
                if depth == len(layers) - 1:
                    parts[name] = float(value.detach())
            final_matches = matches
        rank = self._rank_loss(model, outputs, samples, final_matches, generator)
        total = total + self.weights["rank"] * rank
        parts["rank"] = float(rank.detach())
        parts["total"] = float(total.detach())
        return total, parts

    def _set_losses(
        self,
        layer: dict,
        samples: list[Sample],
        matches: list[tuple[torch.Tensor, torch.Tensor]],
        points: list[torch.Tensor],
        num_objects: float,
    ) -> dict[str, torch.Tensor]:
        class_logits = layer["class_logits"]
        device = class_logits.device
        target = torch.full(
            class_logits.shape[:2], self.num_classes, dtype=torch.long, device=device
        )
        bce = torch.zeros((), device=device)
        dice = torch.zeros((), device=device)
        for b, (sample, (q, t)) in enumerate(zip(samples, matches, strict=True)):
            target[b, q.to(device)] = sample.classes.to(device)[t]
            pred = point_sample_wrap(layer["mask_logits"][b, q.to(device)], points[b])
            tgt = point_sample_wrap(sample.masks.to(device)[t], points[b])
            bce = (
                bce
                + nnf.binary_cross_entropy_with_logits(pred, tgt, reduction="none").mean(-1).sum()
            )
            dice = dice + dice_loss(pred, tgt)
        ce = nnf.cross_entropy(
            class_logits.transpose(1, 2), target, weight=self.class_weight.to(device)
        )
        return {"class": ce, "mask_bce": bce / num_objects, "mask_dice": dice / num_objects}

    def _rank_loss(
        self,
        model: PanoRank,
        outputs: dict,
        samples: list[Sample],
        matches: list[tuple[torch.Tensor, torch.Tensor]],
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        """The rank head's own loss over the matched queries, most important first."""
        device = outputs["queries"].device
        orders, ranks = [], []
        for sample, (q, t) in zip(samples, matches, strict=True):
            by_rank = torch.argsort(sample.ranks[t])  # matched pairs, rank 1 first
            orders.append(q[by_rank].to(device))
            ranks.append(sample.ranks[t][by_rank])
        targets = RankTargets(orders=orders, ranks=ranks)
        return model.rank_head.loss(outputs, targets, self.train_cfg, generator)
