"""Sal-to-Rank scoring (Eq. 3, Table 4-B) and multi-saliency fusion (PLE, Eq. 5).

Every object score is computed on a min-max normalised saliency map ξ(Salmap) ∈ [0, 1]:

* ``sum``  — ``IMScore_i = Sum(NewObj_i ⊙ ξ(Salmap))``, the paper's default (Eq. 3);
* ``max``  — the largest saliency inside the object;
* ``mean`` — the mean saliency inside the object;
* ``mean_x`` — the binarised-map score of Song et al. 2024 (seed 002, "whole-flow" SOR,
  Eq. 3 and 12): the map is binarised at ``T = mean_i(mean saliency of object i) / λ`` and
  an object scores (white fraction inside it) × √(object size / view size), so both the
  share of salient pixels and the object's size count. λ (``mean_x_lambda``) defaults to 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

REDUCTIONS = ("sum", "max", "mean", "mean_x")


def minmax(saliency: np.ndarray) -> np.ndarray:
    """ξ: scale a map to [0, 1]; a constant (or non-finite) map carries no signal → zeros."""
    sal = np.nan_to_num(np.asarray(saliency, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(sal.min()), float(sal.max())
    if high - low <= 1e-12:
        return np.zeros_like(sal)
    return (sal - low) / (high - low)


def object_scores(
    saliency01: np.ndarray, masks: np.ndarray, reduction: str = "sum", *,
    mean_x_lambda: float = 1.0,
) -> np.ndarray:
    """Importance score of each of k view masks (k, h, w) on a normalised map (h, w)."""
    flat = masks.reshape(masks.shape[0], -1)
    return _scores(saliency01, flat, flat.astype(np.float32), reduction, mean_x_lambda)


def _scores(
    saliency01: np.ndarray, flat: np.ndarray, flat_f32: np.ndarray, reduction: str,
    mean_x_lambda: float,
) -> np.ndarray:
    """:func:`object_scores` on masks already flattened (bool and float32 copies)."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown Sal-to-Rank reduction {reduction!r}; use one of {REDUCTIONS}")
    area = flat_f32.sum(axis=1).astype(np.float64)
    sal = saliency01.reshape(-1).astype(np.float32, copy=False)
    if reduction == "max":
        return np.array([float(sal[m].max()) if m.any() else 0.0 for m in flat])
    sums = (flat_f32 @ sal).astype(np.float64)
    safe_area = np.maximum(area, 1.0)
    if reduction == "sum":
        return sums
    if reduction == "mean":
        return sums / safe_area
    threshold = min(float(np.mean(sums / safe_area)) / mean_x_lambda, 1.0)
    white = (flat_f32 @ (sal >= threshold).astype(np.float32)).astype(np.float64)
    return (white / safe_area) * np.sqrt(area / sal.size)


def top_gap(scores: np.ndarray) -> float:
    """|score(top-1) − score(top-2)|, the Eq. 5 confidence of one model in one view."""
    if scores.size < 2:
        return 0.0
    top = np.sort(scores)[::-1]
    return float(abs(top[0] - top[1]))


def fusion_weights(per_model_scores: Sequence[np.ndarray]) -> np.ndarray:
    """PLE weights ω_k = |Sal_k(m1) − Sal_k(m2)|, normalised to sum to 1 (uniform if all 0).

    m1 and m2 are each model's own top-1 and top-2 objects: a model that separates the top
    objects clearly in this view is trusted more than one that hesitates.
    """
    gaps = np.array([top_gap(np.asarray(s, dtype=np.float64)) for s in per_model_scores])
    total = gaps.sum()
    if not np.isfinite(total) or total <= 0:
        return np.full(len(per_model_scores), 1.0 / max(len(per_model_scores), 1))
    return gaps / total


def fuse_and_score(
    maps01: Sequence[np.ndarray], masks: np.ndarray, reduction: str = "sum", *,
    mean_x_lambda: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PLE (Eq. 5) then Eq. 3: (object scores, fused map, model weights) for one view.

    The fused map ``S = Σ ω_k ξ(Sal_k)`` is a convex combination of [0, 1] maps, so it stays
    in [0, 1] and is scored as it is.
    """
    flat = masks.reshape(masks.shape[0], -1)
    flat_f32 = flat.astype(np.float32)
    if len(maps01) == 1:
        fused = maps01[0]
        weights = np.ones(1)
    else:
        per_model = [_scores(m, flat, flat_f32, reduction, mean_x_lambda) for m in maps01]
        weights = fusion_weights(per_model)
        fused = np.zeros_like(maps01[0])
        for w, m in zip(weights, maps01, strict=True):
            fused += np.float32(w) * m
    return _scores(fused, flat, flat_f32, reduction, mean_x_lambda), fused, weights
