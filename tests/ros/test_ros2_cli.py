"""The package as the `ros2` command line sees it after a build: executables and interfaces.

`make interfaces` runs the package's CMakeLists.txt (what `colcon build` runs) into
install/ros; these tests ask ros2cli, from ../shared/ros, what it installed.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.ros.helpers import LAUNCH_MISSING, domain_id

pytestmark = [pytest.mark.ros, pytest.mark.skipif(bool(LAUNCH_MISSING), reason=LAUNCH_MISSING)]


def _ros2(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain_id(__name__))}
    return subprocess.run(["ros2", *args], env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def test_ros2_run_finds_the_node_and_the_foir360_command():
    listed = _ros2("pkg", "executables", "foir360")
    assert listed.returncode == 0, listed.stderr
    assert set(listed.stdout.split()) >= {"foir360", "ranker_node"}
    version = _ros2("run", "foir360", "foir360", "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("foir360 ")


def test_the_foir360_command_is_installed_on_the_workspace_path():
    from ament_index_python.packages import get_package_prefix

    command = os.path.join(get_package_prefix("foir360"), "bin", "foir360")
    for subcommand in ("rank", "replay"):  # replay: the ROS package's own command
        out = subprocess.run([command, subcommand, "--help"], capture_output=True, text=True,
                             timeout=60, check=False)
        assert out.returncode == 0, out.stderr
    assert "--duplicate-iou" in out.stdout


def test_ros2_interface_shows_the_ranked_message():
    shown = _ros2("interface", "show", "foir360/msg/RankedInstanceArray")
    assert shown.returncode == 0, shown.stderr
    assert "RankedInstance[] instances" in shown.stdout
