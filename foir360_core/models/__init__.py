"""foir360_core.models (see the package docstring)."""
