"""`foir360.launch.py` for real (launch_testing): the installed launch file starts the node.

The description includes the package's installed launch file the way a robot's bringup does:
a namespace (``front``), a ``params_file`` of its own, and an outer ``SetRemap`` that moves
the node's input onto the camera's topic. The tests then feed frames over DDS and check what
comes back: ranked instances and ``vision_msgs/Detection2DArray`` (real vision_msgs) under the
namespace, the params file's values as live parameters, and a clean exit on shutdown.
"""

from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

import pytest

from tests.ros.helpers import LAUNCH_MISSING, domain_id, stamp_ns, synthetic_frames, wait_for

if LAUNCH_MISSING:
    pytest.skip(LAUNCH_MISSING, allow_module_level=True)

import launch_testing
import launch_testing.asserts
from launch import LaunchDescription
from launch.actions import GroupAction
from launch_ros.actions import SetRemap

from tests.ros.helpers import Harness
from tests.ros.launch_support import image_msg, include, launch_settings

DOMAIN = domain_id(__name__)
NAMESPACE = "front"
CAMERA_TOPIC = "/cam/front/image_raw"
NODE = f"/{NAMESPACE}/foir360_ranker"
# The params file a robot would pass; image_topic in it is overridden by the launch argument's
# default (`image`, relative: it resolves to /front/image, which the remap moves).
PARAMS = {"score_threshold": 0.05, "max_instances": 3, "mask_height": 16,
          "publish_label_image": True, "diagnostics_period": 0.5, "input_reliability":
          "reliable", "image_topic": "/not/this/one"}


def _params_file() -> str:
    import yaml

    folder = Path(tempfile.mkdtemp(prefix="foir360_launch_"))
    path = folder / "robot.yaml"
    path.write_text(yaml.safe_dump({"/**": {"ros__parameters": PARAMS}}))
    return str(path)


@pytest.mark.launch_test
def generate_test_description():
    ranker = GroupAction([
        SetRemap(src=f"/{NAMESPACE}/image", dst=CAMERA_TOPIC),
        include("foir360.launch.py", namespace=NAMESPACE, params_file=_params_file(),
                backend="onnxruntime"),
    ])
    return LaunchDescription([*launch_settings(DOMAIN), ranker,
                              launch_testing.actions.ReadyToTest()])


class TestRankerLaunch(unittest.TestCase):
    """The launched node, seen from a peer in the same private domain."""

    @classmethod
    def setUpClass(cls) -> None:
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        cls.h = Harness(DOMAIN)
        cls.ranked = cls.h.collect("foir360/msg/RankedInstanceArray",
                                   f"{NODE}/ranked_instances")
        cls.detections = cls.h.collect("vision_msgs/msg/Detection2DArray", f"{NODE}/detections")
        cls.labels = cls.h.collect("sensor_msgs/msg/Image", f"{NODE}/label_image")
        cls.camera = cls.h.publisher("sensor_msgs/msg/Image", CAMERA_TOPIC,
                                     QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))

    @classmethod
    def tearDownClass(cls) -> None:
        cls.h.close()

    def test_frames_on_the_remapped_topic_come_back_under_the_namespace(self, proc_output):
        proc_output.assertWaitFor(f"ranking Image frames from {CAMERA_TOPIC}", timeout=180)
        wait_for(lambda: self.camera.get_subscription_count() >= 1, 20, "the node's subscription")
        frame = synthetic_frames(1, height=128)[0]
        stamp = self.h.now_ns()
        self.camera.publish(image_msg(self.h.types, frame, stamp, "front_pano"))
        wait_for(lambda: any(stamp_ns(m.header.stamp) == stamp for m in self.detections)
                 and any(stamp_ns(m.header.stamp) == stamp for m in self.labels), 30,
                 "ranked instances, detections and label image of the frame")
        ranked = next(m for m in self.ranked if stamp_ns(m.header.stamp) == stamp)
        detections = next(m for m in self.detections if stamp_ns(m.header.stamp) == stamp)
        label = next(m for m in self.labels if stamp_ns(m.header.stamp) == stamp)
        # The params file's values rule: at most 3 instances, masks 16 rows high.
        assert 1 <= len(ranked.instances) <= PARAMS["max_instances"]
        assert all(item.class_score >= PARAMS["score_threshold"] for item in ranked.instances)
        assert (ranked.mask_height, label.height, label.encoding) == (16, 16, "mono16")
        assert ranked.header.frame_id == detections.header.frame_id == "front_pano"
        # Real vision_msgs: one Detection2D per ranked instance, in rank order, class and score.
        assert len(detections.detections) == len(ranked.instances)
        for item, detection in zip(ranked.instances, detections.detections, strict=True):
            hypothesis = detection.results[0].hypothesis
            assert detection.id == str(item.track_id or item.id)  # track id when tracking
            assert hypothesis.score == pytest.approx(item.class_score, rel=1e-6)
            assert hypothesis.class_id == ranked.class_names[item.class_id]
            assert detection.bbox.size_x > 0 and detection.bbox.size_y > 0

    def test_live_parameters_are_the_params_files(self, proc_output):
        from rclpy.parameter import parameter_value_to_python
        from rclpy.parameter_client import AsyncParameterClient

        proc_output.assertWaitFor("ranking Image frames", timeout=180)
        client = AsyncParameterClient(self.h.peer, NODE)
        assert client.wait_for_services(timeout_sec=20.0), f"no parameter services on {NODE}"
        names = [*PARAMS, "backend", "model"]
        future = client.get_parameters(names)
        wait_for(future.done, 10, "the parameter values")
        values = dict(zip(names, (parameter_value_to_python(v) for v in future.result().values),
                          strict=True))
        expected = {**PARAMS, "image_topic": "image", "backend": "onnxruntime", "model": ""}
        assert values == expected


@launch_testing.post_shutdown_test()
class TestRankerShutdown(unittest.TestCase):
    def test_the_node_exits_cleanly(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
