"""The managed (lifecycle) node, started by `foir360.launch.py managed:=true` and driven by
`ros2 lifecycle` over real DDS, the way a lifecycle manager (Nav2's, yolo_ros's) drives it.

unconfigured: nothing loaded, no topics. configure: the model is loaded and the outputs exist,
but nothing is subscribed. activate: frames in, ranked instances out. deactivate: the input is
unsubscribed, the model stays (activating again does not load it again). cleanup: outputs
gone, back to unconfigured. Shutdown: a clean exit.
"""

from __future__ import annotations

import os
import subprocess
import unittest

import pytest

from tests.ros.helpers import LAUNCH_MISSING, domain_id, stamp_ns, synthetic_frames, wait_for

if LAUNCH_MISSING:
    pytest.skip(LAUNCH_MISSING, allow_module_level=True)

import launch_testing
import launch_testing.asserts
from launch import LaunchDescription

from tests.ros.helpers import Harness
from tests.ros.launch_support import image_msg, include, launch_settings

DOMAIN = domain_id(__name__)
NODE = "/managed/foir360_ranker"
INPUT = "/managed/image"
RANKED = f"{NODE}/ranked_instances"


@pytest.mark.launch_test
def generate_test_description():
    ranker = include("foir360.launch.py", namespace="managed", managed="true",
                     backend="onnxruntime")
    return LaunchDescription([*launch_settings(DOMAIN), ranker,
                              launch_testing.actions.ReadyToTest()])


def _lifecycle(*args: str) -> str:
    env = {**os.environ, "ROS_DOMAIN_ID": str(DOMAIN)}
    # --no-daemon: a ros2 daemon would outlive the test; discovery then needs a few seconds
    done = subprocess.run(["ros2", "lifecycle", *args, "--no-daemon", "--spin-time", "5"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


class TestLifecycle(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        cls.h = Harness(DOMAIN)
        cls.ranked = cls.h.collect("foir360/msg/RankedInstanceArray", RANKED)
        cls.camera = cls.h.publisher("sensor_msgs/msg/Image", INPUT,
                                     QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
        cls.frame = synthetic_frames(1, height=128)[0]

    @classmethod
    def tearDownClass(cls) -> None:
        cls.h.close()

    def _answered(self) -> bool:
        """Publish one frame; True if its ranked answer comes back within 10 s."""
        stamp = self.h.now_ns()
        self.camera.publish(image_msg(self.h.types, self.frame, stamp))
        try:
            wait_for(lambda: any(stamp_ns(m.header.stamp) == stamp for m in self.ranked), 10,
                     "a ranked answer")
        except AssertionError:
            return False
        return True

    def test_transitions(self, proc_output):
        peer = self.h.peer
        wait_for(lambda: NODE in _lifecycle("nodes"), 60, "the lifecycle node")
        assert "unconfigured" in _lifecycle("get", NODE)
        assert peer.count_publishers(RANKED) == 0 and peer.count_subscribers(INPUT) == 0

        assert "Transitioning successful" in _lifecycle("set", NODE, "configure")
        proc_output.assertWaitFor("ready on onnxruntime", timeout=120)
        assert "inactive" in _lifecycle("get", NODE)
        wait_for(lambda: peer.count_publishers(RANKED) >= 1, 10, "the outputs after configure")
        assert peer.count_subscribers(INPUT) == 0

        assert "Transitioning successful" in _lifecycle("set", NODE, "activate")
        wait_for(lambda: self.camera.get_subscription_count() >= 1, 10, "the input subscription")
        assert self._answered(), "an active node ranks frames"

        assert "Transitioning successful" in _lifecycle("set", NODE, "deactivate")
        wait_for(lambda: self.camera.get_subscription_count() == 0, 10, "the input to go")
        assert not self._answered(), "an inactive node ranks nothing"
        assert peer.count_publishers(RANKED) >= 1, "deactivate keeps the outputs"

        assert "Transitioning successful" in _lifecycle("set", NODE, "activate")
        wait_for(lambda: self.camera.get_subscription_count() >= 1, 10, "the input again")
        assert self._answered(), "activating again needs no configure"

        assert "Transitioning successful" in _lifecycle("set", NODE, "deactivate")
        assert "Transitioning successful" in _lifecycle("set", NODE, "cleanup")
        assert "unconfigured" in _lifecycle("get", NODE)
        wait_for(lambda: peer.count_publishers(RANKED) == 0, 10, "the outputs to go")


@launch_testing.post_shutdown_test()
class TestLifecycleShutdown(unittest.TestCase):
    def test_loaded_once_and_exits_cleanly(self, proc_info, proc_output):
        # configure loaded the model once; the second activate did not load it again
        loads = [line for line in "".join(o.text.decode() for o in proc_output).splitlines()
                 if "ready on onnxruntime" in line and "model " in line]
        assert len(loads) == 1, loads
        launch_testing.asserts.assertExitCodes(proc_info)
