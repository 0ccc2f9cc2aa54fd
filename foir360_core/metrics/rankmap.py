"""Rank maps: one uint8 image per panorama, a higher gray meaning a more important object.

The ASSR-family SOR and the rank-map MAE are computed from such maps, so how objects are
painted (gray values, which object wins where masks overlap, which objects are left out)
is part of the metric. Two schemes are provided.

``"linear"`` — the default, for all-object ranking (QAGNet's IRSR/SIFR painter).
    With n objects, an object's level is ``a = 1 + #(objects strictly less important)``
    (rank 1 of n gets ``a = n``) and its gray is ``int((255.0 / n) * a)``, truncated exactly
    as QAGNet computes it in float64. Distinct ranks give distinct grays for any n ≤ 255
    (consecutive grays are ≥ 1 apart), so the map stays strictly ordered for 360Rank's ~43
    objects per scene. The float64 product is kept on purpose: for some n (25, 29, 50, …)
    it gives 254.99999999999997, so the top object is 254, exactly as in QAGNet's maps.
    The more important object is painted on top where masks overlap (equal ranks share a
    gray, so their order does not matter). This is also the GT rank-map scheme of the
    ``foir360`` and ``irsr`` profiles (the FOIR-360 repository defines none for 360Rank).

``"assr"`` — ASSR's ``generate_saliency_map.py``.
    Objects are sorted most important first (equal ranks: the later object first, as
    ASSR's ``sorted(..., reverse=True)`` over ``(score, index)`` does); the first five get
    grays 255, 229, 204, 178, 153 and every other object is not painted at all. They are
    painted in that order, so a less important object overwrites a more important one
    where they overlap.
"""

from __future__ import annotations

import numpy as np

from foir360_core.metrics.masks import MaskSet

ASSR_GRAYS = (255, 229, 204, 178, 153)
SCHEMES = ("linear", "assr")


def check_scheme(scheme: str) -> str:
    """Return ``scheme`` or raise naming the valid ones."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown rank-map scheme {scheme!r}; use one of {', '.join(SCHEMES)}")
    return scheme


def levels_from_ranks(ranks: np.ndarray) -> np.ndarray:
    """``1 + #(strictly less important objects)`` for ranks with 1 = most important.

    For unique ranks 1..n this is ``n + 1 - rank``; tied ranks share the smallest level,
    which is exactly QAGNet's ``sorted(scores).index(s) + 1`` colour index.
    """
    ranks = np.asarray(ranks, dtype=np.float64).reshape(-1)
    return 1 + np.count_nonzero(ranks[None, :] > ranks[:, None], axis=1)


def ranks_from_scores_with_ties(scores: np.ndarray) -> np.ndarray:
    """Ranks (1 = most important) from scores (higher = more important); ties share a rank.

    ``rank = 1 + #(strictly higher scores)``; the reference painters and SA-SOR give tied
    scores one shared level, so ties must survive the conversion.
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    return 1 + np.count_nonzero(scores[None, :] > scores[:, None], axis=1)


def paint_order_and_grays(ranks: np.ndarray, scheme: str) -> tuple[np.ndarray, np.ndarray]:
    """(object indices in painting order, their uint8 grays); later entries overwrite."""
    ranks = np.asarray(ranks, dtype=np.float64).reshape(-1)
    n = ranks.size
    index = np.arange(n)
    if check_scheme(scheme) == "assr":
        # Most important first; on equal rank the later object first (ASSR's reverse sort).
        order = np.lexsort((-index, ranks))[: len(ASSR_GRAYS)]
        return order, np.asarray(ASSR_GRAYS[: order.size], dtype=np.uint8)
    if n == 0:
        return index, np.zeros(0, dtype=np.uint8)
    levels = levels_from_ranks(ranks)
    grays = ((255.0 / n) * levels).astype(np.int64)
    order = np.argsort(levels, kind="stable")  # least important first: the top one ends on top
    return order, grays[order].astype(np.uint8)


def paint_masks(masks: MaskSet, ranks: np.ndarray, scheme: str) -> np.ndarray:
    """``paint_rank_map`` on an indexed mask set (the fast path the evaluator uses)."""
    ranks = np.asarray(ranks).reshape(-1)
    if ranks.size != len(masks):
        raise ValueError(f"{ranks.size} ranks for {len(masks)} masks")
    out = np.zeros(masks.shape, dtype=np.uint8)
    order, grays = paint_order_and_grays(ranks, scheme)
    for i, gray in zip(order, grays, strict=True):
        ys, xs, mask = masks.crop(int(i))
        np.copyto(out[ys, xs], gray, where=mask)
    return out


def paint_rank_map(masks: np.ndarray, ranks: np.ndarray, *, scheme: str = "linear") -> np.ndarray:
    """Paint (N, H, W) bool masks with ranks (1 = most important) into a uint8 (H, W) map.

    Background is 0. See the module docstring for the two schemes. Tied ranks are allowed
    (predictions converted from tied scores); GT ranks should be unique.
    """
    return paint_masks(MaskSet.build(masks), ranks, scheme)
