"""foir360_core.runtime (see the package docstring)."""
