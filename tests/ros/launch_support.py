"""What the launch tests share: the installed launch files, a private DDS domain, frames.

The launch tests start the node exactly as a robot does (``ros2 launch foir360 ...``, through
launch_ros and the ament index), so they need ``make interfaces`` (the package's share/ and
lib/ in AMENT_PREFIX_PATH) and the launch wheels and vision_msgs from ``../shared/ros``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.ros.helpers import header

# The node's scripts start with `#!/usr/bin/env python3`: this interpreter must be that one.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


def installed_launch_file(name: str) -> str:
    """A launch file as installed in the package's share folder (what `ros2 launch` runs)."""
    from ament_index_python.packages import get_package_share_directory

    return str(Path(get_package_share_directory("foir360")) / "launch" / name)


def include(name: str, **arguments: str):
    """``IncludeLaunchDescription`` of an installed foir360 launch file with arguments."""
    from launch.actions import IncludeLaunchDescription
    from launch.launch_description_sources import PythonLaunchDescriptionSource

    return IncludeLaunchDescription(PythonLaunchDescriptionSource(installed_launch_file(name)),
                                    launch_arguments=arguments.items())


def launch_settings(domain: int) -> list:
    """Launched processes join the test's private ROS_DOMAIN_ID (the profile that keeps DDS on
    loopback comes from helpers' FASTDDS_DEFAULT_PROFILES_FILE), and get 20 s instead of 5 s
    to exit on SIGINT before launch escalates to SIGTERM: two shared cores can be that slow,
    and the tests check for clean exits."""
    from launch.actions import SetEnvironmentVariable, SetLaunchConfiguration

    return [SetEnvironmentVariable("ROS_DOMAIN_ID", str(domain)),
            SetLaunchConfiguration("sigterm_timeout", "20")]


def image_msg(types, rgb, stamp_ns: int, frame_id: str = "pano_link"):
    from foir360_ros.images import array_to_image

    return array_to_image(types, header(types, stamp_ns, frame_id), rgb, "rgb8")
