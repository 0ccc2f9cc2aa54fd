"""foir360_core.training (see the package docstring)."""
