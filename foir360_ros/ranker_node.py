"""The foir360 ranker node: ERP frames in, importance-ranked instances out.

Latest-frame policy: the subscription callback only parks the newest message in a one-slot
mailbox (a frame it replaces is counted as dropped) and a worker thread ranks whatever is
newest, so latency never grows and memory stays flat however fast the camera publishes.
The model is loaded (and a TensorRT engine built, via the runtime's cache) before the node
subscribes, with progress in the log. ``ros2 run foir360 ranker_node`` runs :func:`main`.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import asdict
from typing import Any

import rclpy
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSCompatibility,
    QoSProfile,
    ReliabilityPolicy,
    qos_check_compatible,
)

from foir360_core.settings import RankerSettings, SettingsError
from foir360_core.tracking import TrackerSettings
from foir360_ros.diagnostics import NodeStats, diagnostic_array
from foir360_ros.images import BadFrameError
from foir360_ros.interfaces import DETECTIONS, rclpy_types
from foir360_ros.node_settings import RankerNodeSettings
from foir360_ros.parameters import declare_settings, read_settings
from foir360_ros.pipeline import RankingPipeline

NODE_NAME = "foir360_ranker"
# Every parameter is generated from these settings classes (same names and defaults as the
# CLI's flags); config/foir360.yaml lists them all.
SETTINGS_CLASSES = (RankerNodeSettings, RankerSettings, TrackerSettings)
RELIABILITY = {"best_effort": ReliabilityPolicy.BEST_EFFORT, "reliable": ReliabilityPolicy.RELIABLE}


class StartupError(RuntimeError):
    """A parameter is invalid or the model cannot be loaded; the node does not start."""


class _RosLogHandler(logging.Handler):
    """Forwards ``foir360_core`` log records (model loading, engine builds) to the node's log."""

    def __init__(self, node: Node) -> None:
        super().__init__()
        self._logger = node.get_logger()

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        if record.levelno >= logging.ERROR:
            self._logger.error(text)
        elif record.levelno >= logging.WARNING:
            self._logger.warning(text)
        else:
            self._logger.info(text)


def _qos(reliability: str, depth: int) -> QoSProfile:
    if reliability not in RELIABILITY:
        raise StartupError(f"reliability '{reliability}' is not one of {sorted(RELIABILITY)}")
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=max(1, depth),
                      reliability=RELIABILITY[reliability], durability=DurabilityPolicy.VOLATILE)


def _describe_qos(qos: QoSProfile, *, local: bool = True) -> str:
    """Reliability and durability (what decides matching); history and depth only for our own
    profile, since discovery does not carry them for remote endpoints."""
    text = f"reliability={qos.reliability.name.lower()}, durability={qos.durability.name.lower()}"
    return f"{text}, history={qos.history.name.lower()}, depth={qos.depth}" if local else text


