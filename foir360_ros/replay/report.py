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
    """A foir360 dataset whose images carry ``stamp_ns`` (the frame's header stamp)."""

    def __init__(self, path: Path) -> None:
        from foir360_core.io import Dataset

        self.dataset = Dataset.load(path)
        self.by_stamp: dict[int, int] = {}
        for record in self.dataset.images:
            if "stamp_ns" in record.extra and self.dataset.has_ranks(record.id):
                self.by_stamp[int(record.extra["stamp_ns"])] = record.id
        if not self.by_stamp:
            from foir360_ros.replay.bags import ReplayError

            raise ReplayError(
                f"{path} has no ranked image with a 'stamp_ns' entry; ground truth for a bag is "
                "keyed by each frame's header stamp in nanoseconds (images[].stamp_ns)")


@dataclass
class ReplayAccumulator:
    """Collects what a replay run produced, frame by frame, and turns it into a report."""

    gt: GroundTruth | None = None
    rejected: Counter = field(default_factory=Counter)
    errors: int = 0
    stages_ms: dict[str, list[float]] = field(default_factory=dict)
    frames: list[RankedFrame] = field(default_factory=list)
    gt_pairs: list[tuple[int, object]] = field(default_factory=list)

    def ranked(self, msg, stage_ms: dict[str, float]) -> None:
        """One ranked message (and the milliseconds each stage took for it)."""
        for stage, value in stage_ms.items():
            self.stages_ms.setdefault(stage, []).append(value)
        self.frames.append(RankedFrame.from_msg(msg))
        if self.gt is not None:
            stamp = msg.header.stamp
            image_id = self.gt.by_stamp.get(int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec))
            if image_id is not None:
                self.gt_pairs.append((image_id, msg))

    def reject(self, reason: str, message: str) -> None:
        if not self.rejected[reason]:
            log.warning("rejected a frame (%s): %s", reason, message)
        self.rejected[reason] += 1

    def fail(self, message: str) -> None:
        if not self.errors:
            log.error("%s", message)
        self.errors += 1

    def metrics(self) -> dict | None:
        """Every metrics profile over the frames that have ground truth, in one pass."""
        if self.gt is None:
            return None
        from foir360_core.metrics import ALL_PROFILES, evaluate_many

        dataset = self.gt.dataset
        samples = ((dataset.record(i).file_name, dataset.instances(i), msg_to_instances(m))
                   for i, m in self.gt_pairs)
        reports = evaluate_many(samples, ALL_PROFILES)
        return {"frames_with_gt": len(self.gt_pairs),
                "gt_frames_unmatched": len(self.gt.by_stamp) - len(self.gt_pairs),
                "profiles": {name: report.summary for name, report in reports.items()},
                "problems": sorted({p for r in reports.values() for p in r.problems})}


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
    metrics: dict | None = None
    live: dict | None = None

    @classmethod
    def build(cls, acc: ReplayAccumulator, *, mode: str, bag: Path, topic: str, out: Path,
              model: dict, frames: int, wall_s: float, live: dict | None = None) -> ReplayReport:
        ranked = len(acc.frames)
        return cls(mode=mode, bag=str(bag), topic=topic, out=str(out), model=model,
                   frames=frames, ranked=ranked, rejected=dict(acc.rejected), errors=acc.errors,
                   wall_s=wall_s, throughput_fps=ranked / wall_s if wall_s > 0 else 0.0,
                   latency_ms=latency_summary(acc.stages_ms), stability=rank_stability(acc.frames),
                   metrics=acc.metrics(), live=live)

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
        lines.append("  rank stability (consecutive frames): " + ", ".join(
            f"{k} {_fmt(v)}" for k, v in self.stability.items() if k != "iou_threshold"))
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
