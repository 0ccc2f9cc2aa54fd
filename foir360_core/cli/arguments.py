"""Argument types shared by several subcommands."""

from __future__ import annotations

import argparse

from foir360_core.io.shards import parse_shard


def shard_argument(text: str) -> tuple[int, int]:
    """``--shard I/N`` for argparse, with the parser's own message on a bad value."""
    try:
        return parse_shard(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
