"""Typed settings shared by the library, its CLI and the ROS node (see ``fields``)."""

from foir360_core.settings.fields import (
    FieldSpec,
    SettingsError,
    check_fields,
    coerce,
    field_specs,
    setting,
    settings_from_mapping,
)
from foir360_core.settings.ranker import POSTPROCESS_KEYS, RankerSettings

__all__ = [
    "POSTPROCESS_KEYS",
    "FieldSpec",
    "RankerSettings",
    "SettingsError",
    "check_fields",
    "coerce",
    "field_specs",
    "setting",
    "settings_from_mapping",
]
