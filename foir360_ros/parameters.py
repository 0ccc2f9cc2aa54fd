"""ROS 2 parameters generated from settings dataclasses (``foir360_core.settings``).

``declare_settings(node, RankerSettings)`` declares one parameter per field, with the
field's name, default and help; ``read_settings`` reads them back into the dataclass. The
same two calls serve any settings class (the node's own, a tracker's ...).

Parameters are declared with dynamic typing and coerced here, because ROS types a value
by how it was written: ``-p score_threshold:=1`` or ``diagnostics_period: 2`` in YAML is an
integer, and should simply mean 1.0 and 2.0. A value of the wrong kind is one
``SettingsError`` naming the parameter and the type it needs.
"""

from __future__ import annotations

from rcl_interfaces.msg import ParameterDescriptor

from foir360_core.settings import field_specs, settings_from_mapping


def declare_settings(node, cls: type) -> None:
    """Declare every field of ``cls`` as a parameter of ``node`` (name, default, help)."""
    for spec in field_specs(cls):
        choices = f" ({' | '.join(spec.choices)})" if spec.choices else ""
        descriptor = ParameterDescriptor(description=spec.help + choices, dynamic_typing=True)
        node.declare_parameter(spec.name, spec.default, descriptor)


def read_settings(node, cls: type):
    """``cls`` from ``node``'s parameters; raises ``SettingsError`` naming a bad one."""
    values = {spec.name: node.get_parameter(spec.name).value for spec in field_specs(cls)}
    return settings_from_mapping(cls, values, "parameter")


def parameter_defaults(*classes: type) -> dict:
    """name -> default of every parameter the classes generate (for docs and tests)."""
    return {spec.name: spec.default for cls in classes for spec in field_specs(cls)}
