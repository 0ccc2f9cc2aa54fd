"""``RankerSettings`` and the generic settings machinery: one typed definition, checked values,
flags generated for the CLI, and the same settings reaching ``Ranker`` and the validation."""

from __future__ import annotations

import argparse

import pytest

from foir360_core.cli.settings_args import add_settings_arguments, settings_from_args
from foir360_core.settings import (
    RankerSettings,
    SettingsError,
    field_specs,
    settings_from_mapping,
)


def test_defaults_types_and_derived_values():
    s = RankerSettings()
    assert (s.score_threshold, s.mask_threshold, s.max_instances) == (0.5, 0.5, 50)
    assert s.input_size is None and s.fp16 is None
    assert RankerSettings(input_height=96).input_size == (96, 192)
    assert RankerSettings(precision="fp32").fp16 is False
    assert RankerSettings(score_threshold=1).score_threshold == 1.0  # an int is a number
    assert isinstance(RankerSettings(score_threshold=1).score_threshold, float)
    assert {spec.type for spec in field_specs(RankerSettings)} <= {bool, int, float, str}


@pytest.mark.parametrize(("values", "message"), [
    ({"score_threshold": "high"}, "'score_threshold' must be a number, got str 'high'"),
    ({"max_instances": 2.5}, "'max_instances' must be an integer, got float 2.5"),
    ({"allow_fallback": 1}, "'allow_fallback' must be a boolean"),
    ({"threads": True}, "'threads' must be an integer, got bool True"),
    ({"backend": "cuda"}, "'backend' must be one of auto, tensorrt, onnxruntime, torch"),
    ({"mask_threshold": 1.0}, "'mask_threshold' must be a probability in (0, 1)"),
    ({"max_instances": 0}, "'max_instances' must be > 0"),
    ({"input_height": 100}, "multiple of 32 (or 0), got 100; try 96"),
    ({"precision": "fp16", "device": "cpu"}, "precision 'fp16' needs a GPU"),
])
def test_bad_values_name_the_setting_and_what_it_takes(values, message):
    with pytest.raises(SettingsError) as caught:
        RankerSettings(**values)
    assert message in str(caught.value)


def test_mapping_reader_rejects_unknown_names_and_names_its_source():
    with pytest.raises(SettingsError, match=r"unknown parameter\(s\) \['score'\]"):
        settings_from_mapping(RankerSettings, {"score": 0.3}, "parameter")
    with pytest.raises(SettingsError, match="parameter 'device' must be a string"):
        settings_from_mapping(RankerSettings, {"device": 0}, "parameter")


def test_cli_flags_are_generated_and_only_given_flags_override_defaults():
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser, RankerSettings, exclude=("model",))
    flags = {a.option_strings[0] for a in parser._actions if a.option_strings} - {"-h"}
    assert flags == {"--" + s.name.replace("_", "-") for s in field_specs(RankerSettings)
                     if s.name != "model"}
    args = parser.parse_args(["--score-threshold", "0.3", "--no-allow-fallback",
                              "--precision", "fp32", "--input-height", "96"])
    s = settings_from_args(RankerSettings, args, model="m.onnx")
    assert (s.score_threshold, s.allow_fallback, s.precision, s.input_size, s.model) == (
        0.3, False, "fp32", (96, 192), "m.onnx")
    assert s.max_instances == RankerSettings.max_instances  # not given: the default
    with pytest.raises(SystemExit):
        parser.parse_args(["--backend", "cuda"])  # choices come from the dataclass


def test_any_settings_class_gets_the_same_treatment():
    from tests.example_settings import TrackerSettings

    parser = argparse.ArgumentParser()
    add_settings_arguments(parser, TrackerSettings)
    tracker = settings_from_args(TrackerSettings, parser.parse_args(["--max-age-s", "2"]))
    assert tracker == TrackerSettings(max_age_s=2.0)
    with pytest.raises(SettingsError, match="'method' must be one of iou, sphere"):
        TrackerSettings(method="greedy")


def test_validation_reads_its_thresholds_through_the_settings():
    from foir360_core.models.config import DEFAULT_CONFIG
    from foir360_core.training.validate import validation_settings

    assert validation_settings(DEFAULT_CONFIG["val"]) == RankerSettings()
    assert validation_settings({"max_instances": 12}).max_instances == 12
    with pytest.raises(SettingsError, match="val 'score_threshold' must be a number"):
        validation_settings({"score_threshold": "none"})


def test_ranker_takes_settings_and_keyword_overrides(tmp_path):
    pytest.importorskip("torch")
    from foir360_core.runtime import Ranker
    from tests.tiny_model import save_tiny_checkpoint

    checkpoint = save_tiny_checkpoint(tmp_path / "tiny.safetensors", "1")
    settings = RankerSettings(model=str(checkpoint), backend="torch", device="cpu",
                              score_threshold=0.2, threads=1)
    ranker = Ranker(settings=settings, max_instances=3)
    assert ranker.postprocess == {"score_threshold": 0.2, "mask_threshold": 0.5,
                                  "max_instances": 3, "duplicate_iou": 0.5,
                                  "largest_part": True}
    assert ranker.backend == "torch" and ranker.model_path == checkpoint
    pinned = Ranker(checkpoint, "torch", settings=RankerSettings(backend="onnxruntime"),
                    device="cpu", threads=1)
    assert pinned.backend == "torch"  # the explicit argument wins over the settings object
    with pytest.raises(TypeError, match="fp16"):
        Ranker(checkpoint, "torch", fp16=True)  # not a setting: precision="fp16" is
