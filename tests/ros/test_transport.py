"""What goes wrong between the camera and the node is visible: lost frames, wrong types.

Losses: a camera in another process sends 6 MB panoramas best-effort over UDP only
(config/fastdds_loopback_udp.xml, as from another host), which loses fragments of most. The
node's /diagnostics must count exactly what DDS reports through message_lost, here checked
against a second subscriber in the same participant (it receives the very same datagrams).
Types: a publisher of CompressedImage on a raw Image topic is named in the log when it
appears, and again when another one appears.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.ros.helpers import REPO, Harness, domain_id, ros, tiny_ranker, wait_for

pytestmark = ros

FRAMES = 24
HEIGHT = 1024  # 2048x1024 rgb8: 6 MB per frame, as a real 360° camera sends


@pytest.fixture(scope="module")
def harness(tiny_model):
    h = Harness(domain_id(__name__))
    yield h
    h.close()


def _diagnostics_value(arrays: list, node: str, key: str) -> str | None:
    for array in reversed(arrays):
        for status in array.status:
            if status.name == f"{node}: ranking":
                return {v.key: v.value for v in status.values}.get(key)
    return None


def test_frames_lost_in_transport_are_counted_as_message_lost_reports(harness, tiny_model):
    from rclpy.event_handler import SubscriptionEventCallbacks
    from rclpy.qos import qos_profile_sensor_data

    node = harness.add_ranker(tiny_ranker(tiny_model), "lossy", image_topic="/lossy/image",
                              mask_height=16, warmup=False, diagnostics_period=0.5)
    diagnostics = harness.collect("diagnostic_msgs/msg/DiagnosticArray", "/diagnostics", 100)
    lost_events: list[int] = []
    received: list[int] = []
    harness.peer.create_subscription(
        harness.types["sensor_msgs/msg/Image"], "/lossy/image", lambda m: received.append(1),
        qos_profile_sensor_data,
        event_callbacks=SubscriptionEventCallbacks(
            message_lost=lambda event: lost_events.append(event.total_count_change)))
    sender = subprocess.run(
        [sys.executable, "-m", "tests.ros.frame_sender", "/lossy/image", "--height",
         str(HEIGHT), "--rate", "10", "--count", str(FRAMES), "--ros-args", "-r",
         "__node:=lossy_camera"],
        check=False, cwd=REPO, env=_child_env(harness), timeout=120, capture_output=True,
        text=True)
    assert sender.returncode == 0, sender.stderr
    wait_for(lambda: node.stats.received >= 1, 10, "the tail frames")
    time.sleep(1.0)  # the last loss events and one more diagnostics period
    lost = sum(lost_events)
    if lost == 0:
        pytest.skip("no frame was lost in transport on this machine (large socket buffers?): "
                    "nothing to count")
    assert node.stats.lost == lost, (node.stats.lost, lost, len(received))
    wait_for(lambda: _diagnostics_value(diagnostics, "/lossy/foir360_ranker",
                                        "frames lost in transport") == str(lost), 5,
             f"/diagnostics to report {lost} frames lost in transport")
    assert node.stats.received + node.stats.lost <= FRAMES + 5


def _child_env(harness) -> dict[str, str]:
    import os

    return {**os.environ, "ROS_DOMAIN_ID": str(harness.context.get_domain_id()),
            "FASTDDS_DEFAULT_PROFILES_FILE": str(REPO / "config" / "fastdds_loopback_udp.xml")}


def test_a_publisher_of_another_type_is_named_whenever_one_appears(harness, tiny_model, capfd):
    """The wrong publishers live in a context of their own: one DDS participant refuses two
    types on one topic, as two processes would not."""
    import rclpy

    node = harness.add_ranker(tiny_ranker(tiny_model), "typed", image_topic="/typed/image",
                              warmup=False)
    log: list[str] = []

    def logged(text: str) -> bool:
        log.append(capfd.readouterr().err)
        return text in "".join(log)

    wrong = "sends sensor_msgs/msg/CompressedImage, but this node subscribes sensor_msgs/msg/Image"
    compressed = harness.types["sensor_msgs/msg/CompressedImage"]
    other = rclpy.Context()
    rclpy.init(context=other, domain_id=harness.context.get_domain_id())
    try:
        first = rclpy.create_node("jpeg_camera", context=other)
        first.create_publisher(compressed, "/typed/image", 1)
        wait_for(lambda: logged(f"publisher /jpeg_camera on /typed/image {wrong}"), 10,
                 "the wrong type named in the log")
        assert "set compressed:=true" in "".join(log)
        assert "WRONG TYPE" in node.silence_report()
        second = rclpy.create_node("second_camera", context=other)
        second.create_publisher(compressed, "/typed/image", 1)
        wait_for(lambda: logged(f"publisher /second_camera on /typed/image {wrong}"), 10,
                 "the second wrong publisher named in the log")
    finally:
        rclpy.shutdown(context=other)
