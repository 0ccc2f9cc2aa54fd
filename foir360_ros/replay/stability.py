"""Temporal stability of ranks: how much the order of the same objects flickers frame to frame.

Planners act on "the most important object"; a rank that jumps between consecutive frames of a
static scene makes them dither. Objects are matched between consecutive frames by their track
ids when the ranker tracked them (``RankedInstance.track_id`` > 0), else by mask IoU
(Hungarian assignment, IoU >= threshold); then the order of the matched objects is compared.
Only relative order among matched objects counts, so an object appearing or leaving does not
register as a rank change of the others. ``raw=True`` measures the per-frame ranks
(``raw_rank``) instead of the published, smoothed ones, on the same matches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from pycocotools import mask as coco_mask

from foir360_core.metrics.matching import one_to_one_matches


@dataclass(frozen=True)
class RankedFrame:
    """Published and raw ranks, track ids (0 = untracked) and COCO RLE masks
    (``{"size": [h, w], "counts": bytes}``) of one frame."""

    ranks: np.ndarray
    rles: list[dict]
    raw_ranks: np.ndarray | None = None
    track_ids: np.ndarray | None = None

    @classmethod
    def from_msg(cls, msg) -> RankedFrame:
        size = [int(msg.mask_height), int(msg.mask_width)]
        items = list(msg.instances)
        return cls(np.array([item.rank for item in items], dtype=np.int64),
                   [{"size": size, "counts": item.mask_counts.encode("ascii")} for item in items],
                   raw_ranks=np.array([item.raw_rank for item in items], dtype=np.int64),
                   track_ids=np.array([item.track_id for item in items], dtype=np.int64))

    @property
    def tracked(self) -> bool:
        return self.track_ids is not None and bool(np.all(self.track_ids > 0))


def match_by_iou(a: RankedFrame, b: RankedFrame, threshold: float) -> tuple[np.ndarray, ...]:
    """Index pairs (ia, ib) of objects matched one to one with IoU >= ``threshold``."""
    if not a.rles or not b.rles or a.rles[0]["size"] != b.rles[0]["size"]:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return one_to_one_matches(coco_mask.iou(a.rles, b.rles, [0] * len(b.rles)), threshold)


def match(a: RankedFrame, b: RankedFrame, threshold: float) -> tuple[np.ndarray, ...]:
    """Same objects in both frames: by track id when both are tracked, else by mask IoU."""
    if a.tracked and b.tracked:
        _, ia, ib = np.intersect1d(a.track_ids, b.track_ids, return_indices=True)
        return ia.astype(np.int64), ib.astype(np.int64)
    return match_by_iou(a, b, threshold)


def _relative(ranks: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(ranks, kind="stable"), kind="stable")


def rank_stability(frames: Sequence[RankedFrame], iou_threshold: float = 0.5, *,
                   raw: bool = False) -> dict:
    """Flicker figures over consecutive frame pairs (a dict, JSON-ready).

    * ``mean_abs_rank_change``: mean |Δ relative rank| of matched objects (0 = perfectly stable).
    * ``rank_change_rate``: fraction of matched objects whose relative rank changed.
    * ``pairwise_flip_rate``: fraction of matched object pairs whose order swapped (Kendall).
    * ``top1_change_rate``: fraction of frame pairs where the matched object ranked first
      among the matched ones is a different object in the next frame.
    * ``matched_fraction``: matched objects / objects of the earlier frame.
    * ``top1_changes_per_100_frames``, ``pairwise_flips_per_100_frames``: counts of those
      events per 100 consecutive frame pairs (what a planner sees per 100 frames).
    * ``matched_by``: ``track_id`` when every frame was tracked, else ``iou``.
    """
    deltas, flips, pairs, top1_changes, top1_pairs, matched, seen = [], 0, 0, 0, 0, 0, 0
    for a, b in pairwise(frames):
        ia, ib = match(a, b, iou_threshold)
        seen += len(a.rles)
        matched += ia.size
        if ia.size < 2:
            continue
        ranks_a, ranks_b = (a.raw_ranks, b.raw_ranks) if raw else (a.ranks, b.ranks)
        ra, rb = _relative(ranks_a[ia]), _relative(ranks_b[ib])
        deltas.extend(np.abs(ra - rb).tolist())
        upper = np.triu_indices(ia.size, k=1)
        order_a = np.sign(ra[:, None] - ra[None, :])[upper]
        order_b = np.sign(rb[:, None] - rb[None, :])[upper]
        flips += int(np.count_nonzero(order_a != order_b))
        pairs += int(order_a.size)
        top1_pairs += 1
        top1_changes += int(np.argmin(ra) != np.argmin(rb))
    deltas_arr = np.asarray(deltas, dtype=np.float64)
    frame_pairs = max(len(frames) - 1, 0)
    return {
        "ranks": "raw" if raw else "published",
        "matched_by": "track_id" if frames and all(f.tracked for f in frames) else "iou",
        "frame_pairs": frame_pairs,
        "frame_pairs_compared": top1_pairs,
        "iou_threshold": iou_threshold,
        "matched_fraction": matched / seen if seen else None,
        "mean_abs_rank_change": float(deltas_arr.mean()) if deltas_arr.size else None,
        "rank_change_rate": float(np.mean(deltas_arr > 0)) if deltas_arr.size else None,
        "pairwise_flip_rate": flips / pairs if pairs else None,
        "top1_change_rate": top1_changes / top1_pairs if top1_pairs else None,
        "top1_changes_per_100_frames": 100.0 * top1_changes / frame_pairs if frame_pairs else None,
        "pairwise_flips_per_100_frames": 100.0 * flips / frame_pairs if frame_pairs else None,
    }
