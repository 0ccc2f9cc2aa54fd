"""Benchmark of the ROS 2 layer: what the node adds around inference, what its messages weigh,
and how fast a bag replays.

    make bench      (or: ROS env + python benchmarks/bench_node.py [--quick])

1. Node overhead: a real node (rclpy, Fast DDS on loopback) ranks frames one at a time; the
   stages it reports (decode, pre, infer, post, encode = geometry + RLE + message, publish =
   serialisation + DDS write) as a fraction of inference, per frame size.
2. Bytes per frame: the serialised RankedInstanceArray of real synthetic scenes vs the common
   alternative of one mono8 mask image per instance (and one mono16 label image).
3. Replay throughput: `foir360 replay` offline over an MCAP bag, frames per second.
Uses the shipped model when present, else a tiny untrained one (printed).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = str(REPO / "config" / "fastdds_loopback.xml")

from tests.ros.helpers import (  # noqa: E402  (after the loopback profile is set)
    Harness,
    header,
    stamp_ns,
    tiny_checkpoint,
    wait_for,
    write_bag,
)


def panoramas(count: int, height: int) -> list[np.ndarray]:
    from foir360_core.synth import render_panorama

    return [render_panorama(seed, height=height).image for seed in range(count)]


def pick_model(tmp: Path) -> tuple[Path, str]:
    from foir360_core.models import default_model_path

    try:
        return default_model_path(), "shipped default"
    except FileNotFoundError:
        return tiny_checkpoint(tmp / "tiny.safetensors"), "tiny untrained (no shipped model)"


def make_ranker(model: Path):
    from foir360_core.runtime import Ranker

    return Ranker(model, backend="auto", score_threshold=0.0, max_instances=20)


def node_overhead(model: Path, sizes: list[int], frames: int) -> None:
    from foir360_ros.images import array_to_image
    from foir360_ros.interfaces import rclpy_types

    print("\n1. node overhead per frame (medians, ms; the node ranks one frame at a time)")
    print(f"   {'frame':>10} {'decode':>7} {'pre':>6} {'infer':>7} {'post':>6} {'encode':>7} "
          f"{'publish':>8} {'overhead/infer':>15}")
    types = rclpy_types()
    harness = Harness(150 + os.getpid() % 40)
    try:
        for index, height in enumerate(sizes):
            node = harness.add_ranker(make_ranker(model), f"n{index}",
                                      image_topic=f"/bench{index}/image",
                                      input_reliability="reliable")
            out = harness.collect("foir360/msg/RankedInstanceArray",
                                  f"/n{index}/foir360_ranker/ranked_instances")
            publisher = harness.publisher("sensor_msgs/msg/Image", f"/bench{index}/image",
                                          qos=10)
            wait_for(lambda p=publisher: p.get_subscription_count() > 0, 10, "discovery")
            for rgb in panoramas(frames, height):
                stamp = harness.now_ns()
                publisher.publish(array_to_image(types, header(types, stamp), rgb, "rgb8"))
                wait_for(lambda s=stamp, o=out: any(stamp_ns(m.header.stamp) == s for m in o),
                         60, "an answer")
            ms = node.stats.stage_medians()
            overhead = sum(ms[k] for k in ("decode", "pre", "post", "encode", "publish"))
            print(f"   {2 * height:>5}x{height:<4} {ms['decode']:>7.2f} {ms['pre']:>6.2f} "
                  f"{ms['infer']:>7.1f} {ms['post']:>6.2f} {ms['encode']:>7.2f} "
                  f"{ms['publish']:>8.2f} {overhead / ms['infer']:>14.1%}")
    finally:
        harness.close()


def message_bytes(heights: list[int], scenes: int) -> None:
    from rclpy.serialization import serialize_message

    from foir360_core.structures.instances import ranks_from_scores
    from foir360_core.synth import render_panorama
    from foir360_ros.images import array_to_image
    from foir360_ros.interfaces import rclpy_types
    from foir360_ros.ranked import ProducerInfo, instances_to_msg, label_image

    types = rclpy_types()
    model = ProducerInfo("panorank", "1", ("object",))
    print(f"\n2. bytes per frame ({scenes} synthetic scenes, ground-truth masks, serialised CDR)")
    print(f"   {'masks':>10} {'objects':>8} {'ranked msg':>11} {'mask images':>12} "
          f"{'ratio':>6} {'label mono16':>13}")
    for height in heights:
        ranked, per_instance, label, objects = [], [], [], []
        for seed in range(scenes):
            inst = render_panorama(seed, height=height).instances
            inst = inst.with_ranks(ranks_from_scores(inst.masks.sum((1, 2))))
            hdr = header(types, 1)
            ranked.append(len(serialize_message(instances_to_msg(
                types, hdr, inst, image_size=inst.image_size, model=model))))
            per_instance.append(sum(len(serialize_message(array_to_image(
                types, hdr, m.astype(np.uint8) * 255, "mono8"))) for m in inst.masks))
            label.append(len(serialize_message(array_to_image(
                types, hdr, label_image(inst), "mono16"))))
            objects.append(len(inst))
        r, p = np.mean(ranked), np.mean(per_instance)
        print(f"   {2 * height:>5}x{height:<4} {np.mean(objects):>8.1f} {r / 1024:>9.1f} kB "
              f"{p / 1024:>10.0f} kB {p / r:>5.0f}x {np.mean(label) / 1024:>11.0f} kB")


def replay_throughput(model: Path, tmp: Path, frames: int, height: int) -> None:
    from foir360_ros.images import array_to_image
    from foir360_ros.interfaces import rosbags_types
    from foir360_ros.replay.offline import replay_offline
    from foir360_ros.replay.report import ReplayAccumulator

    types = rosbags_types()
    bag = tmp / "bag"
    write_bag(bag, [(i * 100_000_000, array_to_image(types, header(types, i * 100_000_000), rgb,
                                                      "rgb8"), "/cam/image")
                    for i, rgb in enumerate(panoramas(frames, height))], "mcap")
    report = replay_offline(bag, "/cam/image", tmp / "out", make_ranker(model),
                            acc=ReplayAccumulator(), mask_height=height)
    stages = ", ".join(f"{k} {v['p50_ms']:.1f}" for k, v in report.latency_ms.items())
    print(f"\n3. replay (offline, MCAP, {frames} frames of {2 * height}x{height}): "
          f"{report.throughput_fps:.1f} frames/s on {report.model['backend']} "
          f"(median ms: {stages})")


def uint8_assignment() -> None:
    import array

    from sensor_msgs.msg import Image

    data = np.zeros((1024, 2048, 3), np.uint8)
    msg = Image()
    print("\n4. filling Image.data of a 2048x1024 rgb8 frame on the Kilted wheels:")
    for name, value in (("array.array('B')", lambda: array.array("B", data.tobytes())),
                        ("bytes", data.tobytes), ("numpy array", lambda: data.reshape(-1))):
        start = time.perf_counter()
        msg.data = value()
        print(f"   {name:>17}: {(time.perf_counter() - start) * 1e3:7.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer frames and sizes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        model, what = pick_model(tmp)
        print(f"model: {model} ({what}); machine: {os.cpu_count()} CPU cores")
        node_overhead(model, [256, 512] if args.quick else [256, 512, 1024],
                      3 if args.quick else 8)
        message_bytes([256, 512], 3 if args.quick else 10)
        replay_throughput(model, tmp, 8 if args.quick else 30, 256)
        uint8_assignment()
    return 0


if __name__ == "__main__":
    sys.exit(main())
