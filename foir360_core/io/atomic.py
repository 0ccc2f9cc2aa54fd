"""Atomic file replacement, for every file foir360 writes that someone may be reading.

Dataset JSONs, checkpoints, ONNX files and TensorRT engines are written to a temporary
file beside the target, flushed to disk and renamed over it: a reader (a node starting,
a resumed job) sees the old file or the whole new one, never half of one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path, *, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on a clean exit move it into place.

    The finished file gets mode 0644 (``mkstemp`` creates 0600, which would hide shipped
    models from other users). On an exception the temporary file is removed and the
    target is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
