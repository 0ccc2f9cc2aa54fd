"""Instances that keep their identity from frame to frame, with a rank that does not dither.

:class:`Tracker` takes each frame's detections (RLE masks, spherical centroids, raw importance)
and returns, per detection, a persistent ``track_id``, how long its track has been seen, its
smoothed importance and the published rank (unique 1..N). Ids start at 1, grow by one per new
track and are never reused within a tracker's life, also across resets.

Bad input never raises; it resets the tracks (with a warning) by these rules:

* a frame whose mask size differs from the last frame's (the camera or ``mask_height`` changed);
* a frame whose stamp is older than the last one (a bag replayed again or out of order, a clock
  reset): its tracks would be matched against the future;
* a stamp gap longer than ``track_max_gap_s`` (the scene may have changed completely).

Frames without a stamp (``stamp_ns=None``) and frames with the same stamp as the last simply
continue the tracks.

Where a track is looked for in the new frame: where its own last motion puts it, or where the
camera's turn (estimated from the frame's surely paired tracks) carries it, whichever is
nearer; see :meth:`Tracker._associate`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from foir360_core.structures import PanoInstances
from foir360_core.structures.instances import ranks_from_scores
from foir360_core.tracking.association import (
    angles_deg,
    associate,
    camera_turn,
    coco_rles,
    mask_iou,
    rotation_between,
)
from foir360_core.tracking.ordering import ema, hysteresis_order
from foir360_core.tracking.settings import TrackerSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Detections:
    """One frame's instances as the tracker needs them.

    ``rles``: COCO RLEs at mask resolution ``size`` (h, w); ``directions``: (N, 3) unit
    spherical centroids; ``importance``: (N,) raw importance, higher = more important;
    ``raw_ranks``: the per-frame ranks (unique 1..N); ``stamp_ns``: the frame's capture time;
    ``class_ids``: (N,) classes (None = all one class).
    """

    rles: list[dict]
    directions: np.ndarray
    importance: np.ndarray
    raw_ranks: np.ndarray
    size: tuple[int, int]
    stamp_ns: int | None = None
    class_ids: np.ndarray | None = None

    @classmethod
    def from_instances(cls, instances: PanoInstances, stamp_ns: int | None = None,
                       rles: list[dict] | None = None) -> Detections:
        """From a ranker's result; pass ``rles`` when they are already encoded (the message)."""
        n = len(instances)
        if instances.ranks is not None:
            ranks = instances.ranks
        elif instances.scores is not None:
            ranks = ranks_from_scores(instances.scores)
        else:
            raise ValueError("instances carry neither ranks nor scores; nothing to track by")
        importance = (instances.scores if instances.scores is not None
                      else (n + 1 - ranks) / max(n, 1))
        directions = (np.array([g.direction for g in instances.geometry], np.float64)
                      if n else np.zeros((0, 3)))
        return cls(rles=rles if rles is not None else instances.to_rle(),
                   directions=directions, importance=np.asarray(importance, np.float64),
                   raw_ranks=np.asarray(ranks, np.int64), size=instances.image_size,
                   stamp_ns=stamp_ns, class_ids=instances.class_ids)


@dataclass(frozen=True)
class TrackedFrame:
    """Per detection (in the order given to :meth:`Tracker.update`): identity and ranks.

    ``ranks`` is the published order (smoothed with hysteresis, or the raw one when smoothing
    is off); ``raw_ranks`` the per-frame one. ``age_frames`` counts frames since the track was
    first seen (0 = new), ``age_s`` seconds between those frames' stamps (0 without stamps).
    ``reset`` names why the tracks were reset on this frame, or is None.
    """

    track_ids: np.ndarray
    age_frames: np.ndarray
    age_s: np.ndarray
    smoothed: np.ndarray
    ranks: np.ndarray
    raw_ranks: np.ndarray
    reset: str | None = None


@dataclass
class _Track:
    track_id: int
    rle: dict
    direction: np.ndarray
    first_frame: int
    first_stamp_ns: int | None
    smoothed: float
    rank: int
    """Its place in the last frame's published order; 0 = not published there."""
    class_id: int = 0
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(3))
    misses: int = 0
    turned: np.ndarray = field(default_factory=lambda: np.eye(3))
    """How far the camera turned (as estimated) since the track was last seen: a rotation
    matrix, as plain matrix products cost a fraction of scipy ``Rotation`` objects per track."""

    def turned_with(self, turn: np.ndarray) -> np.ndarray:
        """Where the centroid should be now if it stayed put in the world while the camera
        turned: the turns since it was last seen, then this frame's (``turn``, a matrix)."""
        return turn @ (self.turned @ self.direction)


