"""Network outputs → ``PanoInstances``, shared by training validation and the runtime.

Steps: (1) keep queries whose object probability (1 − P(no object)) reaches
``score_threshold``; (2) visit them by object probability and drop any whose mask
overlaps an already kept one by IoU > ``dedup_iou`` (duplicate queries for one object);
(3) cap at ``max_instances``; (4) upsample the kept mask logits to ``out_size`` with
bilinear interpolation that wraps across the longitude seam, threshold at
``mask_threshold`` (a probability) and drop empty masks; only the window each object
can reach is resized, into the column-major layout COCO RLE reads; with ``largest_part``
each mask is first cut to its largest seam-joined part at logit resolution (one connected
piece per object); (5) of final masks that
overlap on the sphere by IoU > ``duplicate_iou`` keep the more probable (``structures.dedup``:
each object once); (6) rank the kept queries with the model's rank head's own ``decode``
(``models.heads``: unique ranks, 1 = most important); scores are the ranks'
``ordinal_importance``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import cv2
import numpy as np

from foir360_core.geometry.components import largest_part
from foir360_core.models.heads import head_class, one_image
from foir360_core.settings import RankerSettings
from foir360_core.structures import PanoInstances
from foir360_core.structures.dedup import suppress_duplicates


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def _aligned(start: int, stop: int, step: int) -> tuple[int, int]:
    """[start, stop) widened outwards to multiples of ``step``."""
    return start - start % step, stop + (-stop) % step


def _lon_window(active_cols: np.ndarray, step: int) -> tuple[int, int, int]:
    """Source columns [start, stop) to resize for one mask (they wrap past w), and the margin.

    The shortest circular run holding every active column, widened by one inactive column
    each side and aligned to ``step``: the resize clamps at the window's edges, which
    repeats an inactive column there, as the true neighbours (inactive too) give. A run
    that does not leave a step out becomes the full circle plus ``step`` wrapped columns
    each side, whose clamped outputs (the margin, in source columns) are dropped.
    """
    w = active_cols.size
    cols = np.flatnonzero(active_cols)
    gaps = np.diff(cols, append=cols[0] + w) - 1
    k = int(np.argmax(gaps))
    first, length = int(cols[(k + 1) % cols.size]), int(w - gaps[k])
    start, stop = _aligned(first - 1, first + length + 1, step)
    if stop - start >= w:
        return -step, w + step, step
    return start, stop, 0


def _upsample_one(logit: np.ndarray, out: np.ndarray, cut: float) -> bool:
    """Threshold bilinear(logit) > cut into ``out`` (W, H), which starts all False.

    Returns whether any pixel passed.

    An output pixel is a convex combination of its 2x2 source neighbours, so it can pass
    ``cut`` only next to a source value above ``cut - tolerance``: only the window around
    those is resized. A window whose corner sits on the grid common to both resolutions
    (multiples of ``h / gcd(h, H)`` rows and ``w / gcd(w, W)`` columns) samples exactly the
    positions the whole map's resize samples. Across the seam it takes wrapped columns.
    Latitude is clamped at the poles, as the resize does at its edges.
    """
    h, w = logit.shape
    W, H = out.shape
    active = logit > cut - 1e-4 * (1.0 + abs(cut))
    rows = np.flatnonzero(active.any(axis=1))
    if rows.size == 0:
        return False
    top, bottom = _aligned(max(int(rows[0]) - 1, 0), min(int(rows[-1]) + 2, h),
                           h // math.gcd(h, H))
    start, stop, margin = _lon_window(active.any(axis=0), w // math.gcd(w, W))
    window = logit[top:bottom].take(np.arange(start, stop) % w, axis=1)
    resized = cv2.resize(np.ascontiguousarray(window.T), ((bottom - top) * H // h,
                         (stop - start) * W // w), interpolation=cv2.INTER_LINEAR)
    lon = np.arange((start + margin) * W // w, (stop - margin) * W // w)
    passed = resized[margin * W // w:resized.shape[0] - margin * W // w] > cut
    out[lon % W, top * H // h:bottom * H // h] = passed
    return bool(passed.any())


def upsample_masks(
    logits: np.ndarray, out_size: tuple[int, int], cut: float
) -> tuple[np.ndarray, np.ndarray]:
    """(N, h, w) mask logits → (N, H, W) bool masks ``bilinear(logits) > cut``, seam-periodic,
    and (N,) whether each mask has any pixel.

    The masks are laid out longitude-major (each mask's columns contiguous), which is
    COCO's column-major RLE order: ``encode_masks`` hands them to pycocotools without a
    copy. Each mask is resized only over the window its object can reach (see
    ``_upsample_one``), so the cost follows the objects' extent, not the frame's.
    """
    H, W = int(out_size[0]), int(out_size[1])
    masks = np.zeros((logits.shape[0], W, H), dtype=bool)
    nonempty = np.array([_upsample_one(logit, out, cut) for logit, out in
                         zip(logits.astype(np.float32, copy=False), masks, strict=True)],
                        dtype=bool).reshape(-1)
    return masks.transpose(0, 2, 1), nonempty


def keep_largest_parts(logits: np.ndarray, cut: float) -> np.ndarray:
    """(N, h, w) mask logits with every part but each mask's largest pushed below ``cut``.

    A query's mask often holds its object plus specks elsewhere (a second copy of a
    lamp, a patch of floor); a planner wants one object per instance. Parts are
    4-connected and joined across the seam (``geometry.components``), found on the logit
    grid, so it costs a few cells per object, not a full-size labelling. Cells cut away
    are set just under ``_upsample_one``'s activity tolerance: bilinear upsampling then
    gives exactly the kept part's pixels except where a cut cell touches a kept one at a
    corner (4-connectivity counts them apart, the 2x2 interpolation does not).
    """
    out = logits.astype(np.float32, copy=True)
    floor = np.float32(cut - 1e-3 * (1.0 + abs(cut)))
    for logit in out:
        above = logit > cut
        rows = np.flatnonzero(above.any(axis=1))
        if rows.size:  # only the band of rows the mask uses: the parts are the same
            band = above[rows[0]:rows[-1] + 1]
            part = largest_part(band, connectivity=4, top=int(rows[0]), height=len(above))
            logit[rows[0]:rows[-1] + 1][band & ~part] = floor
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
    duplicate_iou: float = RankerSettings.duplicate_iou,
    largest_part: bool = RankerSettings.largest_part,
) -> PanoInstances:
    """One image's raw outputs by name (leading batch dim of 1 allowed) → ``PanoInstances``.

    ``rank_head`` names the head that produced ``outputs`` (``ModelInfo.rank_head``).
    """
    head = head_class(rank_head)
    class_logits = one_image(outputs, "class_logits", 2).astype(np.float32, copy=False)
    mask_logits = one_image(outputs, "mask_logits", 3).astype(np.float32, copy=False)
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
    kept_logits = mask_logits[queries]
    if largest_part:
        kept_logits = keep_largest_parts(kept_logits, cut)
    masks, nonempty = upsample_masks(kept_logits, (H, W), cut)
    if not nonempty.all():  # index the C-contiguous longitude-major array: keeps its layout
        queries, masks = queries[nonempty], masks.transpose(0, 2, 1)[nonempty].transpose(0, 2, 1)
    unique = suppress_duplicates(masks, obj[queries], duplicate_iou)  # each object once
    if len(unique) < len(queries):  # the same layout-keeping indexing as above
        queries, masks = queries[unique], masks.transpose(0, 2, 1)[unique].transpose(0, 2, 1)
    ranks = head.decode(outputs, queries) if len(queries) else np.zeros(0, dtype=np.int64)
    scores = ordinal_importance(ranks)
    return PanoInstances(
        masks=masks,
        class_ids=fg[queries].argmax(1) if len(queries) else np.zeros(0, np.int64),
        ranks=ranks,
        scores=scores,
        class_scores=fg[queries].max(1) if len(queries) else np.zeros(0),
    )
