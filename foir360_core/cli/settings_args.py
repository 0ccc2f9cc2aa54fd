"""Command-line flags generated from a settings dataclass (``foir360_core.settings``).

``add_settings_arguments(parser, RankerSettings)`` adds ``--score-threshold`` and friends,
each with the field's type, choices and help, and its default shown from the dataclass;
``settings_from_args`` reads them back. A flag the user did not give stays ``None`` in the
namespace, so the dataclass default applies: defaults live in the dataclass only.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from foir360_core.settings import field_specs, settings_from_mapping

METAVARS = {int: "N", float: "X", str: "TEXT"}


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_settings_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    *,
    exclude: Iterable[str] = (),
) -> None:
    """One flag per field of ``cls`` (booleans get ``--name`` / ``--no-name``)."""
    skip = set(exclude)
    for spec in field_specs(cls):
        if spec.name in skip:
            continue
        shown = repr(spec.default) if spec.type is str else spec.default
        text = f"{spec.help} (default: {shown})"
        if spec.type is bool:
            parser.add_argument(flag(spec.name), action=argparse.BooleanOptionalAction,
                                default=None, help=text)
        else:
            parser.add_argument(flag(spec.name), type=spec.type, choices=spec.choices,
                                default=None, help=text,
                                metavar=None if spec.choices else METAVARS[spec.type])


def settings_from_args(cls: type, args: argparse.Namespace, **given):
    """``cls`` from the flags the user gave, plus ``given`` values (e.g. a positional)."""
    values = {spec.name: getattr(args, spec.name) for spec in field_specs(cls)
              if getattr(args, spec.name, None) is not None}
    values.update({k: v for k, v in given.items() if v is not None})
    return settings_from_mapping(cls, values, "option")