def _predicted(tracks: list[_Track]) -> np.ndarray:
    """Where each track's centroid should be now: moved on by its last per-frame angular
    velocity for every frame since it was seen. One vectorised scipy call for all tracks: a
    rotation per track in Python costs more than the rest of the association."""
    steps = np.array([t.velocity * (t.misses + 1) for t in tracks])
    return Rotation.from_rotvec(steps).apply(np.array([t.direction for t in tracks]))


def _classes(det: Detections) -> np.ndarray:
    n = len(det.rles)
    return np.zeros(n, np.int64) if det.class_ids is None else np.asarray(det.class_ids, np.int64)


class Tracker:
    """Associates the instances of consecutive frames (see the module docstring)."""

    def __init__(self, settings: TrackerSettings | None = None) -> None:
        self.settings = settings or TrackerSettings()
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._frame = 0
        self._size: tuple[int, int] | None = None
        self._stamp_ns: int | None = None

    @property
    def active_tracks(self) -> int:
        """Tracks alive now (seen in the last ``track_max_misses`` + 1 frames)."""
        return len(self._tracks)

    def reset(self) -> None:
        """End every track (ids keep counting up, so none is ever reused)."""
        self._tracks = []
        self._size = None
        self._stamp_ns = None

    def update(self, detections: Detections) -> TrackedFrame:
        """Track one frame; never raises on odd stamps or sizes (see the module docstring)."""
        reason = self._reset_reason(detections)
        if reason is not None:
            log.warning("tracks reset: %s", reason)
            self.reset()
        self._frame += 1
        self._size = detections.size
        if detections.stamp_ns is not None:
            self._stamp_ns = detections.stamp_ns
        rows, cols, turn = self._associate(detections)
        tracks = self._advance(detections, dict(zip(cols.tolist(), rows.tolist(), strict=True)),
                               turn)
        return self._publish(detections, tracks, reason)

    def _reset_reason(self, det: Detections) -> str | None:
        if self._size is not None and tuple(det.size) != tuple(self._size):
            return (f"mask size changed from {self._size[1]}x{self._size[0]} to "
                    f"{det.size[1]}x{det.size[0]}")
        if det.stamp_ns is None or self._stamp_ns is None:
            return None
        if det.stamp_ns < self._stamp_ns:
            return (f"frame stamp {det.stamp_ns} ns is older than the last one "
                    f"({self._stamp_ns} ns): replayed or out-of-order input, or a clock reset")
        gap_s = (det.stamp_ns - self._stamp_ns) / 1e9
        limit = self.settings.track_max_gap_s
        if limit > 0 and gap_s > limit:
            return f"{gap_s:.2f} s without a frame (track_max_gap_s {limit})"
        return None

    def _associate(self, det: Detections) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Pairs (track rows, detection cols) and the camera turn estimated on the way (a
        rotation matrix, or None).

        A first pass predicts every track by its own motion. Its pairs fit the camera's turn
        (:meth:`_turn`). Pairs of tracks seen in the last frame whose masks overlap (IoU >=
        ``track_min_iou``) stand, as they need no prediction; every other track is paired
        again with the remaining detections, allowed where its own motion or the camera's
        turn puts it, whichever is nearer (a fast object near a pole keeps its own motion, a
        track seen once or hidden a while follows the turn). Without a turn the first pass
        stands.
        """
        empty = np.zeros(0, dtype=np.int64)
        if not self._tracks or not det.rles:
            return empty, empty, None
        iou = mask_iou(coco_rles([t.rle for t in self._tracks]), coco_rles(det.rles))
        angle = angles_deg(_predicted(self._tracks), det.directions)
        classes = _classes(det)
        other = np.array([t.class_id for t in self._tracks])[:, None] != classes[None, :]
        rows, cols = associate(iou, angle, other, self.settings)
        fresh = np.array([t.misses == 0 for t in self._tracks])[rows]
        turn = self._turn(det, rows[fresh], cols[fresh], iou, angle)
        if turn is None:
            return rows, cols, None
        sure = fresh & (iou[rows, cols] >= self.settings.track_min_iou)
        matrix = turn.as_matrix()
        turned = angles_deg(np.array([t.turned_with(matrix) for t in self._tracks]),
                            det.directions)
        rest_rows = np.setdiff1d(np.arange(len(self._tracks)), rows[sure])
        rest_cols = np.setdiff1d(np.arange(len(det.rles)), cols[sure])
        grid = np.ix_(rest_rows, rest_cols)
        more_rows, more_cols = associate(iou[grid], np.minimum(angle, turned)[grid], other[grid],
                                         self.settings)
        return (np.concatenate([rows[sure], rest_rows[more_rows]]),
                np.concatenate([cols[sure], rest_cols[more_cols]]), matrix)

    def _turn(self, det: Detections, rows: np.ndarray, cols: np.ndarray, iou: np.ndarray,
              angle: np.ndarray) -> Rotation | None:
        """The camera's turn since the last frame, fitted to the pairs (rows, cols).

        Each pair weighs what makes it sure: its mask IoU, or how near the detection is to
        the track's own prediction (1 on it, 0 at ``track_max_angle_deg``), whichever is
        larger. Overlapping masks alone would not do: in a fast turn only objects near the
        poles (which a yaw hardly moves) still overlap, and they are often too few or small.
        """
        gate = max(self.settings.track_max_angle_deg, 1e-6)
        weights = np.maximum(iou[rows, cols], 1.0 - angle[rows, cols] / gate)
        before = np.array([self._tracks[r].direction for r in rows]).reshape(-1, 3)
        return camera_turn(before, det.directions[cols], weights,
                           self.settings.track_turn_min_pairs)

    def _advance(self, det: Detections, track_of: dict[int, int],
                 turn: np.ndarray | None) -> list[_Track]:
        """Update matched tracks, age the missed ones, open new ones; one track per detection.

        A missed track gives up its published place (it must win it again when it is back)
        and carries on the camera's turn, or its own motion on frames without one.
        """
        alpha = self.settings.rank_ema_alpha if self.settings.rank_smoothing else 1.0
        classes = _classes(det)
        matched: list[_Track] = []
        for index in range(len(det.rles)):
            raw = float(det.importance[index])
            direction = np.asarray(det.directions[index], np.float64)
            if index in track_of:
                track = self._tracks[track_of[index]]
                step = rotation_between(track.direction, direction) / (track.misses + 1)
                track.velocity, track.direction = step, direction
                track.rle, track.misses, track.turned = det.rles[index], 0, np.eye(3)
                track.smoothed = ema(track.smoothed, raw, alpha)
            else:
                track = _Track(self._next_id, det.rles[index], direction, self._frame,
                               det.stamp_ns, smoothed=raw, rank=0)
                self._next_id += 1
            track.class_id = int(classes[index])
            matched.append(track)
        seen = set(track_of.values())
        survivors = []
        for row, track in enumerate(self._tracks):
            if row not in seen:
                track.misses += 1
                track.rank = 0
                step = turn if turn is not None else Rotation.from_rotvec(
                    track.velocity).as_matrix()
                track.turned = step @ track.turned
                if track.misses <= self.settings.track_max_misses:
                    survivors.append(track)
        self._tracks = survivors + matched
        return matched

    def _publish(self, det: Detections, tracks: list[_Track], reason: str | None) -> TrackedFrame:
        smoothed = np.array([t.smoothed for t in tracks], np.float64)
        if self.settings.rank_smoothing:
            ranks = hysteresis_order(smoothed, np.array([t.rank for t in tracks], np.int64),
                                     np.array([t.first_frame == self._frame for t in tracks]),
                                     self.settings.rank_hysteresis,
                                     self.settings.rank_hold_places)
        else:
            ranks = np.asarray(det.raw_ranks, np.int64)
        for track, rank in zip(tracks, ranks, strict=True):
            track.rank = int(rank)
        stamp = det.stamp_ns
        return TrackedFrame(
            track_ids=np.array([t.track_id for t in tracks], np.int64),
            age_frames=np.array([self._frame - t.first_frame for t in tracks], np.int64),
            age_s=np.array([0.0 if stamp is None or t.first_stamp_ns is None
                            else (stamp - t.first_stamp_ns) / 1e9 for t in tracks]),
            smoothed=smoothed,
            ranks=ranks,
            raw_ranks=np.asarray(det.raw_ranks, np.int64),
            reset=reason,
        )
