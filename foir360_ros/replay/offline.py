"""Offline replay: rank every frame of a bag with the node's own code, no ROS runtime needed."""

from __future__ import annotations

import time
from pathlib import Path

from tqdm import tqdm

from foir360_core.tracking import TrackerSettings
from foir360_ros.images import BadFrameError
from foir360_ros.interfaces import DETECTIONS, rosbags_types, rosbags_typestore
from foir360_ros.pipeline import RankingPipeline
from foir360_ros.replay.bags import image_connections, open_bag, open_writer
from foir360_ros.replay.report import ReplayAccumulator, ReplayReport

RANKED = "foir360/msg/RankedInstanceArray"
IMAGE = "sensor_msgs/msg/Image"


def output_topics(prefix: str) -> dict[str, str]:
    """Topic names written to the output bag: the node's own output names under ``prefix``."""
    prefix = prefix.rstrip("/")
    return {"ranked": f"{prefix}/ranked_instances", "overlay": f"{prefix}/overlay",
            "detections": f"{prefix}/detections"}


def replay_offline(
    bag: Path,
    topic: str,
    out: Path,
    ranker,
    *,
    acc: ReplayAccumulator,
    storage: str = "mcap",
    mask_height: int = 512,
    strict_erp: bool = True,
    overlay: bool = False,
    detections: bool = False,
    topic_prefix: str = "/foir360_ranker",
    tracking: TrackerSettings | None = None,
) -> ReplayReport:
    """Rank ``topic`` of ``bag`` into the new bag ``out``, keeping each frame's bag timestamp.

    ``tracking`` (default: the node's default settings, tracking on) tracks frames in bag order
    exactly as the node does; ``TrackerSettings(tracking=False)`` ranks every frame alone.
    """
    typestore = rosbags_typestore()
    pipeline = RankingPipeline(ranker, rosbags_types(typestore), mask_height=mask_height,
                               strict_erp=strict_erp,
                               tracking=tracking if tracking is not None else TrackerSettings())
    names = output_topics(topic_prefix)
    with open_bag(bag) as reader:
        connections = image_connections(reader, topic)
        total = sum(c.msgcount for c in connections)
        writer = open_writer(out, storage)
        writer.open()
        try:
            outputs = {"ranked": writer.add_connection(names["ranked"], RANKED,
                                                       typestore=typestore)}
            if overlay:
                outputs["overlay"] = writer.add_connection(names["overlay"], IMAGE,
                                                           typestore=typestore)
            if detections:
                outputs["detections"] = writer.add_connection(names["detections"], DETECTIONS,
                                                              typestore=typestore)
            rank_one = _Ranking(reader, pipeline, writer, outputs, acc)
            start = time.perf_counter()
            messages = reader.messages(connections=connections)
            for connection, timestamp, raw in tqdm(messages, total=total, unit="frame",
                                                   desc="replay"):
                rank_one(connection, timestamp, raw)
            wall_s = time.perf_counter() - start
        finally:
            writer.close()
    return ReplayReport.build(acc, mode="offline", bag=bag, topic=topic, out=out,
                              model=pipeline.ranker.info, frames=total, wall_s=wall_s)


class _Ranking:
    """One offline run's state: rank a bag message, write its outputs, count bad frames."""

    def __init__(self, reader, pipeline: RankingPipeline, writer, outputs: dict,
                 acc: ReplayAccumulator) -> None:
        self.reader, self.pipeline, self.writer = reader, pipeline, writer
        self.outputs, self.acc = outputs, acc
        self.typestore = rosbags_typestore()

    def __call__(self, connection, timestamp: int, raw) -> None:
        try:
            msg = self.reader.deserialize(raw, connection.msgtype)
        except Exception as err:  # rosbags raises assorted errors on corrupt CDR
            self.acc.reject("deserialize", f"message at {timestamp} ns does not deserialise: "
                            f"{err!r}")
            return
        try:
            result = self.pipeline.process(msg)
        except BadFrameError as err:
            self.acc.reject(err.reason, str(err))
            return
        except Exception as err:  # like the node: one failing frame must not end a long replay
            self.acc.fail(f"ranking the frame at {timestamp} ns failed: {err!r}")
            return
        start = time.perf_counter()
        self._write("ranked", timestamp, result.ranked, RANKED)
        if "overlay" in self.outputs:
            self._write("overlay", timestamp, self.pipeline.overlay(result), IMAGE)
        if "detections" in self.outputs:
            self._write("detections", timestamp, self.pipeline.detections(result), DETECTIONS)
        write_ms = (time.perf_counter() - start) * 1e3
        self.acc.ranked(result.ranked, {**result.timings_ms, "write": write_ms})

    def _write(self, output: str, timestamp: int, msg, msgtype: str) -> None:
        self.writer.write(self.outputs[output], timestamp,
                          self.typestore.serialize_cdr(msg, msgtype))
