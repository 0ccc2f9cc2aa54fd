"""Per-stage latency counters (pre-processing, inference, post-processing).

A node reports these in its diagnostics and the benchmark summarises them, so they are kept
as plain milliseconds with a bounded history (a robot runs for days).
"""

from __future__ import annotations

import time
from collections import deque
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np

STAGES = ("pre", "infer", "post")


@dataclass(frozen=True)
class StageTimings:
    """Wall-clock milliseconds of one ``Ranker.rank`` call, per stage."""

    pre_ms: float = 0.0
    infer_ms: float = 0.0
    post_ms: float = 0.0

    @property
    def total_ms(self) -> float:
        return self.pre_ms + self.infer_ms + self.post_ms

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "total_ms": self.total_ms}


class LatencyCounter:
    """Times the stages of one call and keeps the last ``history`` calls for percentiles."""

    def __init__(self, history: int = 256) -> None:
        self._history: deque[StageTimings] = deque(maxlen=history)
        self._current: dict[str, float] = {}
        self.calls = 0

    @contextmanager
    def stage(self, name: str):
        """Time one stage of the call in progress (``name`` in ``STAGES``)."""
        if name not in STAGES:
            raise ValueError(f"unknown stage {name!r}; expected one of {STAGES}")
        start = time.perf_counter()
        try:
            yield
        finally:
            self._current[name] = (time.perf_counter() - start) * 1e3

    def finish(self) -> StageTimings:
        """Close the call in progress and record it."""
        timings = StageTimings(**{f"{k}_ms": v for k, v in self._current.items()})
        self._current = {}
        self._history.append(timings)
        self.calls += 1
        return timings

    @property
    def last(self) -> StageTimings | None:
        return self._history[-1] if self._history else None

    def summary(self) -> dict[str, dict[str, float]]:
        """p50 / p95 / mean of each stage and of the total over the kept history."""
        if not self._history:
            return {}
        table = np.array(
            [[t.pre_ms, t.infer_ms, t.post_ms, t.total_ms] for t in self._history]
        )
        out = {}
        for column, name in enumerate((*STAGES, "total")):
            values = table[:, column]
            out[name] = {
                "p50_ms": float(np.percentile(values, 50)),
                "p95_ms": float(np.percentile(values, 95)),
                "mean_ms": float(values.mean()),
            }
        out["calls"] = {"count": float(self.calls), "kept": float(len(self._history))}
        return out
