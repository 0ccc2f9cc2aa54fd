"""`camera_bringup.launch.py` for real (launch_testing): a camera driver plus the ranker.

The bringup starts whatever driver it is given by package and executable. Here that is a
stand-in driver (``tests/ros/frame_sender.py``) installed as package ``foir360_test_camera`` in a
throwaway ament prefix, publishing synthetic ERP frames; the ranker, included by the bringup
with its default namespace ``camera360``, must rank them and publish real vision_msgs
detections. Both processes must exit cleanly at shutdown.
"""

from __future__ import annotations

import os
import sys
import tempfile
import unittest
from pathlib import Path

import pytest

from tests.ros.helpers import LAUNCH_MISSING, REPO, domain_id, wait_for

if LAUNCH_MISSING:
    pytest.skip(LAUNCH_MISSING, allow_module_level=True)

import launch_testing
import launch_testing.asserts
from launch import LaunchDescription

from tests.ros.helpers import Harness
from tests.ros.launch_support import include, launch_settings

DOMAIN = domain_id(__name__)
CAMERA_TOPIC = "/erp_cam/image"
FRAME_ID = "erp_cam_link"
NODE = "/camera360/foir360_ranker"


def _camera_package() -> Path:
    """An ament prefix holding package foir360_test_camera with executable erp_camera."""
    prefix = Path(tempfile.mkdtemp(prefix="foir360_camera_"))
    (prefix / "share" / "ament_index" / "resource_index" / "packages").mkdir(parents=True)
    (prefix / "share" / "ament_index" / "resource_index" / "packages" /
     "foir360_test_camera").touch()
    executable = prefix / "lib" / "foir360_test_camera" / "erp_camera"
    executable.parent.mkdir(parents=True)
    executable.write_text(
        f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(REPO)!r})\n"
        "from tests.ros.frame_sender import main\n"
        f"sys.exit(main(['erp_camera', {CAMERA_TOPIC!r}, '--frame-id', {FRAME_ID!r}, "
        "*sys.argv[1:]]))\n")
    executable.chmod(0o755)
    return prefix


@pytest.mark.launch_test
def generate_test_description():
    # launch_ros finds the driver through the ament index of this process's environment.
    prefix = _camera_package()
    os.environ["AMENT_PREFIX_PATH"] = f"{prefix}{os.pathsep}{os.environ['AMENT_PREFIX_PATH']}"
    bringup = include("camera_bringup.launch.py", camera_package="foir360_test_camera",
                      camera_executable="erp_camera", camera_topic=CAMERA_TOPIC,
                      backend="onnxruntime")
    return LaunchDescription([*launch_settings(DOMAIN), bringup,
                              launch_testing.actions.ReadyToTest()])


class TestBringup(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.h = Harness(DOMAIN)
        cls.ranked = cls.h.collect("foir360/msg/RankedInstanceArray", f"{NODE}/ranked_instances")
        cls.detections = cls.h.collect("vision_msgs/msg/Detection2DArray", f"{NODE}/detections")

    @classmethod
    def tearDownClass(cls) -> None:
        cls.h.close()

    def test_the_cameras_frames_are_ranked_in_the_bringup_namespace(self, proc_output):
        proc_output.assertWaitFor(f"ranking Image frames from {CAMERA_TOPIC}", timeout=180)
        wait_for(lambda: len(self.ranked) >= 2 and len(self.detections) >= 2, 30,
                 "ranked frames of the camera")
        ranked = self.ranked[-1]
        assert ranked.header.frame_id == FRAME_ID
        assert (ranked.image_height, ranked.image_width) == (128, 256)
        stamps = {(m.header.stamp.sec, m.header.stamp.nanosec) for m in self.ranked}
        matched = [d for d in self.detections
                   if (d.header.stamp.sec, d.header.stamp.nanosec) in stamps]
        assert matched, "every detections message pairs with a ranked message by stamp"


@launch_testing.post_shutdown_test()
class TestBringupShutdown(unittest.TestCase):
    def test_driver_and_ranker_exit_cleanly(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
