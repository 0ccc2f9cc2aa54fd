"""Panoramic instance segmentation: a perspective segmenter over a sphere-covering set of views.

Each view of the layout (:mod:`~foir360_core.segmentation.layouts`) is sampled from the ERP
image, segmented, back-projected exactly into ERP and merged on the sphere by the rule in
:mod:`~foir360_core.segmentation.merge`. The result is a :class:`PanoInstances` with 1-based
``class_ids`` into the segmenter's ``class_names`` and a score per instance.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from foir360_core.geometry import ViewGeometry, check_erp_shape, erp_to_view
from foir360_core.segmentation.base import ViewContext, ViewInstances, ViewSegmenter
from foir360_core.segmentation.layouts import DEFAULT_LAYOUT, DEFAULT_VIEW_SIZE, view_layout
from foir360_core.segmentation.merge import (
    KEEP_FRACTION,
    MATCH_IOU,
    back_project,
    merge_fragments,
)
from foir360_core.structures import PanoInstances

MIN_AREA_FRACTION = 2e-5  # of the panorama's pixels: 42 px at 2048x1024


@dataclass(frozen=True)
class MergeSettings:
    """How views are laid out and merged; part of the resume digest."""

    layout: str = DEFAULT_LAYOUT
    view_size: int = DEFAULT_VIEW_SIZE
    match_iou: float = MATCH_IOU
    keep_fraction: float = KEEP_FRACTION
    min_area_fraction: float = MIN_AREA_FRACTION

    def to_json(self) -> dict:
        return {"layout": self.layout, "view_size": self.view_size, "match_iou": self.match_iou,
                "keep_fraction": self.keep_fraction, "min_area_fraction": self.min_area_fraction}


@dataclass
class ViewRecord:
    """One view as the segmenter saw it (kept for debug images)."""

    geometry: ViewGeometry
    image: np.ndarray
    found: ViewInstances


@dataclass
class PanoramicResult:
    """Merged instances, the class names their ``class_ids`` index, timings and views."""

    instances: PanoInstances
    class_names: tuple[str, ...]
    seconds: dict[str, float] = field(default_factory=dict)
    views: list[ViewRecord] = field(default_factory=list)


class PanoramicSegmenter:
    """Runs ``segmenter`` on every view of a layout and merges the masks on the sphere."""

    def __init__(self, segmenter: ViewSegmenter, settings: MergeSettings | None = None) -> None:
        self.segmenter = segmenter
        self.settings = settings or MergeSettings()
        self.views = view_layout(self.settings.layout, self.settings.view_size)

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.segmenter.class_names)

    def __call__(self, image_rgb: np.ndarray, source: Path | None = None, *,
                 keep_views: bool = False) -> PanoramicResult:
        """Segment one RGB uint8 ERP panorama (W = 2H)."""
        height, width = image_rgb.shape[:2]
        check_erp_shape(height, width)
        min_pixels = max(1, round(self.settings.min_area_fraction * height * width))
        fragments, records = [], []
        seconds = {"segment": 0.0, "merge": 0.0}
        for geom in self.views:
            start = time.perf_counter()
            view = erp_to_view(image_rgb, geom)
            found = self.segmenter.segment(view, ViewContext(geom, (height, width), source))
            middle = time.perf_counter()
            fragments.append(back_project(found, geom, (height, width), min_pixels))
            seconds["segment"] += middle - start
            seconds["merge"] += time.perf_counter() - middle
            if keep_views:
                records.append(ViewRecord(geom, view, found))
        start = time.perf_counter()
        merged = merge_fragments(fragments, match_iou=self.settings.match_iou,
                                 keep_fraction=self.settings.keep_fraction,
                                 min_pixels=min_pixels)
        seconds["merge"] += time.perf_counter() - start
        instances = PanoInstances(masks=merged.masks, class_ids=merged.labels + 1,
                                  class_scores=merged.scores)
        return PanoramicResult(instances, self.class_names, seconds, records)
