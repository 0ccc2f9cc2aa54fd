"""Recover the readable part of a truncated MCAP file (a recorder killed, a copy cut short).

MCAP is a sequence of length-prefixed records; a truncated file lacks its footer, so
``rosbags`` refuses all of it. The complete records before the damage are still valid:
``salvage`` keeps them (unpacking the complete messages of an uncompressed chunk torn in
the middle) and ends them with the footer of an unindexed file, which ``rosbags`` reads by
scanning. Nothing is guessed: a torn record is dropped whole.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"\x89MCAP0\r\n"
_HEADER, _FOOTER, _CHUNK, _DATA_END = 0x01, 0x02, 0x06, 0x0F


@dataclass(frozen=True)
class Salvage:
    """How much of a damaged MCAP file the rebuilt one keeps."""

    kept_bytes: int  # bytes of the original up to the end of the last complete message
    total_bytes: int


def _records(data, start: int, end: int):
    """(opcode, record start, record end) of the complete records in ``data[start:end]``."""
    pos = start
    while pos + 9 <= end:
        (length,) = struct.unpack_from("<Q", data, pos + 1)
        stop = pos + 9 + length
        if stop > end:
            return
        yield data[pos], pos, stop
        pos = stop


def _torn_chunk(data, start: int) -> list[tuple[int, int]]:
    """Spans of the complete records inside an uncompressed chunk cut short (none if
    compressed: a partial stream cannot be trusted)."""
    head = start + 9 + 8 + 8 + 8 + 4  # opcode, length, start/end time, size, crc
    if head + 4 > len(data) or struct.unpack_from("<I", data, head)[0]:
        return []
    return [(a, b) for _, a, b in _records(data, head + 4 + 8, len(data))]


def _footer() -> bytes:
    """Footer of an unindexed file: no summary section, so readers scan the data."""
    return bytes([_FOOTER]) + struct.pack("<QQQI", 20, 0, 0, 0) + MAGIC


def has_footer(path: Path) -> bool:
    """Whether the file ends like a complete MCAP (the footer is written last)."""
    with path.open("rb") as handle:
        if handle.seek(0, 2) < 2 * len(MAGIC):
            return False
        handle.seek(-len(MAGIC), 2)
        return handle.read() == MAGIC


def salvage(src: Path, dst: Path) -> Salvage | None:
    """Write to ``dst`` the complete records of the damaged MCAP ``src`` as a readable file;
    None (nothing written) if ``src`` does not even start like an MCAP."""
    with src.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if len(data) < 9 + len(MAGIC) or data[:8] != MAGIC or data[8] != _HEADER:
            return None
        spans, kept = [], 8
        for opcode, start, stop in _records(data, 8, len(data)):
            if opcode in (_DATA_END, _FOOTER):  # the data section is whole: only the index is hurt
                kept = len(data)
                break
            spans.append((start, stop))
            kept = stop
        else:
            if kept < len(data) and data[kept] == _CHUNK:
                inner = _torn_chunk(data, kept)
                spans.extend(inner)
                kept = inner[-1][1] if inner else kept
        with dst.open("wb") as out:
            out.write(data[:8])
            for start, stop in spans:
                out.write(data[start:stop])
            out.write(_footer())
        return Salvage(kept, len(data))
