"""A Python with this folder first on PYTHONPATH cannot import what a robot install lacks.

Python imports ``sitecustomize`` at start-up; this one puts a finder first on ``sys.meta_path``
that refuses the top-level modules named in ``FOIR360_BLOCKED_MODULES`` (comma-separated;
default ``torch,torchvision``) the way a missing package is refused. So the robot's situation
(the README's robot install: no torch, no onnx, no rosbags, ...) is reproduced from the
development venv, in launched node processes too. Every refused import is appended to the file
named by ``FOIR360_BLOCKED_LOG`` (when set): benchmarks/bench_node_start.py reports them.
"""

import os
import sys
from importlib.abc import MetaPathFinder

BLOCKED = frozenset(filter(None, os.environ.get("FOIR360_BLOCKED_MODULES",
                                                "torch,torchvision").split(",")))


class _RobotInstall(MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] not in BLOCKED:
            return None
        record = os.environ.get("FOIR360_BLOCKED_LOG")
        if record:
            with open(record, "a", encoding="utf-8") as handle:
                handle.write(f"{os.getpid()} {fullname}\n")
        raise ModuleNotFoundError(f"No module named '{fullname}' (not in the robot install)",
                                  name=fullname)


sys.meta_path.insert(0, _RobotInstall())
