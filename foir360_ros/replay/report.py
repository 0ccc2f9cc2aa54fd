"""The replay report: counts, throughput, per-stage latency, rank stability and GT metrics."""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from foir360_core.io.dataset import atomic_write_text
from foir360_ros.ranked import msg_to_instances
from foir360_ros.replay.stability import RankedFrame, rank_stability

log = logging.getLogger(__name__)


def latency_summary(samples: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """p50 / p95 / mean milliseconds of each stage."""
    return {
        stage: {"p50_ms": float(np.percentile(v, 50)), "p95_ms": float(np.percentile(v, 95)),
                "mean_ms": float(np.mean(v))}
        for stage, v in samples.items() if v
    }


class GroundTruth:
    """A foir360 dataset whose images carry ``stamp_ns`` (the frame's header stamp).

    Images with importance ranks score the ranks (SOR, SA-SOR, MAE); images with ``track_ids``
    score the tracks (IDF1, ID switches, MOTA); a sequence labeled by ``foir360 label`` has both.
    """

    def __init__(self, path: Path) -> None:
        from foir360_core.io import Dataset

        self.dataset = Dataset.load(path)
        self.by_stamp: dict[int, int] = {}
        for record in self.dataset.images:
            if "stamp_ns" in record.extra and (self.dataset.has_ranks(record.id)
                                               or "track_ids" in record.extra):
                self.by_stamp[int(record.extra["stamp_ns"])] = record.id
        if not self.by_stamp:
            from foir360_ros.replay.bags import ReplayError

            raise ReplayError(
                f"{path} has no image with a 'stamp_ns' entry and importance ranks or track_ids; "
                "ground truth for a bag is keyed by each frame's header stamp in nanoseconds "
                "(images[].stamp_ns)")


@dataclass
class ReplayAccumulator:
    """Collects what a replay run produced, frame by frame, and turns it into a report."""

    gt: GroundTruth | None = None
    rejected: Counter = field(default_factory=Counter)
    errors: int = 0
    stages_ms: dict[str, list[float]] = field(default_factory=dict)
    frames: list[RankedFrame] = field(default_factory=list)
    gt_pairs: list[tuple[int, object]] = field(default_factory=list)
    _gt_frames: list[RankedFrame] = field(default_factory=list)

    def ranked(self, msg, stage_ms: dict[str, float]) -> None:
        """One ranked message (and the milliseconds each stage took for it)."""
        for stage, value in stage_ms.items():
            self.stages_ms.setdefault(stage, []).append(value)
        frame = RankedFrame.from_msg(msg)
        self.frames.append(frame)
        if self.gt is not None:
            stamp = msg.header.stamp
            image_id = self.gt.by_stamp.get(int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec))
            if image_id is not None:
                self.gt_pairs.append((image_id, msg))
                self._gt_frames.append(frame)

    def reject(self, reason: str, message: str) -> None:
        if not self.rejected[reason]:
            log.warning("rejected a frame (%s): %s", reason, message)
        self.rejected[reason] += 1

    def fail(self, message: str) -> None:
        if not self.errors:
            log.error("%s", message)
        self.errors += 1

    def metrics(self) -> dict | None:
        """Every metrics profile over the frames that have ground-truth ranks, in one pass."""
        if self.gt is None:
            return None
        from foir360_core.metrics import ALL_PROFILES, evaluate_many

        dataset = self.gt.dataset
        ranked = [(i, m) for i, m in self.gt_pairs if dataset.has_ranks(i)]
        if not ranked:
            return None
        samples = ((dataset.record(i).file_name, dataset.instances(i), msg_to_instances(m))
                   for i, m in ranked)
        reports = evaluate_many(samples, ALL_PROFILES)
        return {"frames_with_gt": len(ranked),
                "gt_frames_unmatched": len(self.gt.by_stamp) - len(self.gt_pairs),
                "profiles": {name: report.summary for name, report in reports.items()},
                "problems": sorted({p for r in reports.values() for p in r.problems})}

    def tracking(self) -> dict | None:
        """IDF1, ID switches, MOTA (motmetrics) over frames whose ground truth has track ids.

        None without such frames; a note instead of figures when the ranker did not track.
        """
        if self.gt is None:
            return None
        dataset = self.gt.dataset
        with_ids = [(i, f) for (i, _), f in zip(self.gt_pairs, self._gt_frames, strict=True)
                    if dataset.track_ids(i) is not None]
        if not with_ids:
            return None
        if not all(f.tracked for _, f in with_ids):
            return {"note": "the ranker did not track (track_id 0): no tracking figures"}
        from foir360_core.tracking import TrackFrame, mot_metrics

        pairs = ((TrackFrame(dataset.track_ids(i),
                             [a["segmentation"] for a in dataset.annotations(i)]),
                  TrackFrame(f.track_ids, f.rles)) for i, f in with_ids)
        return {"frames_with_gt": len(with_ids), **mot_metrics(pairs)}


