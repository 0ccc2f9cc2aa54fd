"""`ros2 launch foir360 foir360.launch.py` on a robot install without torch (launch_testing).

The launched node's Python cannot import what the README's robot install leaves out (torch,
onnx, rosbags, ...; tests/ros/robot_install). With the launch file's defaults (shipped model,
backend auto) it must start on the ONNX copy, rank a frame, and exit cleanly.
"""

from __future__ import annotations

import unittest

import pytest

from foir360_core.models import DEFAULT_MODEL
from tests.ros.helpers import (
    LAUNCH_MISSING,
    domain_id,
    robot_install_env,
    stamp_ns,
    synthetic_frames,
    wait_for,
)

if LAUNCH_MISSING:
    pytest.skip(LAUNCH_MISSING, allow_module_level=True)

import launch_testing
import launch_testing.asserts
from launch import LaunchDescription
from launch.actions import SetEnvironmentVariable

from tests.ros.helpers import Harness
from tests.ros.launch_support import image_msg, include, launch_settings

DOMAIN = domain_id(__name__)
NODE = "/robot/foir360_ranker"


@pytest.mark.launch_test
def generate_test_description():
    env = robot_install_env()
    robot = [SetEnvironmentVariable(name, env[name])
             for name in ("PYTHONPATH", "FOIR360_BLOCKED_MODULES")]
    ranker = include("foir360.launch.py", namespace="robot", image_topic="camera/image")
    return LaunchDescription([*launch_settings(DOMAIN), *robot, ranker,
                              launch_testing.actions.ReadyToTest()])


class TestRobotInstall(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.h = Harness(DOMAIN)
        cls.ranked = cls.h.collect("foir360/msg/RankedInstanceArray", f"{NODE}/ranked_instances")
        cls.camera = cls.h.publisher("sensor_msgs/msg/Image", "/robot/camera/image")

    @classmethod
    def tearDownClass(cls) -> None:
        cls.h.close()

    def test_the_default_model_ranks_without_torch(self, proc_output):
        proc_output.assertWaitFor("ready on onnxruntime", timeout=180)
        proc_output.assertWaitFor("ranking Image frames from /robot/camera/image", timeout=60)
        wait_for(lambda: self.camera.get_subscription_count() >= 1, 20, "the subscription")
        frame = synthetic_frames(1, height=128)[0]
        for _ in range(5):  # best-effort input: resend until one answer comes back
            stamp = self.h.now_ns()
            self.camera.publish(image_msg(self.h.types, frame, stamp))
            try:
                wait_for(lambda s=stamp: any(stamp_ns(m.header.stamp) == s
                                             for m in self.ranked), 5, "a ranked answer")
                break
            except AssertionError:
                continue
        else:
            raise AssertionError("no ranked answer")
        assert self.ranked[-1].model_name == DEFAULT_MODEL


@launch_testing.post_shutdown_test()
class TestRobotInstallShutdown(unittest.TestCase):
    def test_the_node_exits_cleanly(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
