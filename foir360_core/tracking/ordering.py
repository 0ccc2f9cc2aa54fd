"""The published order of a tracked frame: smoothed importance, changed only by a clear margin.

Without hysteresis two objects of near-equal importance swap ranks whenever noise tips the
balance; a planner acting on "rank 1" then dithers. Hysteresis holds the top ``hold`` places
only: a planner attends to the first few, and holding the order further down only delays what
the model says there (it costs SOR against per-frame labels). A continuing track that held one
of those places keeps its order among the holders, passing another only by beating it by more
than ``margin``; any other continuing track takes a held place only by the same margin. That
includes a track back after a miss: the place it held before it was lost is not kept for it,
and if it is hidden every other frame it does not take rank 1 back each time it is seen. New
tracks have no order to keep: each is inserted where its importance puts it (no margin, so a
new object is not pushed below the others). Below the held places the smoothed order is
published as it is. The result is always a permutation, so ranks stay unique 1..N.
"""

from __future__ import annotations

import numpy as np


def ema(previous: float, value: float, alpha: float) -> float:
    """Exponential moving average step; ``alpha`` is the weight of the new ``value``."""
    return alpha * value + (1.0 - alpha) * previous


def _climb(order: list[int], current: int, smoothed: np.ndarray, margin: float) -> None:
    """Append ``current`` and let it pass each one above it that it beats by more than margin."""
    order.append(current)
    spot = len(order) - 1
    while spot > 0 and smoothed[current] > smoothed[order[spot - 1]] + margin:
        order[spot] = order[spot - 1]
        spot -= 1
    order[spot] = current


def hysteresis_order(smoothed: np.ndarray, previous_rank: np.ndarray, new: np.ndarray,
                     margin: float, hold: int) -> np.ndarray:
    """Unique ranks 1..N (1 = most important) for ``smoothed`` importances.

    ``previous_rank[i]`` is the rank object ``i`` was published with in the previous frame, 0
    when it was not published there; ``new[i]`` marks objects seen for the first time.
    Holders (previous rank 1..``hold``) start in their previous order and pass each other only
    by ``margin``; the other continuing objects, best first, climb in from below by the same
    rule; new ones are inserted by plain comparison. The first ``hold`` of that order are
    published as they are, the rest in plain descending order. With margin 0 or hold 0 it is
    the plain descending order of ``smoothed``.
    """
    smoothed = np.asarray(smoothed, np.float64)
    previous_rank, new = np.asarray(previous_rank), np.asarray(new, bool)
    by_importance = np.argsort(-smoothed, kind="stable")
    holding = ~new & (previous_rank > 0) & (previous_rank <= hold)
    holders = np.flatnonzero(holding)
    order: list[int] = []
    for current in holders[np.argsort(previous_rank[holders], kind="stable")]:
        _climb(order, int(current), smoothed, margin)
    for current in by_importance[~new[by_importance] & ~holding[by_importance]]:
        _climb(order, int(current), smoothed, margin)
    for current in by_importance[new[by_importance]]:
        spot = next((k for k, other in enumerate(order) if smoothed[current] > smoothed[other]),
                    len(order))
        order.insert(spot, int(current))
    held = order[:hold]
    taken = set(held)
    rest = [int(k) for k in by_importance if k not in taken]
    ranks = np.empty(len(smoothed), dtype=np.int64)
    ranks[np.asarray(held + rest, dtype=np.int64)] = np.arange(1, len(smoothed) + 1)
    return ranks
