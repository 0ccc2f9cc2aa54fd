"""Shared pieces of the ROS 2 tests: real rclpy on loopback DDS, a tiny real PanoRank model.

Every module runs its nodes in its own ``rclpy.Context`` on its own ROS_DOMAIN_ID, with the
project's loopback Fast DDS profile, so parallel runs on one machine never talk to each other.
"""

from __future__ import annotations

import os
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
# DDS stays on loopback in every test, whatever the calling shell says.
os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = str(REPO / "config" / "fastdds_loopback.xml")
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")

try:
    import rclpy  # noqa: F401
    from foir360.msg import RankedInstanceArray  # noqa: F401

    ROS_MISSING = ""
except ImportError as err:
    ROS_MISSING = (f"ROS 2 or the foir360 interfaces are not importable ({err}); run `make "
                   "interfaces` and the tests with the Makefile's ROS_ENV (`make test`)")

ros = [pytest.mark.ros, pytest.mark.skipif(bool(ROS_MISSING), reason=ROS_MISSING)]

try:
    import launch_testing  # noqa: F401
    import vision_msgs.msg  # noqa: F401

    LAUNCH_MISSING = ROS_MISSING
except ImportError as err:
    LAUNCH_MISSING = (f"launch_testing or vision_msgs is not importable ({err}): `make test` "
                      "installs them from ../shared/ros (see its LAUNCH-HERE.md); without that "
                      "folder the launch tests skip")


ROBOT_INSTALL = REPO / "tests" / "ros" / "robot_install"
# foir360's declared dependencies that the README's robot install does not install
ROBOT_LEAVES_OUT = "torch,torchvision,onnx,rosbags,matplotlib,safetensors"


def robot_install_env() -> dict[str, str]:
    """Environment of a child Python that cannot import what the README's robot install
    leaves out (see robot_install/sitecustomize.py)."""
    path = os.pathsep.join(filter(None, [str(ROBOT_INSTALL), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "FOIR360_BLOCKED_MODULES": ROBOT_LEAVES_OUT}


def domain_id(module: str) -> int:
    """A ROS_DOMAIN_ID for one test module and process, in 100..199 (clear of common ones)."""
    return 100 + zlib.crc32(f"{module}:{os.getpid()}".encode()) % 100


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` until true; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def tiny_checkpoint(path: Path) -> Path:
    """A real, untrained, tiny PanoRank checkpoint (64x128 input): fast on two CPU cores."""
    import torch

    from foir360_core.models import build_model
    from foir360_core.models.checkpoint import save_checkpoint
    from foir360_core.models.config import load_config

    torch.manual_seed(0)
    config = load_config(REPO / "training" / "configs" / "tiny_cpu.yaml")
    model = build_model(config).eval()
    return save_checkpoint(path, model, config, {"name": "tiny-test", "version": "0.0"})


def tiny_ranker(path: Path, **kwargs):
    """The runtime's Ranker on the tiny checkpoint; threshold 0 so it always finds instances."""
    from foir360_core.runtime import Ranker

    options = {"backend": "torch", "score_threshold": 0.0, "max_instances": 8, "threads": 1}
    return Ranker(path, **{**options, **kwargs})


def stamp_of(types, ns: int):
    return types["builtin_interfaces/msg/Time"](sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def header(types, ns: int, frame_id: str = "pano_link"):
    return types["std_msgs/msg/Header"](stamp=stamp_of(types, ns), frame_id=frame_id)


def stamp_ns(stamp) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


class Harness:
    """Ranker nodes and a peer node spinning in one context on a background executor."""

    def __init__(self, domain: int) -> None:
        import rclpy
        from rclpy.executors import MultiThreadedExecutor

        from foir360_ros.interfaces import rclpy_types

        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.types = rclpy_types()
        self.peer = rclpy.create_node("test_peer", context=self.context)
        self.executor = MultiThreadedExecutor(num_threads=3, context=self.context)
        self.executor.add_node(self.peer)
        self.nodes: list = []
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def add_ranker(self, ranker, namespace: str, **parameters):
        from rclpy.parameter import Parameter

        from foir360_ros.ranker_node import RankerNode

        overrides = [Parameter(k, value=v) for k, v in parameters.items()]
        node = RankerNode(ranker=ranker, context=self.context, namespace=namespace,
                          parameter_overrides=overrides)
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def collect(self, msg_type: str, topic: str, depth: int = 50, qos=None) -> list:
        """Every message received on ``topic`` (appended as they come)."""
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        received: list = []
        profile = qos or QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE)
        self.peer.create_subscription(self.types[msg_type], topic, received.append, profile)
        return received

    def publisher(self, msg_type: str, topic: str, qos=None):
        from rclpy.qos import qos_profile_sensor_data

        return self.peer.create_publisher(self.types[msg_type], topic,
                                          qos or qos_profile_sensor_data)

    def now_ns(self) -> int:
        return self.peer.get_clock().now().nanoseconds

    def close(self) -> None:
        import rclpy

        self.executor.shutdown(timeout_sec=5.0)
        for node in self.nodes:
            node.destroy_node()
        self.peer.destroy_node()
        rclpy.shutdown(context=self.context)
        self._thread.join(timeout=5.0)


def write_bag(path: Path, frames: list[tuple[int, object, str]], storage: str) -> None:
    """A rosbag2 bag (``storage`` mcap or sqlite3) of (timestamp, rosbags msg, topic) frames."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    from foir360_ros.interfaces import rosbags_typestore

    typestore = rosbags_typestore()
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    writer = Writer(path, version=8, storage_plugin=plugin)
    writer.open()
    connections: dict[str, object] = {}
    for timestamp, msg, topic in frames:
        msgtype = msg.__msgtype__
        if topic not in connections:
            connections[topic] = writer.add_connection(topic, msgtype, typestore=typestore)
        writer.write(connections[topic], timestamp, typestore.serialize_cdr(msg, msgtype))
    writer.close()


def synthetic_frames(count: int, height: int = 128) -> list[np.ndarray]:
    """Synthetic ERP panoramas (RGB uint8, W = 2H) with real objects in them."""
    from foir360_core.synth import render_panorama

    return [render_panorama(seed, height=height).image for seed in range(count)]
