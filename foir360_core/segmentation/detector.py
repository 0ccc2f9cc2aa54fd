"""Box detectors as segmenters: detections → masks from boxes (:mod:`.boxmask`).

``coco-centernet`` is the shipped COCO-80 detector (:mod:`.centernet`) behind this adapter.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol

import numpy as np

from foir360_core.segmentation.base import ViewContext, ViewInstances
from foir360_core.segmentation.boxmask import grabcut_mask


class BoxDetections(Protocol):
    boxes: np.ndarray   # (n, 4) x1, y1, x2, y2
    scores: np.ndarray  # (n,)
    labels: np.ndarray  # (n,) class indices


class BoxDetector(Protocol):
    def detect(self, image_rgb: np.ndarray) -> BoxDetections: ...


class BoxSegmenter:
    """Any box detector plus GrabCut masks from its boxes."""

    def __init__(self, detector: BoxDetector, class_names: tuple[str, ...], name: str,
                 fingerprint: str) -> None:
        self.detector = detector
        self.class_names = tuple(class_names)
        self.name = name
        self.fingerprint = fingerprint

    def segment(self, view_rgb: np.ndarray, context: ViewContext) -> ViewInstances:
        found = self.detector.detect(view_rgb)
        boxes = np.asarray(found.boxes, np.float32).reshape(-1, 4)
        if len(boxes) == 0:
            return ViewInstances.empty(*view_rgb.shape[:2])
        masks = np.stack([grabcut_mask(view_rgb, box) for box in boxes])
        return ViewInstances(masks, found.scores, found.labels, boxes)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def build_centernet_segmenter(threads: int | None = 1,
                              score_threshold: float | None = None) -> BoxSegmenter:
    """The shipped COCO-80 CenterNet with GrabCut masks from its boxes."""
    from foir360_core.segmentation.centernet import (
        COCO_NAMES,
        CocoCenterNet,
        default_detector_path,
    )

    extra = {} if score_threshold is None else {"score_threshold": score_threshold}
    detector = CocoCenterNet(threads=threads, **extra)
    fingerprint = (f"{CocoCenterNet.name}:{file_sha256(default_detector_path())[:16]}:"
                   f"{getattr(detector, 'score_threshold', score_threshold)}:grabcut")
    return BoxSegmenter(detector, COCO_NAMES, CocoCenterNet.name, fingerprint)
