"""Every tracker setting in one typed dataclass; the ranker node generates its tracking
parameters from it (``foir360_ros.parameters``), under the same names and defaults."""

from __future__ import annotations

from dataclasses import dataclass

from foir360_core.settings import SettingsError, check_fields, setting


class TrackerSettingsError(SettingsError):
    """A tracker setting is out of range; the message names it and the allowed range."""


@dataclass(frozen=True)
class TrackerSettings:
    """How consecutive frames' instances are associated, kept and ordered.

    Association (see :mod:`foir360_core.tracking.association`): a track and a detection may be
    paired when their masks overlap with IoU >= ``track_min_iou`` at mask resolution, or when
    the detection's spherical centroid lies within ``track_max_angle_deg`` of where the track
    is predicted to be (its last centroid moved on by its last angular velocity, or turned
    with the camera when ``track_turn_min_pairs`` surely paired tracks fix the turn). The angle
    gate is what keeps small or fast objects (no overlap between frames) and objects crossing
    the seam or passing a pole on their track: distances are measured on the sphere, not the
    image. The defaults of ``rank_ema_alpha`` and ``rank_hysteresis`` were chosen with
    ``benchmarks/bench_tracking.py`` (shipped model, synthetic sequences 0 and 1).
    """

    tracking: bool = setting(True, "track instances across frames: persistent track ids and "
                                   "a smoothed rank order; false = every frame alone "
                                   "(track_id 0)")
    track_min_iou: float = setting(0.2, "mask IoU from which a track and a detection may pair, "
                                        "however far apart their centroids")
    track_max_angle_deg: float = setting(12.0, "centroid distance on the sphere (degrees, from "
                                               "the track's predicted centroid) up to which a "
                                               "track and a detection may pair")
    track_class_mismatch_cost: float = setting(0.5, "extra pairing cost for a detection of "
                                                    "another class (a cost, not a ban: a "
                                                    "flickering class keeps its track); 0 = "
                                                    "class-agnostic")
    track_turn_min_pairs: int = setting(2, "tracks seen in the last frame and paired again "
                                           "(weighted by mask overlap or nearness to their own "
                                           "prediction) needed to estimate the camera's turn, "
                                           "which then predicts the other tracks; fewer = each "
                                           "track follows its own motion; 0 = never")
    track_max_misses: int = setting(10, "frames a track survives without a detection; its id "
                                        "is never reused")
    track_max_gap_s: float = setting(2.0, "a stamp gap longer than this resets the tracks; "
                                          "0 = never")
    rank_smoothing: bool = setting(True, "publish the order of the smoothed importance (with "
                                         "hysteresis) instead of each frame's own")
    rank_ema_alpha: float = setting(0.3, "weight of the newest frame in each track's moving "
                                         "average of importance (1 = no memory)")
    rank_hysteresis: float = setting(0.15, "smoothed-importance margin by which an object must "
                                           "beat the one ranked above it to pass it")
    rank_hold_places: int = setting(2, "top places of the published order that hysteresis "
                                       "holds; below them the smoothed order is published "
                                       "as it is (0 = none held)")

    def __post_init__(self) -> None:
        check_fields(self)
        problems = []
        if not 0.0 < self.track_min_iou <= 1.0:
            problems.append(f"track_min_iou must be in (0, 1] (got {self.track_min_iou})")
        if not 0.0 <= self.track_max_angle_deg <= 180.0:
            problems.append(
                f"track_max_angle_deg must be in [0, 180] (got {self.track_max_angle_deg})")
        if self.track_class_mismatch_cost < 0.0:
            problems.append(f"track_class_mismatch_cost must be >= 0 "
                            f"(got {self.track_class_mismatch_cost})")
        if self.track_turn_min_pairs < 0 or self.track_turn_min_pairs == 1:
            problems.append(f"track_turn_min_pairs must be 0 (off) or >= 2: a turn needs two "
                            f"directions (got {self.track_turn_min_pairs})")
        if self.track_max_misses < 0:
            problems.append(f"track_max_misses must be >= 0 (got {self.track_max_misses})")
        if self.track_max_gap_s < 0.0:
            problems.append(
                f"track_max_gap_s must be >= 0 (got {self.track_max_gap_s}); 0 = never reset")
        if not 0.0 < self.rank_ema_alpha <= 1.0:
            problems.append(
                f"rank_ema_alpha must be in (0, 1] (got {self.rank_ema_alpha}); 1 = no memory")
        if self.rank_hysteresis < 0.0:
            problems.append(f"rank_hysteresis must be >= 0 (got {self.rank_hysteresis})")
        if self.rank_hold_places < 0:
            problems.append(f"rank_hold_places must be >= 0 (got {self.rank_hold_places})")
        if problems:
            raise TrackerSettingsError("invalid tracker settings: " + "; ".join(problems))
