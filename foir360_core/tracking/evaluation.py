"""Multi-object tracking figures against ground truth, with the field's standard code.

``motmetrics`` (py-motmetrics, the MOTChallenge reference implementation in Python) computes
IDF1, identity switches and MOTA; foir360 only supplies the frame-by-frame distances, which
are ``1 - mask IoU`` at mask resolution (pairs below ``iou_threshold`` cannot match).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from foir360_core.structures import PanoInstances
from foir360_core.tracking.association import coco_rles, mask_iou
from foir360_core.tracking.settings import TrackerSettings

MOT_METRICS = ("idf1", "idp", "idr", "num_switches", "mota", "motp", "num_frames",
               "num_objects", "num_false_positives", "num_misses", "mostly_tracked")


@dataclass(frozen=True)
class TrackFrame:
    """Track ids and their COCO RLE masks (all of one size) in one frame."""

    ids: np.ndarray
    rles: list[dict]


def mot_metrics(pairs: Iterable[tuple[TrackFrame, TrackFrame]], iou_threshold: float = 0.5) -> dict:
    """IDF1, ID switches (also per 100 frames), MOTA... over (ground truth, tracker) frame pairs.

    Frames must come in time order; a tracker frame whose mask size differs from the ground
    truth's matches nothing there (every object counts as missed).
    """
    try:
        import motmetrics as mm
    except ImportError as err:
        raise ImportError(
            "tracking metrics need motmetrics: pip install motmetrics (or foir360[tracking])"
        ) from err
    acc = mm.MOTAccumulator(auto_id=True)
    for gt, hyp in pairs:
        same_size = gt.rles and hyp.rles and list(gt.rles[0]["size"]) == list(hyp.rles[0]["size"])
        iou = (mask_iou(coco_rles(gt.rles), coco_rles(hyp.rles)) if same_size
               else np.zeros((len(gt.rles), len(hyp.rles))))
        distance = np.where(iou >= iou_threshold, 1.0 - iou, np.nan)
        acc.update(np.asarray(gt.ids).tolist(), np.asarray(hyp.ids).tolist(), distance)
    summary = mm.metrics.create().compute(acc, metrics=list(MOT_METRICS), name="all")
    result = {name: _plain(summary[name].iloc[0]) for name in MOT_METRICS}
    frames = result["num_frames"]
    result["switches_per_100_frames"] = 100.0 * result["num_switches"] / frames if frames else None
    result["iou_threshold"] = iou_threshold
    return result


def _plain(value):
    """numpy/pandas scalars as JSON-ready Python numbers (NaN becomes None)."""
    value = value.item() if hasattr(value, "item") else value
    return None if isinstance(value, float) and np.isnan(value) else value


@dataclass(frozen=True)
class TrackedSequence:
    """What :func:`track_ground_truth` produced: the tracker's output per frame and MOT figures."""

    tracked: list
    mot: dict


def track_ground_truth(frames: Iterable[tuple[PanoInstances, int | None, np.ndarray]],
                       settings: TrackerSettings | None = None,
                       iou_threshold: float = 0.5) -> TrackedSequence:
    """Track ground-truth (instances, stamp_ns, track ids) frames fed as predictions, and score
    the tracker's ids against the true ones: the tracker alone (association, misses, ids),
    without any segmentation error. The instances need ranks or scores (any importance)."""
    from foir360_core.tracking.tracker import Detections, Tracker

    tracker = Tracker(settings)
    tracked, pairs = [], []
    for instances, stamp_ns, gt_ids in frames:
        detections = Detections.from_instances(instances, stamp_ns)
        result = tracker.update(detections)
        tracked.append(result)
        pairs.append((TrackFrame(np.asarray(gt_ids), detections.rles),
                      TrackFrame(result.track_ids, detections.rles)))
    return TrackedSequence(tracked, mot_metrics(pairs, iou_threshold))
