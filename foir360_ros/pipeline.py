"""One frame through the ranker: decode → ERP check → ``Ranker`` → ranked message.

The node and ``foir360 replay`` both run exactly this code; only the message classes differ
(rclpy online, rosbags offline). Bad frames raise :class:`BadFrameError`, whose ``reason``
the caller counts. With a :class:`foir360_core.tracking.Tracker` every ranked frame also goes
through it (stage ``track``), so instances carry persistent track ids and a smoothed order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from foir360_core.runtime.overlay import draw_ranked_overlay
from foir360_core.structures import PanoInstances
from foir360_core.tracking import Detections, TrackedFrame, Tracker, TrackerSettings
from foir360_ros.images import (
    Frame,
    array_to_image,
    check_erp,
    compressed_to_frame,
    image_to_frame,
)
from foir360_ros.interfaces import MessageTypes
from foir360_ros.ranked import (
    ProducerInfo,
    instances_to_msg,
    label_image,
    ranked_to_detections,
    untracked,
)

STAGES = ("decode", "pre", "infer", "post", "track", "encode")


@dataclass
class FrameResult:
    """Everything one processed frame produced; ``timings_ms`` has one entry per stage."""

    header: object
    frame: Frame
    instances: PanoInstances
    ranked: object
    tracked: TrackedFrame
    timings_ms: dict[str, float] = field(default_factory=dict)


def mask_size_for(image_hw: tuple[int, int], mask_height: int) -> tuple[int, int]:
    """Mask resolution for an image: ``mask_height`` rows at the image's aspect, never upscaled.

    ``mask_height`` <= 0 keeps the image size (full-resolution, lossless masks).
    """
    height, width = image_hw
    if mask_height <= 0 or mask_height >= height:
        return height, width
    return mask_height, max(1, round(mask_height * width / height))


def _elapsed_ms(start: float) -> float:
    return (time.perf_counter() - start) * 1e3


class RankingPipeline:
    """Wraps a ``foir360_core.runtime.Ranker`` for message-in, message-out use."""

    def __init__(self, ranker, types: MessageTypes, *, mask_height: int = 0,
                 strict_erp: bool = True, tracking: TrackerSettings | None = None) -> None:
        self.ranker = ranker
        self.types = types
        self.mask_height = mask_height
        self.strict_erp = strict_erp
        self.tracker = Tracker(tracking) if tracking is not None and tracking.tracking else None
        info = ranker.info
        self.model = ProducerInfo(
            name=str(info["model_name"]), version=str(info["model_version"]),
            class_names=tuple(str(c) for c in info["class_names"]))

    def decode(self, msg) -> Frame:
        """The pixels of an ``Image`` or ``CompressedImage`` (told apart by their fields)."""
        frame = compressed_to_frame(msg) if hasattr(msg, "format") else image_to_frame(msg)
        check_erp(frame.pixels, strict=self.strict_erp)
        return frame

    def process(self, msg) -> FrameResult:
        """Rank one input message; raises :class:`BadFrameError` on bad input."""
        start = time.perf_counter()
        frame = self.decode(msg)
        decode_ms = _elapsed_ms(start)
        image_size = frame.pixels.shape[:2]
        mask_size = mask_size_for(image_size, self.mask_height)
        instances = self.ranker.rank(frame.pixels, mask_size=mask_size, bgr=frame.bgr)
        stages = self.ranker.timings
        start = time.perf_counter()
        rles = instances.to_rle()
        _ = instances.geometry  # the message needs it too; computed once, cached, timed here
        encode_ms = _elapsed_ms(start)
        start = time.perf_counter()
        tracked = self.track(instances, rles, msg.header)
        track_ms = _elapsed_ms(start)
        start = time.perf_counter()
        ranked = instances_to_msg(self.types, msg.header, instances, image_size=image_size,
                                  model=self.model, tracked=tracked, rles=rles)
        timings = {"decode": decode_ms, "pre": stages.pre_ms, "infer": stages.infer_ms,
                   "post": stages.post_ms, "track": track_ms,
                   "encode": encode_ms + _elapsed_ms(start)}
        return FrameResult(msg.header, frame, instances, ranked, tracked, timings)

    def track(self, instances: PanoInstances, rles: list[dict], header) -> TrackedFrame:
        """Identity and published ranks of a frame's instances (per-frame ones without a tracker).

        The header stamp orders frames for the tracker's reset rules (a stamp going back resets).
        """
        if self.tracker is None:
            return untracked(instances)
        stamp = int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)
        return self.tracker.update(Detections.from_instances(instances, stamp, rles))

    def detections(self, result: FrameResult):
        """The ``vision_msgs/Detection2DArray`` companion of a result."""
        return ranked_to_detections(self.types, result.ranked)

    def label_image(self, result: FrameResult):
        """mono16 rank image at mask resolution (0 = background)."""
        labels = label_image(result.instances, result.tracked.ranks)
        return array_to_image(self.types, result.header, labels, "mono16")

    def overlay(self, result: FrameResult):
        """rgb8 debug image at source resolution."""
        instances = result.instances.with_ranks(result.tracked.ranks)
        picture = draw_ranked_overlay(result.frame.rgb(), instances)
        return array_to_image(self.types, result.header, picture, "rgb8")
