"""Merging per-view instance masks into one set of disjoint panorama instances.

The rule (every view mask has first been back-projected exactly into ERP pixels with
:func:`foir360_core.geometry.view_to_erp`, which also gives the ERP pixels each view covers):

1. **Match where both views look.** Two masks from *different* views are the same object
   when their IoU, measured on the sphere (pixels weighted by solid angle) and *only over
   the pixels both views cover*, is at least ``match_iou`` (0.5). Restricting the IoU to the
   common coverage is what lets the fragment of an object cut by one view's border match
   the whole object seen by another view: outside the first view there is nothing to
   disagree about. Masks of one view are never matched with each other (the segmenter
   already separated them).
2. **Group by union-find.** Matches are edges of a graph; its connected components
   (``scipy.sparse.csgraph``) are the objects. So the fragments of an object larger than
   any view, an object seen in several overlapping views, an object across the ERP seam
   (the views see it whole; the back-projection wraps) and an object at a pole (the tilted
   views all see it) each become one instance.
3. **Mask by majority of the views that could see it.** A pixel belongs to the object when
   at least half of the group's masks whose view covers that pixel contain it. Views that
   do not cover a pixel do not vote, so fragments add up instead of cancelling out.
4. **Class and score.** The class with the largest summed score over the group's masks;
   the score is the group's highest.
5. **Disjoint.** Smaller objects (in solid angle) claim their pixels first: where two
   objects overlap, the smaller is usually in front of (or lying on) the larger, whose mask
   from a box swallows it. An object left with less than ``keep_fraction`` of its area, or
   fewer than ``min_pixels`` pixels, is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from foir360_core.geometry import ViewGeometry, solid_angle_weights, view_to_erp
from foir360_core.segmentation.base import ViewInstances

MATCH_IOU = 0.5
KEEP_FRACTION = 0.3
MATCH_GRID_ROWS = 256  # the IoU for matching is measured on a grid this many rows high


@dataclass
class ErpFragments:
    """The masks of one view back-projected into ERP: (n, H, W) masks and (H, W) coverage."""

    masks: np.ndarray
    covered: np.ndarray
    scores: np.ndarray
    labels: np.ndarray


@dataclass
class MergedInstances:
    """Disjoint panorama instances: (N, H, W) masks, (N,) scores, (N,) class indices."""

    masks: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    members: list[np.ndarray]  # indices into the concatenated fragments, per instance


def back_project(found: ViewInstances, geometry: ViewGeometry,
                 erp_shape: tuple[int, int], min_pixels: int) -> ErpFragments:
    """Warp a view's masks into ERP (nearest neighbour, exact); drop near-empty ones."""
    masks, covered = view_to_erp(found.masks, geometry, erp_shape, masks=True)
    keep = masks.reshape(len(masks), -1).sum(axis=1) >= min_pixels if len(masks) else []
    return ErpFragments(masks[keep], covered, found.scores[keep], found.labels[keep])


def _flat(masks: np.ndarray) -> np.ndarray:
    """(n, h, w) bool → (n, h * w) float32 (also for n = 0)."""
    return masks.reshape(masks.shape[0], masks.shape[1] * masks.shape[2]).astype(np.float32)


def _match_graph(views: list[ErpFragments], match_iou: float) -> tuple[int, np.ndarray]:
    """Union-find over fragments: (number of groups, group label per fragment)."""
    height = views[0].covered.shape[0]
    step = max(1, height // MATCH_GRID_ROWS)
    weight = solid_angle_weights(*views[0].covered.shape)[::step]
    flat = [_flat(v.masks[:, ::step, ::step]) for v in views]
    cover = [(v.covered[::step, ::step] * weight).reshape(-1).astype(np.float32) for v in views]
    starts = np.cumsum([0] + [len(v.masks) for v in views])
    rows, cols = [], []
    for a in range(len(views)):
        for b in range(a + 1, len(views)):
            if not len(flat[a]) or not len(flat[b]):
                continue
            common = cover[a] * (cover[b] > 0)
            if not common.any():
                continue
            weighted = flat[a] * common
            inter = weighted @ flat[b].T
            union = weighted.sum(1)[:, None] + (flat[b] @ common)[None, :] - inter
            with np.errstate(divide="ignore", invalid="ignore"):
                iou = np.where(union > 0, inter / union, 0.0)
            ia, ib = np.nonzero(iou >= match_iou)
            rows.extend(starts[a] + ia)
            cols.extend(starts[b] + ib)
    total = int(starts[-1])
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(total, total))
    return connected_components(graph, directed=False)


def merge_fragments(views: list[ErpFragments], *, match_iou: float = MATCH_IOU,
                    keep_fraction: float = KEEP_FRACTION, min_pixels: int = 1) -> MergedInstances:
    """Merge back-projected view masks into disjoint panorama instances (module rule)."""
    height, width = views[0].covered.shape
    total = sum(len(v.masks) for v in views)
    if total == 0:
        return MergedInstances(np.zeros((0, height, width), bool), np.zeros(0, np.float32),
                               np.zeros(0, np.int64), [])
    count, group = _match_graph(views, match_iou)
    owner = np.concatenate([np.full(len(v.masks), i) for i, v in enumerate(views)])
    local = np.concatenate([np.arange(len(v.masks)) for v in views])
    scores = np.concatenate([v.scores for v in views]).astype(np.float32)
    labels = np.concatenate([v.labels for v in views]).astype(np.int64)
    masks, members = [], []
    for g in range(count):
        index = np.flatnonzero(group == g)
        votes = np.zeros((height, width), np.uint16)
        seen = np.zeros((height, width), np.uint16)
        for i in index:
            votes += views[owner[i]].masks[local[i]]
            seen += views[owner[i]].covered
        masks.append((votes > 0) & (2 * votes >= seen))
        members.append(index)
    group_scores = np.array([scores[m].max() for m in members], np.float32)
    group_labels = np.array([np.bincount(labels[m], weights=scores[m]).argmax() for m in members],
                            np.int64)
    return _disjoint(np.stack(masks), group_scores, group_labels, members,
                     keep_fraction=keep_fraction, min_pixels=min_pixels)


def _disjoint(masks: np.ndarray, scores: np.ndarray, labels: np.ndarray,
              members: list[np.ndarray], *, keep_fraction: float,
              min_pixels: int) -> MergedInstances:
    """Smallest solid angle claims its pixels first; drop what is left too small."""
    weight = solid_angle_weights(*masks.shape[1:])
    solid = (masks.sum(axis=2) * weight[:, 0]).sum(axis=1)
    claimed = np.zeros(masks.shape[1:], bool)
    keep = []
    for i in np.argsort(solid, kind="stable"):
        own = masks[i] & ~claimed
        area = int(own.sum())
        if area >= min_pixels and area >= keep_fraction * masks[i].sum():
            masks[i] = own
            claimed |= own
            keep.append(i)
    keep = sorted(keep, key=lambda i: -scores[i])
    return MergedInstances(masks[keep], scores[keep], labels[keep], [members[i] for i in keep])
