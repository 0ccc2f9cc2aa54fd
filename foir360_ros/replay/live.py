"""Live replay: publish a bag's frames at the recorded rate into a running ranker node.

Frames go out as the bag's own serialised bytes (headers untouched) with reliable QoS, which
every subscriber accepts; what the node publishes is recorded raw into the output bag at the
bag timestamp of the frame it answers (matched by header stamp). End-to-end latency is
receive time − publish time on this machine's monotonic clock; frames the node skipped
(latest-frame policy) or lost are the drops.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from foir360_ros.interfaces import rclpy_types, rosbags_typestore
from foir360_ros.replay.bags import ReplayError, image_connections, open_bag, open_writer
from foir360_ros.replay.offline import RANKED
from foir360_ros.replay.report import ReplayAccumulator, ReplayReport

DISCOVERY_TIMEOUT_S = 15.0


def _stamp_ns(stamp) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


class _Recorder:
    """Receives the node's raw ranked messages and writes them to the output bag."""

    def __init__(self, writer, connection, acc: ReplayAccumulator, sent: dict[int, tuple]):
        self.writer, self.connection, self.acc, self.sent = writer, connection, acc, sent
        self.lock = threading.Lock()
        self.latency_ms: list[float] = []
        self.received = 0
        self.unmatched = 0
        self.last_receive = time.monotonic()

    def __call__(self, raw: bytes) -> None:
        now = time.monotonic()
        msg = rosbags_typestore().deserialize_cdr(raw, RANKED)
        with self.lock:
            self.received += 1
            self.last_receive = now
            match = self.sent.get(_stamp_ns(msg.header.stamp))
            if match is None:  # another publisher's frame, or a stamp we never sent
                self.unmatched += 1
                return
            bag_timestamp, sent_at = match
            self.latency_ms.append((now - sent_at) * 1e3)
            self.writer.write(self.connection, bag_timestamp, raw)
            self.acc.ranked(msg, {})


def replay_live(
    bag: Path,
    topic: str,
    out: Path,
    *,
    acc: ReplayAccumulator,
    storage: str = "mcap",
    publish_topic: str | None = None,
    ranked_topic: str = "/foir360_ranker/ranked_instances",
    rate: float = 1.0,
    settle_s: float = 3.0,
) -> ReplayReport:
    """Publish ``topic`` of ``bag`` (to ``publish_topic``, default the same name) into a node."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    if rate <= 0:
        raise ReplayError(f"--rate must be positive, got {rate}")
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        with open_bag(bag) as reader:
            connections = image_connections(reader, topic)
            types = rclpy_types()
            node = rclpy.create_node("foir360_replay", context=context)
            msgtype = connections[0].msgtype
            publisher = node.create_publisher(
                types[msgtype], publish_topic or topic,
                QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
            writer = open_writer(out, storage)
            writer.open()
            sent: dict[int, tuple] = {}
            recorder = _Recorder(writer, writer.add_connection(
                ranked_topic, RANKED, typestore=rosbags_typestore()), acc, sent)
            node.create_subscription(types[RANKED], ranked_topic, recorder,
                                     QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE),
                                     raw=True)
            executor = SingleThreadedExecutor(context=context)
            executor.add_node(node)
            spinner = threading.Thread(target=executor.spin, daemon=True)
            spinner.start()
            try:
                _wait_for_node(node, publisher, ranked_topic)
                start = time.perf_counter()
                published = _publish(reader, connections, publisher, recorder, rate)
                _settle(recorder, published, settle_s)
                wall_s = time.perf_counter() - start
            finally:
                executor.shutdown()
                spinner.join(timeout=5.0)
                with recorder.lock:
                    writer.close()
                node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
    live = {
        "published": published,
        "received": recorder.received,
        "dropped": published - (recorder.received - recorder.unmatched),
        "unmatched": recorder.unmatched,
        "rate": rate,
        "e2e_latency_p50_ms": float(np.percentile(recorder.latency_ms, 50))
        if recorder.latency_ms else None,
        "e2e_latency_p95_ms": float(np.percentile(recorder.latency_ms, 95))
        if recorder.latency_ms else None,
    }
    return ReplayReport.build(acc, mode="live", bag=bag, topic=topic, out=out,
                              model={"model_name": "(the running node's)", "model_version": "",
                                     "backend": "(see its diagnostics)"},
                              frames=published, wall_s=wall_s, live=live)


def _wait_for_node(node, publisher, ranked_topic: str) -> None:
    deadline = time.monotonic() + DISCOVERY_TIMEOUT_S
    while time.monotonic() < deadline:
        if publisher.get_subscription_count() and node.count_publishers(ranked_topic):
            return
        time.sleep(0.05)
    raise ReplayError(
        f"no ranker node found within {DISCOVERY_TIMEOUT_S:.0f} s: {publisher.topic_name} has "
        f"{publisher.get_subscription_count()} subscribers and {ranked_topic} "
        f"{node.count_publishers(ranked_topic)} publishers. Start one first, e.g. "
        f"`ros2 run foir360 ranker_node --ros-args -p image_topic:={publisher.topic_name}` with "
        "the same ROS_DOMAIN_ID, and pass --ranked-topic if it publishes elsewhere")


def _publish(reader, connections, publisher, recorder: _Recorder, rate: float) -> int:
    """Publish every frame at the bag's pace (scaled by ``rate``); returns how many."""
    typestore = rosbags_typestore()
    first_bag_ts, start, count = None, time.monotonic(), 0
    total = sum(c.msgcount for c in connections)
    for connection, timestamp, raw in tqdm(reader.messages(connections=connections),
                                           total=total, unit="frame", desc="live replay"):
        if first_bag_ts is None:
            first_bag_ts = timestamp
        delay = start + (timestamp - first_bag_ts) / 1e9 / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        header = typestore.deserialize_cdr(raw, connection.msgtype).header
        with recorder.lock:
            recorder.sent[_stamp_ns(header.stamp)] = (timestamp, time.monotonic())
        publisher.publish(bytes(raw))
        count += 1
    return count


def _settle(recorder: _Recorder, published: int, settle_s: float) -> None:
    """Wait until every frame is answered or nothing arrived for ``settle_s`` seconds."""
    with recorder.lock:
        recorder.last_receive = time.monotonic()  # count quiet time from the last publish
    while True:
        with recorder.lock:
            done = recorder.received - recorder.unmatched >= published
            quiet = time.monotonic() - recorder.last_receive
        if done or quiet > settle_s:
            return
        time.sleep(0.05)
