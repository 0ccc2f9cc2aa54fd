"""Typed settings dataclasses: one definition, read the same way by the CLI and the ROS node.

A settings class is a frozen dataclass whose fields have plain types (bool, int, float,
str: what argparse and ROS 2 parameters both carry) and defaults, with ``help`` and, where
the value is one of a few words, ``choices`` in the field's metadata (see ``setting``).
``check_fields`` (called from ``__post_init__``) coerces what is safe to coerce (an int
where a float is meant, a path where a string is meant) and rejects the rest with a
``SettingsError`` naming the setting, the expected type and the value. The generators
(``foir360_core.cli.settings_args``, ``foir360_ros.parameters``) work on any such class.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from typing import Any

from foir360_core.errors import UserError

TYPE_WORDS = {bool: "a boolean (true/false)", int: "an integer", float: "a number",
              str: "a string"}


class SettingsError(UserError, ValueError):
    """A setting has the wrong type or value; the message names it and what it accepts."""


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """One setting as the generators see it."""

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[str, ...] | None


def setting(default: Any, help: str, choices: tuple[str, ...] | None = None) -> Any:
    """A settings field with its default, its help line and (optionally) its choices."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices})


def field_specs(cls: type) -> list[FieldSpec]:
    """The fields of a settings class, in declaration order, with resolved types."""
    hints = typing.get_type_hints(cls)
    specs = []
    for f in dataclasses.fields(cls):
        if hints[f.name] not in TYPE_WORDS:
            raise TypeError(f"{cls.__name__}.{f.name}: settings fields are bool, int, float or "
                            f"str, not {hints[f.name]!r}")
        specs.append(FieldSpec(f.name, hints[f.name], f.default, f.metadata.get("help", ""),
                               f.metadata.get("choices")))
    return specs


def coerce(spec: FieldSpec, value: Any, what: str = "setting") -> Any:
    """``value`` as ``spec.type``; an int is a valid float, a path a valid string."""
    wanted = spec.type
    if wanted is float and isinstance(value, int | float) and not isinstance(value, bool):
        value = float(value)
    elif wanted is str and isinstance(value, os.PathLike):
        value = os.fspath(value)
    elif wanted is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, wanted) or (wanted is not bool and isinstance(value, bool)):
        raise SettingsError(f"{what} '{spec.name}' must be {TYPE_WORDS[wanted]}, got "
                            f"{type(value).__name__} {value!r}")
    if spec.choices is not None and value not in spec.choices:
        raise SettingsError(f"{what} '{spec.name}' must be one of {', '.join(spec.choices)}; "
                            f"got {value!r}")
    return value


def check_fields(obj: Any) -> None:
    """Coerce and check every field of a frozen settings instance in place."""
    for spec in field_specs(type(obj)):
        object.__setattr__(obj, spec.name, coerce(spec, getattr(obj, spec.name)))


def settings_from_mapping(cls: type, values: Mapping[str, Any], what: str = "setting"):
    """An instance of ``cls`` from ``values`` (missing names keep their defaults).

    ``what`` names the source in errors ("parameter", "setting").
    """
    specs = {spec.name: spec for spec in field_specs(cls)}
    unknown = sorted(set(values) - set(specs))
    if unknown:
        raise SettingsError(f"unknown {what}(s) {unknown}; known: {sorted(specs)}")
    try:
        return cls(**{name: coerce(specs[name], v, what) for name, v in values.items()})
    except SettingsError as err:
        raise SettingsError(str(err).replace("setting '", f"{what} '")) from None
