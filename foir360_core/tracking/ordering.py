"""The published order of a tracked frame: smoothed importance, changed only by a clear margin.

Without hysteresis two objects of near-equal importance swap ranks whenever noise tips the
balance; a planner acting on "rank 1" then dithers. The order starts from the previous frame's
(continuing tracks keep their relative order; new ones follow, most important first) and an
object moves above its predecessor only while its smoothed importance beats that one's by more
than ``margin``. The result is always a permutation, so ranks stay unique 1..N.
"""

from __future__ import annotations

import numpy as np


def ema(previous: float, value: float, alpha: float) -> float:
    """Exponential moving average step; ``alpha`` is the weight of the new ``value``."""
    return alpha * value + (1.0 - alpha) * previous


def hysteresis_order(smoothed: np.ndarray, previous_rank: np.ndarray, margin: float) -> np.ndarray:
    """Unique ranks 1..N (1 = most important) for ``smoothed`` importances.

    ``previous_rank[i]`` is the rank object ``i`` was last published with, or 0 for an object
    seen for the first time. An insertion sort that only lets an object pass its predecessor by
    more than ``margin``: with margin 0 it is the plain descending order of ``smoothed``.
    """
    smoothed = np.asarray(smoothed, np.float64)
    previous_rank = np.asarray(previous_rank)
    known = np.flatnonzero(previous_rank > 0)
    new = np.flatnonzero(previous_rank <= 0)
    order = list(known[np.argsort(previous_rank[known], kind="stable")])
    order += list(new[np.argsort(-smoothed[new], kind="stable")])
    for position in range(1, len(order)):
        current = order[position]
        spot = position
        while spot > 0 and smoothed[current] > smoothed[order[spot - 1]] + margin:
            order[spot] = order[spot - 1]
            spot -= 1
        order[spot] = current
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[np.asarray(order, dtype=np.int64)] = np.arange(1, len(order) + 1)
    return ranks
