"""Resume state of a batch command: one JSON line per finished item, beside the output.

``foir360 label`` and ``foir360 segment`` keep it in ``<out>.progress/``: one
``shard-I-of-N.jsonl`` per shard (``all.jsonl`` unsharded), each line flushed and fsynced as
soon as its item is done, so a killed run loses at most the items in flight. Every shard's
file is read back, so any run over the same ``--out`` reuses the work of all shards.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)


class JsonlProgress:
    """The ``<out>.progress/`` folder of one run (shard ``shard`` = (I, N))."""

    def __init__(self, out: Path, shard: tuple[int, int]) -> None:
        self.directory = out.with_name(out.name + ".progress")
        self.directory.mkdir(parents=True, exist_ok=True)
        name = "all.jsonl" if shard[1] == 1 else f"shard-{shard[0]}-of-{shard[1]}.jsonl"
        self.path = self.directory / name
        self._repair()

    def _repair(self) -> None:
        """Cut a torn last line (the run was killed while writing it) so that the next line
        does not land on the same one; that item is done again."""
        if not self.path.is_file():
            return
        with self.path.open("rb+") as handle:
            data = handle.read()
            if not data or data.endswith(b"\n"):
                return
            keep = data.rfind(b"\n") + 1
            log.warning("%s: dropping a torn last line (%d bytes; the run was stopped while "
                        "writing it); that item is done again", self.path, len(data) - keep)
            handle.truncate(keep)

    def entries(self) -> Iterator[tuple[Path, dict]]:
        """(file, entry) of every readable line of every shard, in file order."""
        for file in sorted(self.directory.glob("*.jsonl")):
            for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
                try:
                    yield file, json.loads(line)
                except json.JSONDecodeError:
                    log.warning("%s:%d: ignoring a torn progress line (that shard's next run "
                                "repairs it)", file, number)

    def append(self, entry: dict) -> None:
        """Add one finished item, durably."""
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, separators=(",", ":")) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
