"""The perspective segmenter interface every panoramic run is built on.

A :class:`ViewSegmenter` sees one rectilinear view at a time and returns instance masks in
that view's pixels, each with a score and an index into its ``class_names``. The panoramic
layer (:mod:`foir360_core.segmentation.panoramic`) chooses the views, back-projects the
masks and merges them on the sphere, so a segmenter never needs to know about ERP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from foir360_core.geometry import ViewGeometry


@dataclass(frozen=True)
class ViewContext:
    """Where a view comes from: its geometry, the panorama's size and file (when known).

    Only segmenters that need the panorama itself (the ``oracle``) read ``source``.
    """

    geometry: ViewGeometry
    erp_shape: tuple[int, int]
    source: Path | None = None


@dataclass
class ViewInstances:
    """Instances found in one view: (n, h, w) bool masks, (n,) scores, (n,) class indices.

    ``boxes`` (n, 4) x1, y1, x2, y2 in view pixels, when the segmenter is box-based (drawn
    in debug images).
    """

    masks: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        self.masks = np.asarray(self.masks, dtype=bool)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        n = self.masks.shape[0]
        if self.masks.ndim != 3 or self.scores.size != n or self.labels.size != n:
            raise ValueError(f"masks {self.masks.shape}, scores {self.scores.shape} and labels "
                             f"{self.labels.shape} do not describe the same instances")

    @classmethod
    def empty(cls, height: int, width: int) -> ViewInstances:
        return cls(np.zeros((0, height, width), bool), np.zeros(0), np.zeros(0, np.int64))

    def __len__(self) -> int:
        return int(self.masks.shape[0])

    def select(self, keep: np.ndarray) -> ViewInstances:
        """The instances at ``keep`` (indices or a bool mask)."""
        return ViewInstances(self.masks[keep], self.scores[keep], self.labels[keep],
                             None if self.boxes is None else self.boxes[keep])


@runtime_checkable
class ViewSegmenter(Protocol):
    """Finds object instances in one perspective view."""

    name: str
    class_names: tuple[str, ...]

    def segment(self, view_rgb: np.ndarray, context: ViewContext) -> ViewInstances:
        """RGB uint8 (h, w, 3) view → its instances in view pixels."""
        ...


class SegmenterSpecError(ValueError):
    """A ``--segmenter`` value that names no usable segmenter; the message says the fix."""
