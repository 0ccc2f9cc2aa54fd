"""The node on a robot installed as the README says: no torch, and exactly what it needs.

A Python whose PYTHONPATH starts with tests/ros/robot_install cannot import the project
dependencies the README's robot install leaves out (torch, onnx, rosbags, matplotlib,
safetensors). In it the node must start on the shipped default (its ONNX copy, on ONNX
Runtime), rank a frame, and load exactly the README's pip packages plus the package.xml's
rosdep keys, nothing more of foir360's declared dependencies.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from foir360_core.models import DEFAULT_MODEL, SHIPPED_MODELS
from tests.ros.helpers import REPO, domain_id, robot_install_env, ros

pytestmark = ros

# rosdep keys of package.xml's exec_depends -> the PyPI distribution each stands for
ROSDEP_TO_PYPI = {"python3-numpy": "numpy", "python3-scipy": "scipy",
                  "python3-opencv": "opencv-contrib-python-headless", "python3-yaml": "pyyaml",
                  "python3-tqdm": "tqdm"}


def readme_robot_pip() -> set[str]:
    """The packages of the `pip install` line in the README's "On a robot" section."""
    section = (REPO / "README.md").read_text().split("## On a robot", 1)[1].split("\n## ", 1)[0]
    line = next(line for line in section.splitlines() if line.startswith("pip install "))
    return {word.lower() for word in re.split(r"\s+", line.split("#")[0])[2:] if word}


def rosdep_python() -> set[str]:
    root = ET.parse(REPO / "package.xml").getroot()
    keys = {element.text for element in root.iter("exec_depend")}
    return {ROSDEP_TO_PYPI[key] for key in keys if key in ROSDEP_TO_PYPI}


def test_the_node_runs_torch_free_on_exactly_the_readme_install():
    env = {**robot_install_env(), "ROS_DOMAIN_ID": str(domain_id(__name__))}
    done = subprocess.run([sys.executable, "-m", "tests.ros.robot_probe"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    default = Path(SHIPPED_MODELS[DEFAULT_MODEL]).with_suffix(".onnx").name
    assert Path(report["model_path"]).name == default
    assert report["backend"] == "onnxruntime" and report["processed"] == 1
    loaded = set(report["dependencies"])
    pip = readme_robot_pip()
    assert pip <= loaded, f"the README installs {sorted(pip - loaded)}, which the node never loads"
    assert loaded <= pip | rosdep_python(), (
        f"the node loads {sorted(loaded - pip - rosdep_python())}, which the README's robot "
        "install does not provide")
