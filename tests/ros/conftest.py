"""Fixtures of the ROS 2 tests (see helpers.py)."""

from __future__ import annotations

import pytest

from tests.ros.helpers import ROS_MISSING, tiny_checkpoint


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """Path of a tiny real PanoRank checkpoint, built once per test session."""
    if ROS_MISSING:
        pytest.skip(ROS_MISSING)
    return tiny_checkpoint(tmp_path_factory.mktemp("model") / "tiny.safetensors")
