"""Tracking: persistent ids on 360° sequences (seam, pole), smoothed ranks, bad input, MOT figures.

Sequences are small (128 rows) so the file runs in about 15 s on two cores.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from foir360_core.structures import PanoInstances
from foir360_core.structures.instances import ranks_from_scores
from foir360_core.synth.sequence import SequenceSettings, render_sequence
from foir360_core.tracking import (
    Detections,
    Tracker,
    TrackerSettings,
    TrackerSettingsError,
    TrackFrame,
    mot_metrics,
    track_ground_truth,
)
from foir360_core.tracking.association import camera_turn
from foir360_core.tracking.ordering import hysteresis_order

T0 = 1_700_000_000_000_000_000
PERIOD = 100_000_000


def _by_size(instances: PanoInstances) -> PanoInstances:
    """Ground truth as a prediction: importance = solid angle (any importance would do)."""
    solid = np.array([g.solid_angle for g in instances.geometry])
    return instances.with_ranks(ranks_from_scores(solid), solid / max(solid.max(), 1e-9))


@pytest.fixture(scope="module", params=[0, 5])
def sequence(request):
    scene = render_sequence(request.param, SequenceSettings(frames=100, height=128))
    return list(scene)


@pytest.fixture(scope="module")
def tracked(sequence):
    return track_ground_truth((_by_size(f.instances), f.stamp_ns, f.track_ids) for f in sequence)


def test_ground_truth_masks_keep_their_ids(tracked):
    mot = tracked.mot
    assert mot["num_frames"] == 100
    assert mot["idf1"] >= 0.95, mot
    assert mot["switches_per_100_frames"] <= 1.0, mot


def _one_id_each(sequence, tracked, frames_of_object) -> None:
    for gt_id, frames in frames_of_object.items():
        ids = {int(tracked.tracked[i].track_ids[list(sequence[i].track_ids).index(gt_id)])
               for i in frames}
        assert len(ids) == 1, (gt_id, frames, ids)


def test_an_object_crossing_the_seam_keeps_its_id(sequence, tracked):
    crossing: dict[int, list[int]] = {}
    for i, frame in enumerate(sequence):
        for k, gt_id in enumerate(frame.track_ids):
            mask = frame.instances.masks[k]
            if mask[:, 0].any() and mask[:, -1].any():
                crossing.setdefault(int(gt_id), []).append(i)
    assert crossing, "the sequence has no object across the seam"
    # the whole visible life of each crossing object, before, on and after the seam
    lives = {g: [i for i, f in enumerate(sequence) if g in f.track_ids] for g in crossing}
    _one_id_each(sequence, tracked, lives)


def test_an_object_passing_a_pole_keeps_its_id(sequence, tracked):
    polar = {}
    for i, frame in enumerate(sequence):
        for k, role in enumerate(frame.roles):
            if role == "pole_pass":
                polar.setdefault(int(frame.track_ids[k]), []).append(i)
                elevation = np.degrees(frame.instances.geometry[k].elevation)
                polar.setdefault("max", []).append(elevation)
    assert max(polar.pop("max")) > 75.0, "the pole-passing object never came near the zenith"
    _one_id_each(sequence, tracked, polar)


def _detections(directions_deg, importance, stamp, size=(64, 128), classes=None) -> Detections:
    """Square masks at the given (lon, lat) degrees on a small ERP grid."""
    from foir360_core.geometry import lonlat_to_pixel, lonlat_to_vector

    masks = np.zeros((len(directions_deg), *size), bool)
    for k, (lon, lat) in enumerate(directions_deg):
        u, v = lonlat_to_pixel(np.radians(lon), np.radians(lat), *size)
        cols = np.arange(int(u) - 3, int(u) + 4) % size[1]
        masks[k, max(int(v) - 3, 0):int(v) + 4][:, cols] = True
    instances = PanoInstances(masks=masks, scores=np.asarray(importance, float),
                              ranks=ranks_from_scores(np.asarray(importance, float)),
                              class_ids=classes)
    det = Detections.from_instances(instances, stamp)
    dirs = np.array([lonlat_to_vector(np.radians(a), np.radians(b)) for a, b in directions_deg])
    return Detections(det.rles, dirs.reshape(-1, 3), det.importance, det.raw_ranks, size, stamp,
                      det.class_ids)


def test_a_detection_of_the_same_class_is_preferred():
    tracker = Tracker()
    tracker.update(_detections([(0, 0)], [1.0], T0, classes=[3]))
    out = tracker.update(_detections([(2, 0), (4, 0)], [1.0, 0.5], T0 + PERIOD, classes=[1, 3]))
    assert out.track_ids.tolist() == [2, 1]
    agnostic = Tracker(TrackerSettings(track_class_mismatch_cost=0.0))
    agnostic.update(_detections([(0, 0)], [1.0], T0, classes=[3]))
    out = agnostic.update(_detections([(2, 0), (4, 0)], [1.0, 0.5], T0 + PERIOD, classes=[1, 3]))
    assert out.track_ids.tolist() == [1, 2]


def test_ids_are_never_reused_and_tracks_survive_short_misses():
    tracker = Tracker(TrackerSettings(track_max_misses=2))
    first = tracker.update(_detections([(0, 0), (90, 0)], [1.0, 0.5], T0))
    assert first.track_ids.tolist() == [1, 2] and first.age_frames.tolist() == [0, 0]
    tracker.update(_detections([(0, 0)], [1.0], T0 + PERIOD))
    tracker.update(_detections([(0, 0)], [1.0], T0 + 2 * PERIOD))
    back = tracker.update(_detections([(0, 0), (90, 0)], [1.0, 0.5], T0 + 3 * PERIOD))
    assert back.track_ids.tolist() == [1, 2]  # missed twice: still track 2
    assert back.age_frames.tolist() == [3, 3] and back.age_s == pytest.approx([0.3, 0.3])
    for k in range(4, 7):
        tracker.update(_detections([(0, 0)], [1.0], T0 + k * PERIOD))
    late = tracker.update(_detections([(0, 0), (90, 0)], [1.0, 0.5], T0 + 7 * PERIOD))
    assert late.track_ids.tolist() == [1, 3]  # missed three times: a new id, 2 is never reused


def _turned(places, yaw_deg):
    """(lon, lat) degrees seen from a camera turned left by ``yaw_deg``."""
    return [(lon - yaw_deg, lat) for lon, lat in places]


def test_camera_turn_is_the_weighted_kabsch_fit():
    rng = np.random.default_rng(1)
    truth = Rotation.from_rotvec([0.05, -0.1, 0.4])
    before = rng.normal(size=(6, 3))
    before /= np.linalg.norm(before, axis=1, keepdims=True)
    after = truth.apply(before)
    after[5] = before[5]  # an object that moved against the turn: weighed down, outvoted
    weights = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.01])
    fitted = camera_turn(before, after, weights, 2)
    assert np.degrees((fitted * truth.inv()).magnitude()) < 0.5
    assert np.degrees((camera_turn(before, after, np.ones(6), 2) * truth.inv()).magnitude()) > 1
    assert camera_turn(before[:2], after[:2], weights[:2], 3) is None  # too few pairs
    assert camera_turn(before, after, weights, 0) is None  # off
    same = np.repeat(before[:1], 3, axis=0)
    assert camera_turn(same, truth.apply(same), np.ones(3), 2) is None  # no rotation fixed


def test_a_camera_turn_carries_the_tracks_that_their_own_motion_loses():
    # two objects near the poles hardly move when the camera yaws 20 degrees: they are paired
    # by the angle gate, fix the turn, and the turn carries the rest; one is hidden a frame
    poles = [(0, 80), (90, -80)]
    equator = [(0, 0), (70, 10), (150, -10), (-100, 5)]
    importance = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]

    def run(settings):
        tracker = Tracker(settings)
        tracker.update(_detections(poles + equator, importance, T0))
        hidden = _detections(_turned(poles + equator[:3], 20), importance[:5], T0 + PERIOD)
        back = _detections(_turned(poles + equator, 40), importance, T0 + 2 * PERIOD)
        return [tracker.update(hidden).track_ids.tolist(), tracker.update(back).track_ids.tolist()]

    assert run(TrackerSettings()) == [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 6]]
    # own motion only (no turn): every equator object, seen once still, gets a new id
    without = run(TrackerSettings(track_turn_min_pairs=0))
    assert without[0][:2] == [1, 2] and min(without[0][2:]) > 6
    assert without[1][:2] == [1, 2] and min(without[1][2:]) > 9


def test_a_fast_camera_turn_keeps_the_ids_of_a_sequence():
    """20 degrees a frame: beyond the angle gate, and too fast for most masks to overlap."""
    scene = render_sequence(1, SequenceSettings(frames=30, height=128, yaw_deg=20.0))
    frames = [(_by_size(f.instances), f.stamp_ns, f.track_ids) for f in scene]
    turn = track_ground_truth(frames).mot
    assert turn["idf1"] >= 0.95 and turn["switches_per_100_frames"] <= 1.0, turn
    own = track_ground_truth(frames, TrackerSettings(track_turn_min_pairs=0)).mot
    assert own["idf1"] < 0.7 and own["switches_per_100_frames"] > 50, own


def test_the_seam_is_not_a_border_for_association():
    tracker = Tracker()
    tracker.update(_detections([(178, 0)], [1.0], T0))
    out = tracker.update(_detections([(-177, 0)], [1.0], T0 + PERIOD))
    assert out.track_ids.tolist() == [1]


def test_a_stamp_going_back_resets_with_new_ids_and_same_stamps_continue(caplog):
    tracker = Tracker()
    tracker.update(_detections([(0, 0)], [1.0], T0 + 5 * PERIOD))
    same = tracker.update(_detections([(0, 0)], [1.0], T0 + 5 * PERIOD))
    assert same.track_ids.tolist() == [1] and same.reset is None
    with caplog.at_level(logging.WARNING):
        back = tracker.update(_detections([(0, 0)], [1.0], T0))
    assert back.track_ids.tolist() == [2] and "older than the last" in back.reset
    assert "tracks reset" in caplog.text
    after = tracker.update(_detections([(0, 0)], [1.0], T0 + PERIOD))
    assert after.track_ids.tolist() == [2] and after.age_frames.tolist() == [1]
    gap = tracker.update(_detections([(0, 0)], [1.0], T0 + 100 * PERIOD))
    assert gap.track_ids.tolist() == [3] and "without a frame" in gap.reset


def test_a_frame_size_change_resets_with_a_warning(caplog):
    tracker = Tracker()
    tracker.update(_detections([(0, 0)], [1.0], T0))
    with caplog.at_level(logging.WARNING):
        out = tracker.update(_detections([(0, 0)], [1.0], T0 + PERIOD, size=(32, 64)))
    assert out.track_ids.tolist() == [2] and "mask size changed from 128x64 to 64x32" in caplog.text
    empty = tracker.update(_detections([], [], None, size=(32, 64)))
    assert empty.track_ids.size == 0 and empty.ranks.size == 0


def test_hysteresis_stops_near_equal_objects_from_swapping():
    tracker = Tracker(TrackerSettings(rank_ema_alpha=0.3, rank_hysteresis=0.1))
    raw_off = Tracker(TrackerSettings(rank_smoothing=False))
    published, raw = [], []
    for k in range(20):  # two objects whose raw order alternates every frame
        imp = [1.0, 0.9] if k % 2 else [0.9, 1.0]
        det = _detections([(0, 0), (60, 0)], imp, T0 + k * PERIOD)
        published.append(tracker.update(det).ranks.tolist())
        raw.append(raw_off.update(det).ranks.tolist())
    assert all(sorted(r) == [1, 2] for r in published)
    assert len({tuple(r) for r in published}) == 1  # never swaps
    assert len({tuple(r) for r in raw}) == 2  # smoothing off: the raw order, swapping
    clear = tracker.update(_detections([(0, 0), (60, 0)], [0.1, 1.0], T0 + 20 * PERIOD))
    clear = tracker.update(_detections([(0, 0), (60, 0)], [0.1, 1.0], T0 + 21 * PERIOD))
    assert clear.ranks.tolist() == [2, 1]  # a clear change of importance still gets through


def test_hysteresis_order_is_a_plain_sort_without_margin_and_always_a_permutation():
    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(0, 8))
        smoothed = rng.uniform(size=n)
        previous = rng.permutation(np.arange(n + 3))[:n]  # some unpublished (0), some old ranks
        new = (previous == 0) & (rng.uniform(size=n) < 0.5)
        plain = ranks_from_scores(smoothed).tolist()
        assert hysteresis_order(smoothed, previous, new, 0.0, 3).tolist() == plain
        assert hysteresis_order(smoothed, previous, new, 0.2, 0).tolist() == plain
        for hold in (1, 3, n):
            damped = hysteresis_order(smoothed, previous, new, 0.2, hold)
            assert sorted(damped.tolist()) == list(range(1, n + 1))
            below = np.flatnonzero(damped > hold)  # below the held places: the plain order
            assert ranks_from_scores(smoothed[below]).tolist() == (damped[below] - hold).tolist()


def test_hysteresis_holds_only_the_top_places():
    smoothed = np.array([0.50, 0.45, 0.30, 0.35])
    previous, new = np.array([1, 2, 3, 4]), np.zeros(4, bool)
    # 0.45 does not beat 0.50 by the margin; below place 2, 0.35 passes 0.30 at once
    assert hysteresis_order(smoothed, previous, new, 0.15, 2).tolist() == [1, 2, 4, 3]
    assert hysteresis_order(smoothed, previous, new, 0.15, 4).tolist() == [1, 2, 3, 4]
    # a continuing object from below takes a held place only by the margin
    assert hysteresis_order(np.array([0.5, 0.4, 0.5]), previous[:3], new[:3], 0.15,
                            2).tolist() == [1, 2, 3]
    assert hysteresis_order(np.array([0.5, 0.3, 0.5]), previous[:3], new[:3], 0.15,
                            2).tolist() == [1, 3, 2]
    # a new object enters where its importance puts it
    assert hysteresis_order(np.array([0.5, 0.4, 0.45]), np.array([1, 2, 0]),
                            np.array([False, False, True]), 0.15, 2).tolist() == [1, 3, 2]


def test_a_track_back_after_a_miss_must_win_its_place_again():
    tracker = Tracker(TrackerSettings(rank_ema_alpha=1.0, rank_hysteresis=0.15))
    places = [(0, 0), (60, 0)]
    first = tracker.update(_detections(places, [1.0, 0.5], T0))
    assert first.ranks.tolist() == [1, 2]
    alone = tracker.update(_detections(places[1:], [0.5], T0 + PERIOD))  # rank 1 is missed
    assert alone.ranks.tolist() == [1]
    back = tracker.update(_detections(places, [0.6, 0.5], T0 + 2 * PERIOD))
    assert back.track_ids.tolist() == [1, 2]  # the same track, but not its old place
    assert back.ranks.tolist() == [2, 1]
    clear = tracker.update(_detections(places, [0.8, 0.5], T0 + 3 * PERIOD))
    assert clear.ranks.tolist() == [1, 2]  # beaten by the margin: the place is won back


def test_settings_are_checked_with_the_name_and_the_range():
    expected = r"track_max_misses must be >= 0.*rank_ema_alpha must be in \(0, 1\]"
    with pytest.raises(TrackerSettingsError, match=expected):
        TrackerSettings(rank_ema_alpha=0.0, track_max_misses=-1)
    with pytest.raises(TrackerSettingsError, match=r"track_turn_min_pairs must be 0 \(off\)"):
        TrackerSettings(track_turn_min_pairs=1)
    with pytest.raises(TrackerSettingsError, match="rank_hold_places must be >= 0"):
        TrackerSettings(rank_hold_places=-1)


def test_motmetrics_counts_an_identity_switch():
    from foir360_core.structures import encode_masks

    masks = np.zeros((2, 16, 32), bool)
    masks[0, :, :8] = True
    masks[1, :, 16:24] = True
    rles = encode_masks(masks)
    gt = [TrackFrame(np.array([1, 2]), rles)] * 4
    good = mot_metrics(zip(gt, [TrackFrame(np.array([7, 8]), rles)] * 4, strict=True))
    assert good["idf1"] == 1.0 and good["num_switches"] == 0 and good["mota"] == 1.0
    swapped = [TrackFrame(np.array([7, 8]), rles)] * 2 + [TrackFrame(np.array([8, 7]), rles)] * 2
    bad = mot_metrics(zip(gt, swapped, strict=True))
    assert bad["num_switches"] == 2 and bad["idf1"] == pytest.approx(0.5)
