"""The product end to end: the ranker node over real ROS 2, fed synthetic panoramas.

    python -m foir360_ros.demo --out out/demo        (what `make demo` runs)

Starts ``ranker_node`` in its own process, exactly as ``ros2 run foir360 ranker_node`` would,
on the loopback DDS profile and a private ROS_DOMAIN_ID; publishes synthetic ERP panoramas
(``foir360_core.synth``) as ``sensor_msgs/Image``; and prints and saves what a subscriber
receives: every instance's rank, class, importance and direction, the node's overlay picture,
and each ranked message as JSON (masks as COCO RLE).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

NODE = "/foir360_ranker"
TOPIC = "/demo/pano/image"


def loopback_profile() -> Path | None:
    """The package's loopback-only Fast DDS profile (checkout or ROS install)."""
    candidates = [Path(__file__).resolve().parents[1] / "config" / "fastdds_loopback.xml"]
    candidates += [Path(prefix) / "share" / "foir360" / "config" / "fastdds_loopback.xml"
                   for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)
                   if prefix]
    return next((path for path in candidates if path.is_file()), None)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m foir360_ros.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder")
    parser.add_argument("--frames", type=int, default=4, help="panoramas to publish")
    parser.add_argument("--height", type=int, default=256, help="panorama rows (width = 2x)")
    parser.add_argument("--model", default="panorank-synthetic-demo",
                        help="model path or shipped model name (default: the synthetic demo "
                             "model, trained on scenes like the ones this demo renders)")
    parser.add_argument("--backend", default="auto",
                        help="auto, tensorrt, onnxruntime or torch")
    parser.add_argument("--domain-id", type=int, default=100 + os.getpid() % 100,
                        help="ROS_DOMAIN_ID of the demo (default: a private one, 100-199)")
    parser.add_argument("--timeout", type=float, default=180.0,
                        help="seconds to wait for the node to load its model")
    return parser.parse_args(argv)


