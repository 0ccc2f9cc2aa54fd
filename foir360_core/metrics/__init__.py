"""foir360_core.metrics (see the package docstring)."""
