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
COLUMN_BINS = 64  # longitude bins of the quick "could these two fragments touch" test


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


@dataclass
class _Pixels:
    """A fragment as sorted flat ERP pixel indices, with its row span and column bins."""

    index: np.ndarray
    rows: tuple[int, int]
    columns: int  # bit set of COLUMN_BINS equal longitude bins the fragment touches

    @classmethod
    def of(cls, mask: np.ndarray) -> _Pixels:
        index = np.flatnonzero(mask)
        width = mask.shape[1]
        rows = index // width
        bins = np.unique((index % width) * COLUMN_BINS // width)
        return cls(index, (int(rows.min()), int(rows.max())),
                   int(sum(1 << int(b) for b in bins)))

    def near(self, other: _Pixels) -> bool:
        return (self.rows[0] <= other.rows[1] and other.rows[0] <= self.rows[1]
                and bool(self.columns & other.columns))


def _match_graph(views: list[ErpFragments], match_iou: float) -> tuple[int, np.ndarray]:
    """Union-find over fragments: (number of groups, group label per fragment).

    The IoU is exact (full resolution, sparse pixel sets), so a thin sliver of an object
    cut by a view border still finds its whole counterpart in the next view.
    """
    height, width = views[0].covered.shape
    row_weight = solid_angle_weights(height, width)[:, 0]
    pixels = [[_Pixels.of(m) for m in v.masks] for v in views]
    starts = np.cumsum([0] + [len(v.masks) for v in views])
    rows, cols = [], []
    for a in range(len(views)):
        for b in range(a + 1, len(views)):
            pairs = [(i, j) for i, pa in enumerate(pixels[a]) for j, pb in enumerate(pixels[b])
                     if pa.near(pb)]
            if not pairs:
                continue
            common = (views[a].covered & views[b].covered).reshape(-1)
            inside_a = {i: p.index[common[p.index]] for i, p in enumerate(pixels[a])}
            inside_b = {j: p.index[common[p.index]] for j, p in enumerate(pixels[b])}
            for i, j in pairs:
                ia, ib = inside_a[i], inside_b[j]
                if ia.size == 0 or ib.size == 0:
                    continue
                inter = row_weight[np.intersect1d(ia, ib, assume_unique=True) // width].sum()
                union = row_weight[ia // width].sum() + row_weight[ib // width].sum() - inter
                if inter >= match_iou * union:
                    rows.append(starts[a] + i)
                    cols.append(starts[b] + j)
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
