"""Box detectors as segmenters: detections → masks from boxes (:mod:`.boxmask`).

``coco-centernet`` is the shipped COCO-80 detector (:mod:`.centernet`) behind this adapter.
Besides its class-wise NMS, a box that holds most of a better-scoring box of its class and
is at least twice its size is dropped: CenterNet often adds such a loose second box around
one object (a bed box spanning the wall above the bed), which NMS keeps because their IoU
is low and GrabCut then turns into a mask of the wall. And a box covering more than
``LARGE_BOX`` of the view needs a score of at least ``LARGE_BOX_SCORE``: weak view-filling
boxes are how the floor under the camera and the ceiling became "suitcases" and "dining
tables" in the views that look down and up (measured on real panoramas; see the README).
For the same reason a weak box (score under ``LARGE_BOX_SCORE``) is dropped when its centre
looks more than ``POLAR_LAT_DEG`` up or down (COCO detectors learnt from level photos, and
near a pole a small box back-projects onto a wide band of the ERP), and any box that holds
the point straight below or above the camera: that is the tripod, the robot, the
photographer or the stitching logo at the nadir, or the floor around them (seen on real
panoramas as a "bed" of score 0.57 covering the floor and a "frisbee" of 0.54 on a logo).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol

import numpy as np

from foir360_core.geometry import ViewGeometry
from foir360_core.segmentation.base import ViewContext, ViewInstances
from foir360_core.segmentation.boxmask import grabcut_mask

NESTED_CONTAIN = 0.8
NESTED_RATIO = 2.0
LARGE_BOX = 0.4
LARGE_BOX_SCORE = 0.5
POLAR_LAT_DEG = 54.0  # the top and bottom fifth of the ERP rows


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
        scores = np.asarray(found.scores, np.float32).reshape(-1)
        labels = np.asarray(found.labels, np.int64).reshape(-1)
        height, width = view_rgb.shape[:2]
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) / (height * width)
        weak = scores < LARGE_BOX_SCORE
        keep = nested_keep(boxes, scores, labels) & ~(weak & (area > LARGE_BOX))
        if context is not None:
            keep &= ~holds_pole(boxes, context.geometry)
            keep &= ~(weak & polar_centre(boxes, context.geometry))
        if not keep.any():
            return ViewInstances.empty(height, width)
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
        masks = np.stack([grabcut_mask(view_rgb, box) for box in boxes])
        return ViewInstances(masks, scores, labels, boxes)


def holds_pole(boxes: np.ndarray, geometry: ViewGeometry) -> np.ndarray:
    """Whether each box holds the view's image of the zenith or the nadir."""
    inside = np.zeros(len(boxes), bool)
    for z in (1.0, -1.0):
        cam = geometry.basis() @ np.array([0.0, 0.0, z])
        if cam[0] <= 1e-6:
            continue
        x = geometry.focal_px * cam[1] / cam[0] + geometry.width / 2.0
        y = geometry.height / 2.0 - geometry.focal_px * cam[2] / cam[0]
        inside |= (boxes[:, 0] <= x) & (x <= boxes[:, 2]) & (boxes[:, 1] <= y) & (y <= boxes[:, 3])
    return inside


def polar_centre(boxes: np.ndarray, geometry: ViewGeometry) -> np.ndarray:
    """Whether each box's centre looks more than ``POLAR_LAT_DEG`` up or down."""
    x = (boxes[:, 0] + boxes[:, 2]) / 2.0 - geometry.width / 2.0
    y = geometry.height / 2.0 - (boxes[:, 1] + boxes[:, 3]) / 2.0
    forward, right, up = geometry.basis()
    rays = forward[None] * geometry.focal_px + x[:, None] * right + y[:, None] * up
    lat = np.degrees(np.arcsin(rays[:, 2] / np.linalg.norm(rays, axis=1)))
    return np.abs(lat) > POLAR_LAT_DEG


def nested_keep(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, *,
                contain: float = NESTED_CONTAIN, ratio: float = NESTED_RATIO) -> np.ndarray:
    """False for a box holding ``contain`` of a better same-class box ``ratio`` × smaller."""
    area = np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)
    keep = np.ones(len(boxes), bool)
    for i in range(len(boxes)):
        better = (scores > scores[i]) & (labels == labels[i]) & (area * ratio <= area[i])
        for j in np.flatnonzero(better):
            w = min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0])
            h = min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1])
            if max(w, 0) * max(h, 0) >= contain * area[j]:
                keep[i] = False
                break
    return keep


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
