"""foir360_core.labeling (see the package docstring)."""
