"""foir360_core.export (see the package docstring)."""
