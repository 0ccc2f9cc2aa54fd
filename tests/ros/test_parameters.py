"""The ranker node's parameters: generated from the settings classes, typed, and checked.

Over real rclpy (no DDS traffic needed: nodes are only built): every parameter of
config/foir360.yaml given a value of the wrong kind stops the start with one error that
names it and the type it needs; integers where numbers are meant are accepted from
``-p``-style overrides and from a YAML params file; a failed start leaves no second
traceback when rclpy shuts down.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from tests.ros.helpers import REPO, domain_id, ros, tiny_ranker

pytestmark = ros

CONFIG = REPO / "config" / "foir360.yaml"
WRONG = {str: 7, bool: "yes", int: "many", float: "fast"}


@pytest.fixture(scope="module")
def context():
    import rclpy

    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=domain_id(__name__))
    yield ctx
    rclpy.shutdown(context=ctx)  # destroys the half-built nodes too: must not raise


def yaml_parameters() -> dict:
    return yaml.safe_load(CONFIG.read_text())["/**"]["ros__parameters"]


@pytest.mark.parametrize("name", list(yaml_parameters()))
def test_a_wrong_type_names_the_parameter_and_its_type(context, name):
    from rclpy.parameter import Parameter

    from foir360_core.settings.fields import TYPE_WORDS
    from foir360_ros.ranker_node import RankerNode, StartupError

    kind = type(yaml_parameters()[name])
    with pytest.raises(StartupError) as caught:
        RankerNode(context=context, namespace=f"wrong_{name}",
                   parameter_overrides=[Parameter(name, value=WRONG[kind])])
    message = str(caught.value)
    assert f"parameter '{name}' must be {TYPE_WORDS[kind]}" in message, message
    assert message.count("must be") == 1


def test_integers_are_numbers_from_overrides_and_from_a_params_file(tmp_path, tiny_model):
    import rclpy
    from rclpy.parameter import Parameter

    from foir360_ros.ranker_node import RankerNode

    params = tmp_path / "ints.yaml"
    params.write_text(yaml.safe_dump(
        {"/**": {"ros__parameters": {"diagnostics_period": 2, "no_input_warning_s": 3}}}))
    ctx = rclpy.Context()
    rclpy.init(args=["--ros-args", "--params-file", str(params)], context=ctx,
               domain_id=domain_id(__name__))
    try:
        node = RankerNode(ranker=tiny_ranker(tiny_model), context=ctx, namespace="ints",
                          parameter_overrides=[Parameter("score_threshold", value=1),
                                               Parameter("mask_threshold", value=0.25)])
        assert node.node_settings.diagnostics_period == 2.0
        assert isinstance(node.node_settings.diagnostics_period, float)
        assert node.node_settings.no_input_warning_s == 3.0
        assert node.ranker_settings.score_threshold == 1.0
        assert node.ranker_settings.mask_threshold == 0.25
        node.destroy_node()
    finally:
        rclpy.shutdown(context=ctx)


def test_the_node_process_reports_a_bad_parameter_once_without_a_traceback():
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain_id(__name__ + "proc"))}
    done = subprocess.run(
        [sys.executable, "-m", "foir360_ros.ranker_node", "--ros-args",
         "-p", "score_threshold:=high", "-p", "diagnostics_period:=2"],
        capture_output=True, text=True, timeout=120, env=env, cwd=REPO, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "parameter 'score_threshold' must be a number, got str 'high'" in output, output
    assert "Traceback" not in output and "AttributeError" not in output, output


def test_any_settings_class_declares_and_reads_as_parameters(context):
    import rclpy
    from rclpy.parameter import Parameter

    from foir360_core.settings import SettingsError
    from foir360_ros.parameters import declare_settings, read_settings
    from tests.example_settings import TrackerSettings

    node = rclpy.create_node("tracker", context=context,
                             parameter_overrides=[Parameter("max_age_s", value=3)])
    declare_settings(node, TrackerSettings)
    assert read_settings(node, TrackerSettings) == TrackerSettings(max_age_s=3.0)
    descriptor = node.describe_parameter("method")
    assert descriptor.dynamic_typing and "iou | sphere" in descriptor.description
    node.set_parameters([Parameter("method", value="greedy")])
    with pytest.raises(SettingsError, match="parameter 'method' must be one of iou, sphere"):
        read_settings(node, TrackerSettings)
    node.destroy_node()
