"""foir360_core.synth (see the package docstring)."""