class Subscriber:
    """What any planner would do: subscribe to the node's outputs and keep them by stamp."""

    def __init__(self, node, types) -> None:
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.lock = threading.Lock()
        self.ranked: dict[int, tuple[object, float]] = {}
        self.overlays: dict[int, object] = {}
        self.diagnostics: dict[str, str] = {}
        node.create_subscription(types["foir360/msg/RankedInstanceArray"],
                                 f"{NODE}/ranked_instances", self._on_ranked, qos)
        node.create_subscription(types["sensor_msgs/msg/Image"], f"{NODE}/overlay",
                                 self._on_overlay, qos)
        node.create_subscription(types["diagnostic_msgs/msg/DiagnosticArray"], "/diagnostics",
                                 self._on_diagnostics, 10)

    def _on_ranked(self, msg) -> None:
        with self.lock:
            self.ranked[_stamp_ns(msg.header.stamp)] = (msg, time.monotonic())

    def _on_overlay(self, msg) -> None:
        with self.lock:
            self.overlays[_stamp_ns(msg.header.stamp)] = msg

    def _on_diagnostics(self, msg) -> None:
        for status in msg.status:
            if status.name.startswith(NODE):
                with self.lock:
                    self.diagnostics = {kv.key: kv.value for kv in status.values}

    def request(self, publisher, frame, stamp: int, tries: int = 5, wait_s: float = 5.0):
        """Publish ``frame`` until its ranked message and overlay arrive (resending covers
        a frame lost on the way); returns (ranked, receive time, overlay)."""
        for _ in range(tries):
            publisher.publish(frame)
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:
                with self.lock:
                    if stamp in self.ranked and stamp in self.overlays:
                        return (*self.ranked[stamp], self.overlays[stamp])
                time.sleep(0.01)
        raise TimeoutError(f"no answer from {NODE} after {tries} tries of {wait_s:.0f} s")


    def wait_diagnostics(self, processed: int, timeout: float) -> None:
        """Give the node's 1 Hz diagnostics a moment to report the last frames."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if int(self.diagnostics.get("frames processed", 0)) >= processed:
                    return
            time.sleep(0.05)


def _stamp_ns(stamp) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def _start_node(args: argparse.Namespace, env: dict[str, str]) -> subprocess.Popen:
    command = [sys.executable, "-m", "foir360_ros.ranker_node", "--ros-args",
               "-p", f"image_topic:={TOPIC}", "-p", "publish_overlay:=true",
               "-p", "input_reliability:=reliable",
               "-p", f"backend:={args.backend}", "-p", "mask_height:=0",
               "-p", f"model:={args.model}"]
    return subprocess.Popen(command, env=env)


def _wait_for_node(process: subprocess.Popen, peer, publisher, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the ranker node exited with code {process.returncode} "
                               "(its log is above)")
        if publisher.get_subscription_count() and peer.count_publishers(
                f"{NODE}/ranked_instances"):
            return
        time.sleep(0.1)
    raise TimeoutError(f"the ranker node did not come up within {timeout:.0f} s")


def instance_rows(msg) -> list[dict]:
    """The ranked message as plain JSON rows (angles in degrees, masks as COCO RLE)."""
    names = list(msg.class_names)
    rows = []
    for item in msg.instances:
        rows.append({
            "rank": int(item.rank), "raw_rank": int(item.raw_rank), "id": int(item.id),
            "track_id": int(item.track_id),
            "class": names[item.class_id] if item.class_id < len(names) else str(item.class_id),
            "importance": float(item.importance),
            "smoothed_importance": float(item.smoothed_importance),
            "class_score": float(item.class_score),
            "direction": [item.direction.x, item.direction.y, item.direction.z],
            "azimuth_deg": math.degrees(item.azimuth),
            "elevation_deg": math.degrees(item.elevation),
            "angular_size_deg": [math.degrees(item.angular_width),
                                 math.degrees(item.angular_height)],
            "solid_angle_sr": float(item.solid_angle),
            "box_xywh": [item.box_x, item.box_y, item.box_width, item.box_height],
            "mask_rle": {"size": [int(msg.mask_height), int(msg.mask_width)],
                         "counts": item.mask_counts},
        })
    return rows


def print_frame(index: int, msg, rows: list[dict], latency_ms: float) -> None:
    print(f"\nframe {index}: {len(rows)} objects ranked by {msg.model_name} "
          f"{msg.model_version}, answer {latency_ms:.0f} ms after publishing "
          f"(stamp {msg.header.stamp.sec}.{msg.header.stamp.nanosec:09d}, "
          f"frame '{msg.header.frame_id}')")
    print("  rank  raw  track  class         smoothed  azimuth  elevation   size (deg)   "
          "solid angle")
    for row in rows:
        width, height = row["angular_size_deg"]
        print(f"  {row['rank']:>4}  {row['raw_rank']:>3}  {row['track_id']:>5}  "
              f"{row['class'][:12]:<12}  {row['smoothed_importance']:>8.3f}  "
              f"{row['azimuth_deg']:>+6.1f}°  {row['elevation_deg']:>+8.1f}°  "
              f"{width:>5.1f} x {height:<5.1f}  {row['solid_angle_sr']:>8.4f} sr")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    from foir360_core.io import write_image
    from foir360_core.synth import render_panorama
    from foir360_ros.images import array_to_image
    from foir360_ros.interfaces import rclpy_types

    args.out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "ROS_DOMAIN_ID": str(args.domain_id)}
    print(f"starting the ranker node (ROS_DOMAIN_ID={args.domain_id}, "
          f"FASTDDS_DEFAULT_PROFILES_FILE={env.get('FASTDDS_DEFAULT_PROFILES_FILE')})")
    process = _start_node(args, env)
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=args.domain_id)
    types = rclpy_types()
    peer = rclpy.create_node("foir360_demo", context=context)
    subscriber = Subscriber(peer, types)
    publisher = peer.create_publisher(
        types["sensor_msgs/msg/Image"], TOPIC,
        QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(peer)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    summary = []
    try:
        _wait_for_node(process, peer, publisher, args.timeout)
        for index in range(args.frames):
            pano = render_panorama(index, height=args.height)
            stamp = peer.get_clock().now()
            header = types["std_msgs/msg/Header"](stamp=stamp.to_msg(), frame_id="pano_link")
            frame = array_to_image(types, header, pano.image, "rgb8")
            sent = time.monotonic()
            msg, received, overlay = subscriber.request(publisher, frame, stamp.nanoseconds)
            rows = instance_rows(msg)
            latency_ms = (received - sent) * 1e3
            print_frame(index, msg, rows, latency_ms)
            write_image(args.out / f"frame_{index:02d}_input.png", pano.image)
            picture = np.frombuffer(overlay.data, np.uint8).reshape(
                overlay.height, overlay.width, 3)
            write_image(args.out / f"frame_{index:02d}_overlay.png", picture)
            (args.out / f"frame_{index:02d}_ranked.json").write_text(json.dumps(
                {"header": {"stamp_ns": stamp.nanoseconds, "frame_id": "pano_link"},
                 "image_size": [msg.image_height, msg.image_width],
                 "model": [msg.model_name, msg.model_version], "instances": rows}, indent=1))
            summary.append({"frame": index, "objects": len(rows), "latency_ms": latency_ms})
        subscriber.wait_diagnostics(processed=args.frames, timeout=3.0)
    except (RuntimeError, TimeoutError) as err:
        print(f"demo failed: {err}", file=sys.stderr)
        return 1
    finally:
        executor.shutdown()
        spinner.join(timeout=5.0)
        peer.destroy_node()
        rclpy.try_shutdown(context=context)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    with subscriber.lock:
        diagnostics = dict(subscriber.diagnostics)
    (args.out / "summary.json").write_text(json.dumps(
        {"frames": summary, "node_diagnostics": diagnostics}, indent=1))
    print(f"\nnode diagnostics: backend {diagnostics.get('backend', '?')}, "
          f"{diagnostics.get('frames processed', '?')} frames processed, "
          f"inference {diagnostics.get('infer (ms, median)', '?')} ms (median)")
    print(f"saved inputs, overlays and ranked messages (JSON) to {args.out}/")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    profile = loopback_profile()
    if profile is not None:  # the demo talks to nobody else, on any machine
        os.environ.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", str(profile))
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
