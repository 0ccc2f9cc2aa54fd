"""Local rank collector (LRC, paper seed 000, Algorithm 1): many local orders → one global rank.

Each local list (one view, or one annotation sub-window) says "these objects, most important
first". The collector turns every list into weighted pairwise votes ``(i above j, w)``,
accumulates them in an n × n matrix ``C`` (``C[i, j]`` = evidence that i is more important
than j), fills pairs that never met in a common list by *relation transmission* and ranks the
objects by their pairwise win rate.

Conventions (all deterministic):

* **Vote weight (Eq. 5).** A list with scores votes with ``weight × margin``, where the margin
  is the relative gap between its top-1 and top-2 scores, ``(s1 − s2) / |s1|``, clipped to
  ``[min_margin, 1]``: a view whose saliency clearly separates its top object is more
  trustworthy than one where the top two tie. The relative form makes views of different
  sizes and reductions comparable; the floor keeps a tied view from vanishing. A list without
  scores (a human annotation) votes with its ``weight`` alone.
* **Relation transmission.** For a pair (i, j) with no direct evidence, every object k that
  met both passes on ``decay × min(C[i, k], C[k, j])`` (the weakest link of the chain
  i > k > j), and likewise for j over i. Rounds repeat, so chains of any length are followed,
  until no pair changes; direct evidence is never overwritten.
* **Win rate.** ``P[i, j] = C[i, j] / (C[i, j] + C[j, i])``; an object's win rate is the mean
  of ``P[i, ·]`` over the objects it has evidence against (each opponent counts once, a Borda
  count on the completed tournament).
* **Objects without evidence** (seen in no list, or only alone) get the neutral win rate 0.5:
  nothing says they are more or less important than the others. This also covers objects of
  a different connected component of the view graph, which transmission cannot reach: each
  component's win rates are relative to that component only.
* **Ties** (equal win rate, e.g. a perfect cycle or contradictory votes that cancel) are
  broken by the net evidence ``Σ_j C[i, j] − C[j, i]``, then by ``prior`` (higher first; the
  pipeline passes each object's solid angle, since larger objects tend to matter more), then
  by the lower object index.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_MIN_MARGIN = 0.05
DEFAULT_DECAY = 0.5


@dataclass(frozen=True)
class LocalRanking:
    """One local order: ``objects`` most → least important (global object indices).

    ``scores`` (aligned with ``objects``, higher = more important) must come from one common
    evaluation — the pipeline passes each object's score on the view's first saliency map —
    since only their top-1/top-2 gap is used, for the Eq. 5 vote weight. ``weight`` scales
    every vote of the list (an annotation tool passes 1.0 and no scores).
    """

    objects: Sequence[int]
    scores: Sequence[float] | None = None
    weight: float = 1.0

    def __post_init__(self) -> None:
        objects = [int(o) for o in self.objects]
        if len(set(objects)) != len(objects):
            raise ValueError(f"a local ranking lists an object twice: {objects}")
        if self.scores is not None and len(self.scores) != len(objects):
            raise ValueError(
                f"local ranking has {len(self.scores)} scores for {len(objects)} objects"
            )
        if not np.isfinite(self.weight) or self.weight < 0:
            raise ValueError(f"local ranking weight must be finite and >= 0, got {self.weight}")
        object.__setattr__(self, "objects", tuple(objects))
        if self.scores is not None:
            object.__setattr__(self, "scores", tuple(float(s) for s in self.scores))

    def to_json(self) -> dict:
        """Plain dict for the dataset ``extra`` field."""
        out: dict = {"objects": list(self.objects), "weight": float(self.weight)}
        if self.scores is not None:
            out["scores"] = [round(float(s), 6) for s in self.scores]
        return out


@dataclass(frozen=True)
class Collected:
    """The collector's full result: unique ranks (1 = most important) and the evidence."""

    ranks: np.ndarray
    win_rate: np.ndarray
    matrix: np.ndarray
    has_evidence: np.ndarray


def margin_weight(scores: Sequence[float] | None, min_margin: float = DEFAULT_MIN_MARGIN) -> float:
    """Eq. 5 confidence of a local list: relative top-1/top-2 score gap in [min_margin, 1]."""
    if scores is None or len(scores) < 2:
        return 1.0
    top = np.sort(np.asarray(scores, dtype=np.float64))[::-1]
    if not np.all(np.isfinite(top[:2])) or top[0] == 0:
        return min_margin
    margin = abs(top[0] - top[1]) / abs(top[0])
    return float(np.clip(margin, min_margin, 1.0))


