"""Node statistics and their ``diagnostic_msgs/DiagnosticArray`` form (plain code, no rclpy).

The subscription callback, the worker thread and the diagnostics timer all touch the counters,
so :class:`NodeStats` guards them with one lock. Histories are bounded: a robot runs for days.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass

import numpy as np

from foir360_ros.interfaces import MessageTypes

OK, WARN, ERROR = 0, 1, 2
HISTORY = 200


class RateMeter:
    """Events per second over the last ``window_s`` seconds (or since ``start`` if shorter)."""

    def __init__(self, window_s: float, start: float) -> None:
        self.window_s = window_s
        self._start = start
        self._times: deque[float] = deque()

    def tick(self, now: float) -> None:
        self._times.append(now)
        self._trim(now)

    def rate(self, now: float) -> float:
        self._trim(now)
        span = min(self.window_s, now - self._start)
        return len(self._times) / span if span > 0 else 0.0

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > self.window_s:
            self._times.popleft()


@dataclass(frozen=True)
class StatusReport:
    """One diagnostics snapshot: level, a one-line message and key/value pairs."""

    level: int
    message: str
    values: dict[str, str]


class NodeStats:
    """Counters of the ranker node: received, processed, dropped, rejected, errors, timings."""

    def __init__(self, window_s: float = 5.0) -> None:
        self._lock = threading.Lock()
        self.received = 0
        self.processed = 0
        self.dropped = 0
        self.lost = 0
        self.errors = 0
        self.rejected: Counter[str] = Counter()
        start = time.monotonic()
        self._input = RateMeter(window_s, start)
        self._output = RateMeter(window_s, start)
        self._latency_ms: deque[float] = deque(maxlen=HISTORY)
        self._stage_ms: dict[str, deque[float]] = {}
        self._last_input: float | None = None
        self._reported_rejections = 0
        self._reported_lost = 0

    def frame_received(self, *, replaced_pending: bool) -> None:
        """A frame arrived; ``replaced_pending`` means the previous one was never processed."""
        now = time.monotonic()
        with self._lock:
            self.received += 1
            self.dropped += int(replaced_pending)
            self._input.tick(now)
            self._last_input = now

    def frames_lost(self, count: int) -> None:
        """DDS reported ``count`` more frames that never arrived (rclpy's message_lost)."""
        with self._lock:
            self.lost += count

    def frame_rejected(self, reason: str) -> None:
        with self._lock:
            self.rejected[reason] += 1

    def frame_failed(self) -> None:
        with self._lock:
            self.errors += 1

    def frame_done(self, stage_ms: dict[str, float], latency_ms: float) -> None:
        """A frame was published; ``latency_ms`` = publish time - header stamp."""
        with self._lock:
            self.processed += 1
            self._output.tick(time.monotonic())
            self._latency_ms.append(latency_ms)
            for stage, value in stage_ms.items():
                self._stage_ms.setdefault(stage, deque(maxlen=HISTORY)).append(value)

    def stage_medians(self) -> dict[str, float]:
        """Median milliseconds of each stage (decode, pre, infer, post, encode, publish)."""
        with self._lock:
            return self._medians()

    def _medians(self) -> dict[str, float]:
        return {stage: float(np.median(v)) for stage, v in self._stage_ms.items() if v}

    def seconds_since_input(self) -> float | None:
        """Seconds since the last frame, or None if none ever came."""
        with self._lock:
            return None if self._last_input is None else time.monotonic() - self._last_input

    def report(self, *, model: str, backend: str, silence_s: float) -> StatusReport:
        """Snapshot for diagnostics; WARN on silence longer than ``silence_s``, inference
        errors, frames lost in transport or rejected since the last report."""
        now = time.monotonic()
        with self._lock:
            rejected_total = sum(self.rejected.values())
            values = {
                "frames received": str(self.received),
                "frames processed": str(self.processed),
                "frames dropped (busy)": str(self.dropped),
                "frames lost in transport": str(self.lost),
                "frames rejected": str(rejected_total),
                **{f"rejected: {k}": str(v) for k, v in sorted(self.rejected.items())},
                "inference errors": str(self.errors),
                "input rate (Hz)": f"{self._input.rate(now):.2f}",
                "output rate (Hz)": f"{self._output.rate(now):.2f}",
                "latency from stamp (ms, median)": _median(self._latency_ms),
                **{f"{stage} (ms, median)": f"{v:.2f}" for stage, v in self._medians().items()},
                "backend": backend,
                "model": model,
            }
            silent = self._last_input is None or now - self._last_input > silence_s
            new_rejections = rejected_total - self._reported_rejections
            self._reported_rejections = rejected_total
            new_lost = self.lost - self._reported_lost
            self._reported_lost = self.lost
            errors = self.errors
        if silent:
            return StatusReport(WARN, f"no input frame for more than {silence_s:.0f} s", values)
        if errors:
            return StatusReport(WARN, f"{errors} inference errors so far (see the log)", values)
        if new_lost:
            return StatusReport(WARN, f"{new_lost} frames lost in transport since the last "
                                "report (see the log for the fix)", values)
        if new_rejections:
            return StatusReport(WARN, f"{new_rejections} frames rejected since the last "
                                "report (see the log)", values)
        return StatusReport(OK, "ranking", values)


def _median(values: deque[float]) -> str:
    return f"{float(np.median(values)):.2f}" if values else "n/a"


def diagnostic_array(types: MessageTypes, stamp, *, name: str, hardware_id: str,
                     report: StatusReport):
    """A ``DiagnosticArray`` with one status (``level`` is a byte in rclpy, an int in rosbags)."""
    key_value = types["diagnostic_msgs/msg/KeyValue"]
    level = report.level if types.numpy_arrays else bytes([report.level])
    status = types["diagnostic_msgs/msg/DiagnosticStatus"](
        level=level, name=name, message=report.message, hardware_id=hardware_id,
        values=[key_value(key=k, value=v) for k, v in report.values.items()],
    )
    header = types["std_msgs/msg/Header"](stamp=stamp, frame_id="")
    return types["diagnostic_msgs/msg/DiagnosticArray"](header=header, status=[status])
