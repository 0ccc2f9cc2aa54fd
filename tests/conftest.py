"""Collects launch_testing modules under pytest 9.

launch_testing 3.7.1 ships a pytest plugin whose collection hook still takes pytest < 9's
``path`` argument, so pytest 9 refuses to register it (PluginValidationError). pyproject.toml
turns it off (``-p no:launch_testing``), and launch_testing_ros's plugin that extends it
(``-p no:launch_ros``). These two hooks do what the plugin's do, with its own
``LaunchTestModule``; nothing happens where launch_testing is not installed
(the launch tests then skip with a message of their own).
"""

from __future__ import annotations

from pathlib import Path

import pytest

try:
    from launch_testing.pytest.hooks import LaunchTestModule, find_launch_test_entrypoint
except ImportError:
    LaunchTestModule = None


def pytest_addoption(parser) -> None:
    if LaunchTestModule is not None:
        parser.addoption("--launch-args", action="append", nargs="*", default=[],
                         help="arguments passed to every launch test's description")


def pytest_pycollect_makemodule(module_path: Path, parent):
    if LaunchTestModule is None or not module_path.name.startswith("test_launch"):
        return None
    from tests.ros.helpers import LAUNCH_MISSING

    if LAUNCH_MISSING:  # the module skips itself when collected the ordinary way
        return None
    entrypoint = find_launch_test_entrypoint(module_path)
    marks = getattr(entrypoint, "pytestmark", [])
    if not any(mark.name == "launch_test" for mark in marks):
        return None
    module = LaunchTestModule.from_parent(parent=parent, path=module_path)
    module.add_marker(pytest.mark.ros)
    for mark in marks:
        module.add_marker(getattr(pytest.mark, mark.name).with_args(*mark.args, **mark.kwargs))
    return module
