"""Bounding-box-cropped views of a mask stack, so metrics touch only the pixels that matter.

A 2048×1024 panorama has 2 M pixels but a typical object covers a few percent of them.
Every metric in this package reduces to per-object pixel counts (areas, intersections,
histograms of a rank map under a mask) and to painting masks onto maps; doing those on
each mask's bounding box instead of the full frame is what keeps a 500-image evaluation
within seconds. Counts are exact integers, so nothing here changes a metric's value.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class MaskSet:
    """Rows ``rows`` of a (K, H, W) bool stack with each mask's box and pixel area.

    ``boxes[i] = (y0, y1, x0, x1)`` (end-exclusive) bounds mask ``i``; an empty mask has an
    empty box. Subsets share the underlying stack instead of copying masks.
    """

    stack: np.ndarray
    rows: np.ndarray
    boxes: np.ndarray
    areas: np.ndarray

    @classmethod
    def build(cls, masks: np.ndarray) -> MaskSet:
        """Index a (N, H, W) mask stack (anything castable to bool)."""
        stack = np.asarray(masks)
        if stack.ndim != 3:
            raise ValueError(f"masks must be (N, H, W), got shape {stack.shape}")
        stack = np.ascontiguousarray(stack, dtype=bool)
        boxes = np.zeros((stack.shape[0], 4), dtype=np.int64)
        areas = np.zeros(stack.shape[0], dtype=np.int64)
        for i, mask in enumerate(stack):
            # The one full pass over each mask: per-row pixel counts (OpenCV, int32).
            per_row = cv2.reduce(mask.view(np.uint8), 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S)
            rows = np.flatnonzero(per_row)
            if rows.size:
                y0, y1 = int(rows[0]), int(rows[-1]) + 1
                cols = np.flatnonzero(mask[y0:y1].any(axis=0))
                boxes[i] = (y0, y1, int(cols[0]), int(cols[-1]) + 1)
                areas[i] = int(per_row.sum(dtype=np.int64))
        return cls(stack, np.arange(stack.shape[0]), boxes, areas)

    def __len__(self) -> int:
        return int(self.rows.size)

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the frame the masks live on."""
        return int(self.stack.shape[1]), int(self.stack.shape[2])

    def subset(self, index: np.ndarray) -> MaskSet:
        """The masks at ``index`` (positions in this set), sharing the stack."""
        index = np.asarray(index, dtype=np.int64)
        return MaskSet(self.stack, self.rows[index], self.boxes[index], self.areas[index])

    def crop(self, i: int) -> tuple[slice, slice, np.ndarray]:
        """(row slice, column slice, cropped bool mask) of mask ``i``."""
        y0, y1, x0, x1 = self.boxes[i]
        ys, xs = slice(int(y0), int(y1)), slice(int(x0), int(x1))
        return ys, xs, self.stack[self.rows[i], ys, xs]

    def weighted_areas(self, row_weights: np.ndarray) -> np.ndarray:
        """Σ of the per-row weight over each mask's pixels (e.g. solid angle in sr)."""
        weights = _as_row_weights(row_weights, self.shape[0])
        out = np.zeros(len(self), dtype=np.float64)
        for i in range(len(self)):
            ys, _, mask = self.crop(i)
            if mask.size:
                out[i] = float(np.count_nonzero(mask, axis=1) @ weights[ys])
        return out

    def intersections(
        self, other: MaskSet, row_weights: np.ndarray | None = None
    ) -> np.ndarray:
        """(len(self), len(other)) pixel counts of A_i ∩ B_j (weighted sums with ``row_weights``).

        Only pairs whose boxes overlap are counted; every other pair is exactly 0.
        """
        weights = None if row_weights is None else _as_row_weights(row_weights, self.shape[0])
        out = np.zeros((len(self), len(other)), dtype=np.float64 if weights is not None
                       else np.int64)
        if not len(self) or not len(other):
            return out
        if self.shape != other.shape:
            raise ValueError(f"mask sizes differ: {self.shape} vs {other.shape}")
        a, b = self.boxes[:, None, :], other.boxes[None, :, :]
        y0 = np.maximum(a[..., 0], b[..., 0])
        y1 = np.minimum(a[..., 1], b[..., 1])
        x0 = np.maximum(a[..., 2], b[..., 2])
        x1 = np.minimum(a[..., 3], b[..., 3])
        for i, j in zip(*np.nonzero((y1 > y0) & (x1 > x0)), strict=True):
            ys, xs = slice(int(y0[i, j]), int(y1[i, j])), slice(int(x0[i, j]), int(x1[i, j]))
            both = self.stack[self.rows[i], ys, xs] & other.stack[other.rows[j], ys, xs]
            if weights is None:
                out[i, j] = np.count_nonzero(both)
            else:
                out[i, j] = float(np.count_nonzero(both, axis=1) @ weights[ys])
        return out

    def union_map(self) -> np.ndarray:
        """(H, W) uint8 map: 1 where any mask is set (pixelwise max of the stack)."""
        out = np.zeros(self.shape, dtype=np.uint8)
        for i in range(len(self)):
            ys, xs, mask = self.crop(i)
            np.copyto(out[ys, xs], 1, where=mask)
        return out


def _as_row_weights(row_weights: np.ndarray, height: int) -> np.ndarray:
    """Accept (H,) or (H, 1) per-row weights, e.g. ``solid_angle_weights(H, W)``."""
    weights = np.asarray(row_weights, dtype=np.float64).reshape(-1)
    if weights.size != height:
        raise ValueError(
            f"row weights have {weights.size} entries for {height} rows; pass "
            "foir360_core.geometry.solid_angle_weights(H, W) for the frame being evaluated"
        )
    return weights
