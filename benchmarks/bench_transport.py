"""Benchmark: how many 6 MB panoramas reach a subscriber, per DDS transport and reliability.

    make bench      (or: ROS env + python benchmarks/bench_transport.py [--frames 30])

A camera process (tests/ros/frame_sender.py) sends 2048x1024 rgb8 frames at 10 Hz to a
subscriber process; both use one Fast DDS profile: config/fastdds_loopback_udp.xml (UDP on
127.0.0.1 only, as between two hosts) or config/fastdds_loopback.xml (the same plus shared
memory, still local-only: the tests' profile). Per combination with best-effort and reliable
QoS it prints frames received, frames DDS reported lost (message_lost), and the median age of
a frame on arrival (receive time - header stamp). All four run one after the other in one
run, so they share the machine's load at the time (printed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROFILES = {"udp (loopback)": "fastdds_loopback_udp.xml",
            "udp + shm (loopback)": "fastdds_loopback.xml"}


def receive(reliability: str, frames: int, height: int) -> dict:
    """In a child process: subscribe, start the sender, count what arrives."""
    import numpy as np
    import rclpy
    from rclpy.event_handler import SubscriptionEventCallbacks
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    from foir360_ros.interfaces import rclpy_types

    rclpy.init()
    node = rclpy.create_node("transport_receiver")
    types = rclpy_types()
    ages: list[float] = []
    lost = [0]

    def on_frame(msg) -> None:
        now = node.get_clock().now().nanoseconds
        ages.append((now - (msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec)) / 1e6)

    qos = QoSProfile(depth=1, reliability=ReliabilityPolicy[reliability.upper()])
    node.create_subscription(types["sensor_msgs/msg/Image"], "/bench/image", on_frame, qos,
                             event_callbacks=SubscriptionEventCallbacks(
                                 message_lost=lambda e: lost.__setitem__(0, e.total_count)))
    sender = subprocess.Popen(
        [sys.executable, "-m", "tests.ros.frame_sender", "/bench/image", "--height", str(height),
         "--rate", "10", "--count", str(frames), "--tail", "0", "--reliability", reliability],
        cwd=REPO)
    deadline = time.monotonic() + 120
    while sender.poll() is None and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
    node.destroy_node()
    rclpy.shutdown()
    return {"received": len(ages), "lost": lost[0],
            "median_age_ms": float(np.median(ages)) if ages else float("nan")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--child", nargs=2, metavar=("PROFILE", "RELIABILITY"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(receive(args.child[1], args.frames, args.height)))
        return 0
    mb = args.height * args.height * 2 * 3 / 1e6
    print(f"{args.frames} frames of {2 * args.height}x{args.height} rgb8 ({mb:.1f} MB) at 10 Hz, "
          f"sender and receiver in two processes; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")
    print(f"{'profile':<22} {'reliability':<12} {'received':>9} {'lost':>6} {'median age ms':>14}")
    for label, profile in PROFILES.items():
        env = {**os.environ, "FASTDDS_DEFAULT_PROFILES_FILE": str(REPO / "config" / profile),
               "ROS_DOMAIN_ID": str(150 + os.getpid() % 40)}
        for reliability in ("best_effort", "reliable"):
            out = subprocess.run(
                [sys.executable, __file__, "--frames", str(args.frames), "--height",
                 str(args.height), "--child", profile, reliability],
                check=False, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
            if out.returncode != 0:
                print(out.stderr[-2000:])
                return 1
            row = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{label:<22} {reliability:<12} {row['received']:>9} {row['lost']:>6} "
                  f"{row['median_age_ms']:>14.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
