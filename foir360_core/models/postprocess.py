"""Network outputs → ``PanoInstances``, shared by training validation and the runtime.

Steps: (1) keep queries whose object probability (1 − P(no object)) reaches
``score_threshold``; (2) visit them by object probability and drop any whose mask
overlaps an already kept one by IoU > ``dedup_iou`` (duplicate queries for one object);
(3) cap at ``max_instances``; (4) upsample the kept mask logits to ``out_size`` with
bilinear interpolation that wraps across the longitude seam, threshold at
``mask_threshold`` (a probability) and drop empty masks; (5) rank the kept queries with
the model's rank head's own ``decode`` (``models.heads``: unique ranks, 1 = most
important); scores are the ranks' ``ordinal_importance``.
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from foir360_core.models.heads import head_class, one_image
from foir360_core.settings import RankerSettings
from foir360_core.structures import PanoInstances


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def resize_wrap(maps: np.ndarray, out_size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of (N, h, w) float maps to (N, H, W), periodic in longitude."""
    n, h, w = maps.shape
    H, W = int(out_size[0]), int(out_size[1])
    if (h, w) == (H, W):
        return maps.astype(np.float32, copy=False)
    xs = ((np.arange(W, dtype=np.float32) + 0.5) * (w / W) - 0.5) % w
    ys = np.clip((np.arange(H, dtype=np.float32) + 0.5) * (h / H) - 0.5, 0.0, h - 1.0)
    map_x = np.broadcast_to(xs[None, :], (H, W)).astype(np.float32)
    map_y = np.broadcast_to(ys[:, None], (H, W)).astype(np.float32)
    out = np.empty((n, H, W), dtype=np.float32)
    for i in range(n):
        out[i] = cv2.remap(
            maps[i].astype(np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP
        )
    return out


def ordinal_importance(ranks: np.ndarray) -> np.ndarray:
    """Importance in (0, 1] from unique ranks: 1 for rank 1, falling by 1/n per rank.

    The heads' raw outputs are pick-order codes (sequential) or slot assignments
    (Hungarian), not calibrated scores; publishing one ordinal scale means planners see
    the same meaning whichever head produced the ranks.
    """
    n = len(ranks)
    return (n + 1 - np.asarray(ranks, dtype=np.float64)) / max(n, 1)


def outputs_to_instances(
    outputs: Mapping[str, np.ndarray],
    *,
    rank_head: str,
    out_size: tuple[int, int],
    score_threshold: float = RankerSettings.score_threshold,
    mask_threshold: float = RankerSettings.mask_threshold,
    max_instances: int = RankerSettings.max_instances,
    dedup_iou: float = 0.8,
) -> PanoInstances:
    """One image's raw outputs by name (leading batch dim of 1 allowed) → ``PanoInstances``.

    ``rank_head`` names the head that produced ``outputs`` (``ModelInfo.rank_head``).
    """
    head = head_class(rank_head)
    class_logits = one_image(outputs, "class_logits", 2).astype(np.float32)
    mask_logits = one_image(outputs, "mask_logits", 3).astype(np.float32)
    nq = class_logits.shape[0]
    if mask_logits.shape[0] != nq:
        raise ValueError(
            f"outputs disagree on the number of queries: class {nq}, masks {mask_logits.shape[0]}"
        )
    probs = softmax(class_logits)
    obj = 1.0 - probs[:, -1]
    fg = probs[:, :-1]
    candidates = np.flatnonzero(obj >= score_threshold)
    candidates = candidates[np.argsort(-obj[candidates], kind="stable")]
    low = mask_logits[candidates] > 0.0
    areas = low.reshape(len(candidates), low[0].size if len(low) else 0).sum(1)
    kept: list[int] = []
    for i in range(len(candidates)):
        if areas[i] == 0 or len(kept) >= max_instances:
            continue
        if kept:
            inter = (low[kept] & low[i]).reshape(len(kept), -1).sum(1)
            union = areas[kept] + areas[i] - inter
            if np.max(inter / np.maximum(union, 1)) > dedup_iou:
                continue
        kept.append(i)
    queries = candidates[kept]
    H, W = int(out_size[0]), int(out_size[1])
    # sigmoid(x) > t  <=>  x > logit(t): threshold the logits, no exp overflow
    cut = float(np.log(mask_threshold / (1.0 - mask_threshold)))
    masks = resize_wrap(mask_logits[queries], (H, W)) > cut
    nonempty = masks.reshape(len(queries), H * W).any(1)
    queries, masks = queries[nonempty], masks[nonempty]
    ranks = head.decode(outputs, queries) if len(queries) else np.zeros(0, dtype=np.int64)
    scores = ordinal_importance(ranks)
    return PanoInstances(
        masks=masks.reshape(len(queries), H, W),
        class_ids=fg[queries].argmax(1) if len(queries) else np.zeros(0, np.int64),
        ranks=ranks,
        scores=scores,
        class_scores=fg[queries].max(1) if len(queries) else np.zeros(0),
    )
