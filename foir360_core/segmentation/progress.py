"""Resume state of a segmentation run: one JSON line per finished panorama.

Like ``foir360 label``, progress lives beside the output in ``<out>.progress/`` (one
``shard-I-of-N.jsonl`` per shard, ``all.jsonl`` unsharded), each line flushed and fsynced
when its panorama is done. A line is reused only when its digest, a SHA-256 of the
image file's bytes and the run settings (segmenter, model, views, merge thresholds),
equals the digest now: an edited image or a changed setting is segmented again, and
anything else is kept, whoever (which shard) wrote it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


def image_digest(path: Path, settings_digest: str) -> str:
    """SHA-256 of the image file's bytes and the settings digest."""
    sha = hashlib.sha256(settings_digest.encode("ascii"))
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def settings_digest(settings: dict) -> str:
    """SHA-256 of the settings as canonical JSON."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode("utf-8")).hexdigest()


class SegmentProgress:
    """The ``<out>.progress/`` folder of a segmentation run."""

    def __init__(self, out: Path, shard: tuple[int, int]) -> None:
        self.directory = out.with_name(out.name + ".progress")
        self.directory.mkdir(parents=True, exist_ok=True)
        name = "all.jsonl" if shard[1] == 1 else f"shard-{shard[0]}-of-{shard[1]}.jsonl"
        self.path = self.directory / name

    def finished(self) -> dict[str, dict]:
        """Latest successful entry per image file (absolute path), from every shard."""
        done: dict[str, dict] = {}
        for file in sorted(self.directory.glob("*.jsonl")):
            for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    log.warning("%s:%d: ignoring a truncated progress line", file, number)
                    continue
                if entry.get("status") == "ok" and "file" in entry:
                    done[entry["file"]] = entry
        return done

    def append(self, entry: dict) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, separators=(",", ":")) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