def vote_matrix(
    local_lists: Iterable[LocalRanking], n_objects: int, *, min_margin: float = DEFAULT_MIN_MARGIN
) -> np.ndarray:
    """Steps 1–6 of Algorithm 1: accumulate weighted pairwise votes into C (n × n)."""
    votes = np.zeros((n_objects, n_objects), dtype=np.float64)
    for local in local_lists:
        objects = np.asarray(local.objects, dtype=np.int64)
        if objects.size and (objects.min() < 0 or objects.max() >= n_objects):
            raise ValueError(
                f"local ranking refers to object {int(objects.max())} but there are only "
                f"{n_objects} objects (indices 0..{n_objects - 1})"
            )
        if objects.size < 2:
            continue
        weight = local.weight * (margin_weight(local.scores, min_margin) if local.scores else 1.0)
        upper = np.triu(np.ones((objects.size, objects.size), dtype=bool), k=1)
        above, below = np.nonzero(upper)  # position a is listed before position b
        np.add.at(votes, (objects[above], objects[below]), weight)
    return votes


def transmit_relations(votes: np.ndarray, *, decay: float = DEFAULT_DECAY) -> np.ndarray:
    """Step 7: complete pairs that never met through objects they both met (any chain length)."""
    completed = votes.copy()
    n = completed.shape[0]
    for _ in range(max(n - 2, 0)):
        met = (completed + completed.T) > 0
        unmet = ~met
        np.fill_diagonal(unmet, False)
        if not unmet.any():
            break
        via = _weakest_links(completed)
        fill = unmet & ((via + via.T) > 0)
        if not fill.any():
            break
        completed[fill] = decay * via[fill]
    return completed


def _weakest_links(matrix: np.ndarray, budget: int = 1 << 22) -> np.ndarray:
    """``via[i, j] = Σ_k min(C[i, k], C[k, j])``, in row blocks to bound memory for large n."""
    n = matrix.shape[0]
    via = np.empty_like(matrix)
    step = max(1, budget // max(n * n, 1))
    for start in range(0, n, step):
        block = matrix[start : start + step, :, None]
        via[start : start + step] = np.minimum(block, matrix[None, :, :]).sum(axis=1)
    return via


def collect(
    local_lists: Iterable[LocalRanking],
    n_objects: int,
    *,
    prior: Sequence[float] | np.ndarray | None = None,
    decay: float = DEFAULT_DECAY,
    min_margin: float = DEFAULT_MIN_MARGIN,
) -> Collected:
    """Algorithm 1 with its evidence: votes, transmission, win rates and unique ranks."""
    if n_objects < 0:
        raise ValueError(f"n_objects must be >= 0, got {n_objects}")
    votes = vote_matrix(local_lists, n_objects, min_margin=min_margin)
    completed = transmit_relations(votes, decay=decay)
    total = completed + completed.T
    with np.errstate(invalid="ignore", divide="ignore"):
        pref = np.where(total > 0, completed / total, np.nan)
    has_evidence = (total > 0).any(axis=1)
    win_rate = np.full(n_objects, 0.5)
    if has_evidence.any():
        win_rate[has_evidence] = np.nanmean(pref[has_evidence], axis=1)
    net = completed.sum(axis=1) - completed.sum(axis=0)
    prior_arr = np.zeros(n_objects) if prior is None else np.asarray(prior, dtype=np.float64)
    if prior_arr.shape != (n_objects,):
        raise ValueError(f"prior has shape {prior_arr.shape}, expected ({n_objects},)")
    # Round away float noise so that equal win rates really tie; lexsort: last key first.
    order = np.lexsort((np.arange(n_objects), -prior_arr, -np.round(net, 9),
                        -np.round(win_rate, 9)))
    ranks = np.empty(n_objects, dtype=np.int64)
    ranks[order] = np.arange(1, n_objects + 1)
    return Collected(ranks=ranks, win_rate=win_rate, matrix=completed, has_evidence=has_evidence)


def collect_local_ranks(
    local_lists: Iterable[LocalRanking],
    n_objects: int,
    *,
    prior: Sequence[float] | np.ndarray | None = None,
    decay: float = DEFAULT_DECAY,
    min_margin: float = DEFAULT_MIN_MARGIN,
) -> np.ndarray:
    """Global unique ranks 1..n (1 = most important) from local lists (Algorithm 1)."""
    return collect(local_lists, n_objects, prior=prior, decay=decay, min_margin=min_margin).ranks
