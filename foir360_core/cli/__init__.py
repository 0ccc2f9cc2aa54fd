"""The ``foir360`` command: one entry point, one module per subcommand."""
