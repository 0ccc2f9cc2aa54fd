"""Run as ``python -m tests.ros.robot_probe`` in a robot-install Python (see robot_install/):
build the ranker node with its defaults, rank and publish one frame, and print as JSON which
model and backend it used and which of foir360's declared dependencies got imported.

Kept free of pytest and of the test helpers, so that what it reports is what the node loads.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import sys

import numpy as np


def foir360_dependencies() -> set[str]:
    """Distribution names foir360 declares (install_requires and every extra)."""
    names = {re.split(r"[<>=!~;\[ ]", line, maxsplit=1)[0]
             for line in importlib.metadata.requires("foir360") or []}
    return {name.lower().replace("_", "-") for name in names}


def loaded_distributions() -> set[str]:
    owners = importlib.metadata.packages_distributions()
    tops = {name.split(".")[0] for name in sys.modules}
    return {dist.lower().replace("_", "-") for top in tops for dist in owners.get(top, [])}


def main() -> int:
    import rclpy

    from foir360_ros.interfaces import rclpy_types
    from foir360_ros.ranker_node import RankerNode

    rclpy.init()
    node = RankerNode()
    types = rclpy_types()
    pixels = np.random.default_rng(0).integers(0, 256, (256, 512, 3), dtype=np.uint8)
    header = types["std_msgs/msg/Header"](stamp=node.get_clock().now().to_msg(),
                                          frame_id="pano")
    node._handle(types["sensor_msgs/msg/Image"](
        header=header, height=256, width=512, encoding="rgb8", is_bigendian=0, step=1536,
        data=types.uint8_field(pixels)))
    info = node.pipeline.ranker.info
    report = {"model_path": info["model_path"], "backend": info["backend"],
              "processed": node.stats.processed,
              "dependencies": sorted(loaded_distributions() & foir360_dependencies())}
    node.destroy_node()
    rclpy.shutdown()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
