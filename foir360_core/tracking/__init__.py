"""Tracking: persistent ids for the instances of consecutive ERP frames, and stable ranks.

No ROS here: the node and ``foir360 replay`` (``foir360_ros.pipeline``) run this same code.
"""

from foir360_core.tracking.evaluation import (
    TrackedSequence,
    TrackFrame,
    mot_metrics,
    track_ground_truth,
)
from foir360_core.tracking.settings import TrackerSettings, TrackerSettingsError
from foir360_core.tracking.tracker import Detections, TrackedFrame, Tracker

__all__ = [
    "Detections",
    "TrackFrame",
    "TrackedFrame",
    "TrackedSequence",
    "Tracker",
    "TrackerSettings",
    "TrackerSettingsError",
    "mot_metrics",
    "track_ground_truth",
]
