"""The published order of a tracked frame: smoothed importance, changed only by a clear margin.

Without hysteresis two objects of near-equal importance swap ranks whenever noise tips the
balance; a planner acting on "rank 1" then dithers. The order of the continuing tracks starts
from the previous frame's, and one moves above its predecessor only while its smoothed
importance beats that one's by more than ``margin``. New tracks have no order to keep: each is
inserted where its importance puts it (no margin, so a new object is not pushed below the
others). The result is always a permutation, so ranks stay unique 1..N.
"""

from __future__ import annotations

import numpy as np


def ema(previous: float, value: float, alpha: float) -> float:
    """Exponential moving average step; ``alpha`` is the weight of the new ``value``."""
    return alpha * value + (1.0 - alpha) * previous


def hysteresis_order(smoothed: np.ndarray, previous_rank: np.ndarray, margin: float) -> np.ndarray:
    """Unique ranks 1..N (1 = most important) for ``smoothed`` importances.

    ``previous_rank[i]`` is the rank object ``i`` was last published with, or 0 for an object
    seen for the first time. Continuing objects: an insertion sort that only lets one pass its
    predecessor by more than ``margin``; new ones are then inserted by plain comparison. With
    margin 0 it is the plain descending order of ``smoothed``.
    """
    smoothed = np.asarray(smoothed, np.float64)
    previous_rank = np.asarray(previous_rank)
    known = np.flatnonzero(previous_rank > 0)
    order = list(known[np.argsort(previous_rank[known], kind="stable")])
    for position in range(1, len(order)):
        current = order[position]
        spot = position
        while spot > 0 and smoothed[current] > smoothed[order[spot - 1]] + margin:
            order[spot] = order[spot - 1]
            spot -= 1
        order[spot] = current
    new = np.flatnonzero(previous_rank <= 0)
    for current in new[np.argsort(-smoothed[new], kind="stable")]:
        spot = next((k for k, other in enumerate(order) if smoothed[current] > smoothed[other]),
                    len(order))
        order.insert(spot, current)
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[np.asarray(order, dtype=np.int64)] = np.arange(1, len(order) + 1)
    return ranks