class RankerNode(Node):
    """Ranks every newest ERP frame and publishes ranked instances, detections, diagnostics.

    ``ranker`` lets a caller (a test, the benchmark) hand over an already built
    ``foir360_core.runtime.Ranker``; by default the node builds one from its parameters.
    """

    def __init__(self, ranker=None, **node_kwargs) -> None:
        super().__init__(NODE_NAME, **node_kwargs)
        # what destroy_node touches exists before anything can fail
        self._mailbox: Any = None
        self._mailbox_cv = threading.Condition()
        self._stopping = False
        self._worker: threading.Thread | None = None
        self._log_handler: _RosLogHandler | None = None
        self.ranker_settings, self.node_settings, self.tracker_settings = self._read_parameters()
        self.p = {**asdict(self.node_settings), **asdict(self.ranker_settings)}
        self.types = rclpy_types()
        self.stats = NodeStats()
        self._log_handler = _RosLogHandler(self)
        logging.getLogger("foir360_core").addHandler(self._log_handler)
        logging.getLogger("foir360_core").setLevel(logging.INFO)
        self.pipeline = RankingPipeline(
            ranker if ranker is not None else self._load_ranker(), self.types,
            mask_height=int(self.p["mask_height"]), strict_erp=bool(self.p["strict_erp"]),
            tracking=self.tracker_settings)
        self.backend = str(self.pipeline.ranker.info.get("backend", "unknown"))
        if self.p["warmup"]:
            self._warm_up()
        self._create_publishers()
        self._silence_warned = False
        self._started = self.get_clock().now()
        self._worker = threading.Thread(target=self._work, name="foir360-ranker", daemon=True)
        self._worker.start()
        self._subscribe()
        self.create_timer(float(self.p["diagnostics_period"]), self._publish_diagnostics)
        self.create_timer(1.0, self._watch_silence)

    # --- start-up ---------------------------------------------------------------------------
    def _read_parameters(self) -> tuple[RankerSettings, RankerNodeSettings, TrackerSettings]:
        """Declare and read every parameter; a bad one stops the start, named, with its type."""
        for cls in SETTINGS_CLASSES:
            declare_settings(self, cls)
        try:
            return tuple(read_settings(self, cls) for cls in (
                RankerSettings, RankerNodeSettings, TrackerSettings))
        except SettingsError as err:
            raise StartupError(f"invalid parameters: {err}") from None

    def _load_ranker(self):
        from foir360_core.runtime import Ranker

        model = self.p["model"] or None
        note = ("; a first TensorRT run builds and caches an engine, which can take minutes"
                if self.p["backend"] in ("auto", "tensorrt") else "")
        self.get_logger().info(
            f"loading model {model or '(shipped default)'} with backend '{self.p['backend']}'"
            f"{note}")
        start = time.monotonic()
        try:
            ranker = Ranker(settings=self.ranker_settings)
        except Exception as err:
            raise StartupError(
                f"cannot load model {model or '(shipped default)'} with backend "
                f"'{self.p['backend']}': {err}. Check the 'model' parameter (empty = the shipped "
                "model) and the backend; allow_fallback:=true lets auto/tensorrt fall back to "
                "another backend") from err
        info = ranker.info
        self.get_logger().info(
            f"model {info['model_name']} {info['model_version']} ready on {info['backend']} in "
            f"{time.monotonic() - start:.1f} s (input {info['input_size']}, "
            f"{len(info['class_names'])} classes)")
        return ranker

    def _warm_up(self) -> None:
        start = time.monotonic()
        self.pipeline.ranker.warmup()
        self.get_logger().info(f"warm-up frame ranked in {time.monotonic() - start:.2f} s")

    def _create_publishers(self) -> None:
        image = self.types["sensor_msgs/msg/Image"]
        qos = _qos(str(self.p["output_reliability"]), int(self.p["output_depth"]))
        self.ranked_pub = self.create_publisher(
            self.types["foir360/msg/RankedInstanceArray"], "~/ranked_instances", qos)
        self.detections_pub = None
        if self.p["publish_detections"]:
            if self.types.available(DETECTIONS):
                self.detections_pub = self.create_publisher(
                    self.types[DETECTIONS], "~/detections", qos)
            else:
                self.get_logger().info(
                    "vision_msgs is not installed: ~/detections is not published "
                    "(install ros-$ROS_DISTRO-vision-msgs to get it)")
        self.label_pub = (self.create_publisher(image, "~/label_image", qos)
                          if self.p["publish_label_image"] else None)
        self.overlay_pub = (self.create_publisher(image, "~/overlay", qos)
                            if self.p["publish_overlay"] else None)
        self.diagnostics_pub = self.create_publisher(
            self.types["diagnostic_msgs/msg/DiagnosticArray"], "/diagnostics", 10)

    def _subscribe(self) -> None:
        topic = str(self.p["image_topic"])
        msg_type = self.types["sensor_msgs/msg/Image"]
        if self.p["compressed"]:
            msg_type = self.types["sensor_msgs/msg/CompressedImage"]
            if not topic.endswith("/compressed"):
                topic = f"{topic}/compressed"
        self.input_qos = _qos(str(self.p["input_reliability"]), int(self.p["input_depth"]))
        events = SubscriptionEventCallbacks(incompatible_qos=self._on_incompatible_qos,
                                            incompatible_type=self._on_incompatible_type)
        self.subscription = self.create_subscription(
            msg_type, topic, self._on_frame, self.input_qos, event_callbacks=events)
        self.get_logger().info(
            f"ranking {msg_type.__name__} frames from {self.subscription.topic_name} "
            f"({_describe_qos(self.input_qos)})")

    # --- input ------------------------------------------------------------------------------
    def _on_frame(self, msg) -> None:
        with self._mailbox_cv:
            replaced = self._mailbox is not None
            self._mailbox = msg
            self._mailbox_cv.notify()
        self.stats.frame_received(replaced_pending=replaced)
        self._silence_warned = False

    def _work(self) -> None:
        while True:
            with self._mailbox_cv:
                while self._mailbox is None and not self._stopping:
                    self._mailbox_cv.wait()
                if self._stopping:
                    return
                msg, self._mailbox = self._mailbox, None
            self._handle(msg)

    def _handle(self, msg) -> None:
        try:
            result = self.pipeline.process(msg)
        except BadFrameError as err:
            self.stats.frame_rejected(err.reason)
            self.get_logger().warning(f"rejected a frame: {err}", throttle_duration_sec=5.0)
            return
        except Exception as err:  # a failing inference must never take the node down
            self.stats.frame_failed()
            self.get_logger().error(f"ranking failed: {err!r}", throttle_duration_sec=5.0)
            return
        start = time.perf_counter()
        self.ranked_pub.publish(result.ranked)
        if self.detections_pub is not None:
            self.detections_pub.publish(self.pipeline.detections(result))
        publish_ms = (time.perf_counter() - start) * 1e3
        stamp = msg.header.stamp
        now_ns = self.get_clock().now().nanoseconds
        latency_ms = (now_ns - (stamp.sec * 1_000_000_000 + stamp.nanosec)) / 1e6
        self.stats.frame_done({**result.timings_ms, "publish": publish_ms}, latency_ms)
        # Debug pictures only after the answer is out and counted: the overlay (~110 ms at
        # 2048x1024) must not delay the ranked message nor inflate its reported latency.
        if self.label_pub is not None and self.label_pub.get_subscription_count():
            self.label_pub.publish(self.pipeline.label_image(result))
        if self.overlay_pub is not None and self.overlay_pub.get_subscription_count():
            self.overlay_pub.publish(self.pipeline.overlay(result))

    # --- watchdogs --------------------------------------------------------------------------
    def _on_incompatible_qos(self, event) -> None:
        self.get_logger().error(
            f"a publisher on {self.subscription.topic_name} has a QoS incompatible with this "
            f"subscription ({_describe_qos(self.input_qos)}), last policy: "
            f"{event.last_policy_kind.name}; set input_reliability to match it")

    def _on_incompatible_type(self, _event) -> None:
        self.get_logger().error(
            f"a publisher on {self.subscription.topic_name} uses another message type; "
            "for sensor_msgs/CompressedImage set compressed:=true, for Image set it false")

    def _watch_silence(self) -> None:
        silence = self.stats.seconds_since_input()
        limit = float(self.p["no_input_warning_s"])
        if self._silence_warned or (silence is not None and silence < limit):
            return
        if silence is None and self._uptime() < limit:
            return
        self._silence_warned = True
        self.get_logger().warning(self.silence_report())

    def _uptime(self) -> float:
        return (self.get_clock().now() - self._started).nanoseconds / 1e9

    def silence_report(self) -> str:
        """Why no frame may be arriving: every publisher seen on the topic with its QoS."""
        topic = self.subscription.topic_name
        publishers = self.get_publishers_info_by_topic(topic)
        lines = [f"no frame received on {topic} for {self.p['no_input_warning_s']} s; "
                 f"this subscription: {_describe_qos(self.input_qos)}"]
        if not publishers:
            lines.append("no publisher on this topic: check image_topic, the namespace and "
                         "remaps (ros2 topic list)")
        for info in publishers:
            compatible, reason = qos_check_compatible(info.qos_profile, self.input_qos)
            verdict = {QoSCompatibility.OK: "compatible",
                       QoSCompatibility.WARNING: f"probably compatible ({reason.strip()})"}.get(
                compatible, f"MISMATCH: {reason.strip()}")
            lines.append(f"publisher {info.node_namespace.rstrip('/')}/{info.node_name} "
                         f"[{info.topic_type}] {_describe_qos(info.qos_profile, local=False)}: "
                         f"{verdict}")
        return "\n  ".join(lines)

    def _publish_diagnostics(self) -> None:
        info = self.pipeline.model
        report = self.stats.report(model=f"{info.name} {info.version}", backend=self.backend,
                                   silence_s=float(self.p["no_input_warning_s"]))
        self.diagnostics_pub.publish(diagnostic_array(
            self.types, self.get_clock().now().to_msg(),
            name=f"{self.get_fully_qualified_name()}: ranking",
            hardware_id=self.backend, report=report))

    def destroy_node(self) -> None:
        """Stop the worker and detach the log handler; safe on a node whose start failed
        (rclpy's shutdown destroys every node of the context, half-built ones too)."""
        with self._mailbox_cv:
            self._stopping = True
            self._mailbox_cv.notify()
        if self._worker is not None:
            self._worker.join(timeout=10.0)
        if self._log_handler is not None:
            logging.getLogger("foir360_core").removeHandler(self._log_handler)
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Entry point of ``ros2 run foir360 ranker_node``."""
    rclpy.init(args=args)
    node = None
    try:
        node = RankerNode()
        rclpy.spin(node)
    except StartupError as err:
        rclpy.logging.get_logger(NODE_NAME).fatal(str(err))
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
