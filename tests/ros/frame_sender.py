"""A stand-in camera in its own process: synthetic ERP frames on a topic, over real DDS.

Used by the bringup launch test (installed there as driver ``foir360_test_camera/erp_camera``)
and by the transport test and benchmark, which need frames that cross a process boundary
(within one process Fast DDS hands samples over without the network). ``--count 0`` sends
until interrupted; otherwise the sender stops after ``--count`` frames and then sends
``--tail`` small frames, so a subscriber learns of losses at the end of the burst too.

    python -m tests.ros.frame_sender /cam/image --height 1024 --rate 10 --count 30
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="frame_sender")
    parser.add_argument("topic")
    parser.add_argument("--frame-id", default="erp_cam_link")
    parser.add_argument("--height", type=int, default=128, help="rows; width = 2x")
    parser.add_argument("--rate", type=float, default=4.0, help="frames per second")
    parser.add_argument("--count", type=int, default=0, help="0 = until interrupted")
    parser.add_argument("--tail", type=int, default=5, help="small frames after --count")
    parser.add_argument("--reliability", choices=("best_effort", "reliable"),
                        default="best_effort")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from rclpy.signals import SignalHandlerOptions
    from rclpy.utilities import remove_ros_args

    from foir360_core.synth import render_panorama
    from foir360_ros.images import array_to_image
    from foir360_ros.interfaces import rclpy_types

    args = _arguments(remove_ros_args(argv)[1:])
    # launch stops its processes with SIGINT: end between two frames, whatever handler the
    # process inherited
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    rclpy.init(args=argv, signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node("frame_sender")
    types = rclpy_types()
    qos = QoSProfile(depth=1, reliability=ReliabilityPolicy[args.reliability.upper()])
    publisher = node.create_publisher(types["sensor_msgs/msg/Image"], args.topic, qos)
    frames = [render_panorama(seed, height=args.height).image for seed in range(3)]
    small = render_panorama(0, height=64).image

    def send(rgb) -> None:
        header = types["std_msgs/msg/Header"](stamp=node.get_clock().now().to_msg(),
                                              frame_id=args.frame_id)
        publisher.publish(array_to_image(types, header, rgb, "rgb8"))

    try:
        while publisher.get_subscription_count() == 0 and not stop.wait(0.05):
            pass
        start = time.monotonic()
        index = 0
        while (args.count == 0 or index < args.count) and not stop.wait(
                max(0.0, start + index / args.rate - time.monotonic())):
            send(frames[index % len(frames)])
            index += 1
        for _ in range(args.tail):
            if stop.wait(0.2):
                break
            send(small)
        stop.wait(0.5)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
