"""Every tracker setting in one typed dataclass; field names are the node's parameter names."""

from __future__ import annotations

from dataclasses import dataclass


class TrackerSettingsError(ValueError):
    """A tracker setting is out of range; the message names it and the allowed range."""


@dataclass(frozen=True)
class TrackerSettings:
    """How consecutive frames' instances are associated, kept and ordered.

    Association (see :mod:`foir360_core.tracking.association`): a track and a detection may be
    paired when their masks overlap with IoU >= ``track_min_iou`` at mask resolution, or when the
    detection's spherical centroid lies within ``track_max_angle_deg`` of where the track is
    predicted to be (its last centroid moved on by its last angular velocity). The angle gate
    is what keeps small or fast objects (no overlap between frames) and objects crossing the
    seam or passing a pole on their track: distances are measured on the sphere, not the image.
    """

    tracking: bool = True
    """Track at all; when off, messages carry track_id 0 and the per-frame ranks."""
    track_min_iou: float = 0.2
    """Mask IoU from which a pair is admissible whatever its centroids' distance."""
    track_max_angle_deg: float = 12.0
    """Centroid distance (degrees on the sphere) up to which a pair is admissible."""
    track_class_mismatch_cost: float = 0.5
    """Extra cost of pairing a track with a detection of another class (0 = class-agnostic).
    A cost rather than a ban, so a class that flickers does not break the track."""
    track_max_misses: int = 10
    """Frames a track survives without a detection before it ends (its id is never reused)."""
    rank_smoothing: bool = True
    """Publish the order of the smoothed importance (with hysteresis) instead of the raw one."""
    rank_ema_alpha: float = 0.3
    """Weight of the newest frame in the exponential moving average of a track's importance."""
    rank_hysteresis: float = 0.15
    """Smoothed-importance margin by which an object must beat the one ranked above it to pass."""
    track_max_gap_s: float = 2.0
    """A stamp gap longer than this resets the tracks (0 = never); see Tracker.update."""

    def __post_init__(self) -> None:
        problems = []
        if not 0.0 < self.track_min_iou <= 1.0:
            problems.append(f"track_min_iou must be in (0, 1] (got {self.track_min_iou})")
        if not 0.0 <= self.track_max_angle_deg <= 180.0:
            problems.append(
                f"track_max_angle_deg must be in [0, 180] (got {self.track_max_angle_deg})")
        if self.track_class_mismatch_cost < 0.0:
            problems.append(f"track_class_mismatch_cost must be >= 0 "
                            f"(got {self.track_class_mismatch_cost})")
        if self.track_max_misses < 0:
            problems.append(f"track_max_misses must be >= 0 (got {self.track_max_misses})")
        if not 0.0 < self.rank_ema_alpha <= 1.0:
            problems.append(
                f"rank_ema_alpha must be in (0, 1] (got {self.rank_ema_alpha}); 1 = no memory")
        if self.rank_hysteresis < 0.0:
            problems.append(f"rank_hysteresis must be >= 0 (got {self.rank_hysteresis})")
        if self.track_max_gap_s < 0.0:
            problems.append(
                f"track_max_gap_s must be >= 0 (got {self.track_max_gap_s}); 0 = never reset")
        if problems:
            raise TrackerSettingsError("invalid tracker settings: " + "; ".join(problems))
