"""Resume state of a segmentation run: one JSON line per finished panorama.

Like ``foir360 label``, progress lives beside the output in ``<out>.progress/``
(``foir360_core.io.progress``). A line is reused only when its digest, a SHA-256 of the
image file's bytes and the run settings (segmenter, model, views, merge thresholds),
equals the digest now: an edited image or a changed setting is segmented again, and
anything else is kept, whoever (which shard) wrote it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from foir360_core.io.progress import JsonlProgress


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


class SegmentProgress(JsonlProgress):
    """The ``<out>.progress/`` folder of a segmentation run."""

    def finished(self) -> dict[str, dict]:
        """Latest successful entry per image file (absolute path), from every shard."""
        return {entry["file"]: entry for _, entry in self.entries()
                if entry.get("status") == "ok" and "file" in entry}
