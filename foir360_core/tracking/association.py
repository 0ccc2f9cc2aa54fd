"""Which detection of the new frame continues which track: one-to-one, on the sphere.

The cost of pairing a track with a detection is ``(1 - IoU) + angle / track_max_angle_deg``
(plus ``track_class_mismatch_cost`` when their classes differ): mask overlap at mask resolution
(pycocotools on the RLEs the message carries anyway, so no mask is decoded) plus the angular
distance between the detection's spherical centroid and the track's predicted one. Pairs
outside both gates (IoU < track_min_iou and angle > track_max_angle_deg) are not allowed.
scipy's Hungarian solver (``linear_sum_assignment``) then picks the cheapest one-to-one set.

When the camera turns, every object moves across the image at once, and a track's own last
motion (zero for a track seen once, stale for one that was hidden) no longer says where it is.
The turn is estimated from the frame itself: :func:`camera_turn` fits the rotation that best
carries the confidently paired tracks' centroids onto their detections' (weighted Kabsch,
scipy's ``Rotation.align_vectors``), and the tracker predicts the rest of its tracks with it.
"""

from __future__ import annotations

import math

import numpy as np
from pycocotools import mask as coco_mask
from scipy.optimize import linear_sum_assignment
from scipy.spatial.transform import Rotation

from foir360_core.tracking.settings import TrackerSettings

_FORBIDDEN = 1e6


def coco_rles(rles: list[dict]) -> list[dict]:
    """RLEs with ``bytes`` counts, the form pycocotools' IoU takes."""
    return [{"size": list(r["size"]), "counts": r["counts"].encode("ascii")
             if isinstance(r["counts"], str) else r["counts"]} for r in rles]


def mask_iou(tracks: list[dict], detections: list[dict]) -> np.ndarray:
    """(T, D) IoU of COCO RLEs of the same size (pycocotools, run-length, no decoding)."""
    if not tracks or not detections:
        return np.zeros((len(tracks), len(detections)))
    return np.asarray(coco_mask.iou(tracks, detections, [0] * len(detections)), np.float64)


def angles_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(T, D) great-circle angle in degrees between unit vectors ``a`` (T, 3) and ``b`` (D, 3)."""
    cos = np.clip(np.asarray(a, np.float64) @ np.asarray(b, np.float64).T, -1.0, 1.0)
    return np.degrees(np.arccos(cos))


def associate(iou: np.ndarray, angle: np.ndarray, other_class: np.ndarray,
              settings: TrackerSettings) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (track rows, detection cols) of the cheapest admissible one-to-one pairing.

    ``other_class`` (T, D) bool marks pairs whose class ids differ.
    """
    if iou.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    admissible = (iou >= settings.track_min_iou) | (angle <= settings.track_max_angle_deg)
    scale = max(settings.track_max_angle_deg, 1e-6)
    pair_cost = (1.0 - iou) + angle / scale + settings.track_class_mismatch_cost * other_class
    cost = np.where(admissible, pair_cost, _FORBIDDEN)
    rows, cols = linear_sum_assignment(cost)
    keep = admissible[rows, cols]
    return rows[keep].astype(np.int64), cols[keep].astype(np.int64)


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation vector (axis × angle, radians) that turns unit vector ``a`` into ``b``.

    Called once per matched track per frame: the cross product is written out on floats,
    since ``np.cross`` costs ~50 µs of axis handling per 3-vector (half of ``Tracker.update``).
    """
    (ax, ay, az), (bx, by, bz) = (float(v) for v in a), (float(v) for v in b)
    axis = (ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx)
    sin, cos = math.hypot(*axis), ax * bx + ay * by + az * bz
    if sin < 1e-12:
        return np.zeros(3)
    return np.array(axis) * (math.atan2(sin, cos) / sin)


def camera_turn(before: np.ndarray, after: np.ndarray, weights: np.ndarray,
                min_pairs: int) -> Rotation | None:
    """The rotation that best carries unit vectors ``before`` (K, 3) onto ``after`` (K, 3).

    Weighted least squares over the pairs (Kabsch, ``Rotation.align_vectors``): objects that
    move on their own or show parallax are outvoted by the rest of the scene. None below
    ``min_pairs`` pairs (0 = never), or when the pairs do not fix a rotation (fewer than two
    distinct directions): a turn fitted to too little would mislead every track.
    """
    if min_pairs <= 0 or len(before) < max(min_pairs, 2):
        return None
    before, after = np.asarray(before, np.float64), np.asarray(after, np.float64)
    if np.linalg.matrix_rank(before, tol=1e-6) < 2:
        return None
    rotation, _ = Rotation.align_vectors(after, before, weights=np.asarray(weights, np.float64))
    return rotation
