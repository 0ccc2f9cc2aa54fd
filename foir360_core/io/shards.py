"""Splitting a dataset between processes or people: ``--shard I/N`` everywhere.

Shards are numbered from 0 and take every N-th item from the I-th, so they are disjoint,
cover the whole collection together, and each gets a mix of all of it (a cluster array
job or an annotator never gets only the hard end of a sorted list).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` with 0 <= I < N → (I, N); anything else raises ``ValueError``."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 0 <= int(match.group(1)) < int(match.group(2)):
        raise ValueError(f"--shard must be I/N with 0 <= I < N (e.g. 0/4), got {text!r}")
    return int(match.group(1)), int(match.group(2))


def shard_items(items: Sequence[T], shard: tuple[int, int]) -> list[T]:
    """The items of shard I of N, in the given order."""
    index, count = shard
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"--shard must be I/N with 0 <= I < N, got {index}/{count}")
    return list(items[index::count])