@dataclass
class ReplayReport:
    """What ``foir360 replay`` prints and saves (JSON)."""

    mode: str
    bag: str
    topic: str
    out: str
    model: dict
    frames: int
    ranked: int
    rejected: dict[str, int]
    errors: int
    wall_s: float
    throughput_fps: float
    latency_ms: dict[str, dict[str, float]]
    stability: dict
    stability_raw: dict
    metrics: dict | None = None
    tracking: dict | None = None
    live: dict | None = None

    @classmethod
    def build(cls, acc: ReplayAccumulator, *, mode: str, bag: Path, topic: str, out: Path,
              model: dict, frames: int, wall_s: float, live: dict | None = None) -> ReplayReport:
        ranked = len(acc.frames)
        return cls(mode=mode, bag=str(bag), topic=topic, out=str(out), model=model,
                   frames=frames, ranked=ranked, rejected=dict(acc.rejected), errors=acc.errors,
                   wall_s=wall_s, throughput_fps=ranked / wall_s if wall_s > 0 else 0.0,
                   latency_ms=latency_summary(acc.stages_ms), stability=rank_stability(acc.frames),
                   stability_raw=rank_stability(acc.frames, raw=True),
                   metrics=acc.metrics(), tracking=acc.tracking(), live=live)

    def save(self, path: Path) -> None:
        atomic_write_text(path, json.dumps(asdict(self), indent=2, default=_jsonable))

    def text(self) -> str:
        """A human summary for the terminal."""
        lines = [
            f"replay ({self.mode}) of {self.bag} [{self.topic}] -> {self.out}",
            f"  model: {self.model.get('model_name')} {self.model.get('model_version')} on "
            f"{self.model.get('backend')}",
            f"  frames: {self.frames}, ranked: {self.ranked}, rejected: "
            f"{sum(self.rejected.values())} {self.rejected or ''}, errors: {self.errors}",
            f"  throughput: {self.throughput_fps:.2f} frames/s over {self.wall_s:.2f} s",
        ]
        lines += [f"  {stage:>8}: p50 {v['p50_ms']:.1f} ms, p95 {v['p95_ms']:.1f} ms"
                  for stage, v in self.latency_ms.items()]
        for stability in (self.stability, self.stability_raw):
            lines.append(f"  rank stability ({stability['ranks']} ranks, consecutive frames): "
                         + ", ".join(f"{k} {_fmt(v)}" for k, v in stability.items()
                                     if k not in ("iou_threshold", "ranks")))
        if self.tracking:
            lines.append("  tracking vs ground truth: " + ", ".join(
                f"{k} {_fmt(v)}" for k, v in self.tracking.items()))
        if self.live:
            lines.append("  live: " + ", ".join(f"{k} {_fmt(v)}" for k, v in self.live.items()))
        if self.metrics:
            lines.append(f"  metrics on {self.metrics['frames_with_gt']} frames with ground truth:")
            for profile, summary in self.metrics["profiles"].items():
                lines.append(f"    {profile}: " + ", ".join(
                    f"{k} {_fmt(v)}" for k, v in summary.items() if not isinstance(v, dict)))
        return "\n".join(lines)


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
