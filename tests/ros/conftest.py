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


@pytest.fixture(scope="session")
def node_model(tiny_model):
    """The shipped synthetic demo model when present (trained on the synthetic frames these
    tests send: objects get local masks), else the tiny untrained one (its masks cover the
    whole panorama)."""
    from foir360_core.models import shipped_model_path

    try:
        return shipped_model_path("panorank-synthetic-demo")
    except FileNotFoundError:
        return tiny_model
