"""A managed cache of TensorRT engines, keyed by everything that makes an engine invalid.

A serialized engine only runs on the TensorRT version and GPU architecture that built it, for
the input shape and precision it was built with, from one exact ONNX file. Running a stale
engine fails at best and gives wrong results at worst, and rebuilding takes minutes, so the
cache keys each engine on all of those, writes a self-describing JSON file next to it, checks
both on every load, and rebuilds (under a file lock, so two nodes starting together build
once) when anything differs. Nothing here needs a GPU; the builder is passed in.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

from foir360_core.io.atomic import atomic_path

log = logging.getLogger(__name__)

ENGINE_FORMAT = "foir360-engine/1"
PRECISIONS = ("fp32", "fp16")
CACHE_ENV = "FOIR360_CACHE_DIR"


class EngineCacheError(RuntimeError):
    """The cache cannot be used (not writable, unreadable engine); the message says the fix."""


def default_cache_dir() -> Path:
    """``$FOIR360_CACHE_DIR``, else ``$XDG_CACHE_HOME/foir360``, else ``~/.cache/foir360``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "foir360"


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks (engines and ONNX files reach hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class EngineKey:
    """Everything an engine depends on; two builds with equal keys are interchangeable."""

    onnx_sha256: str
    tensorrt_version: str
    gpu_name: str
    compute_capability: str
    precision: str
    input_shape: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        shape = tuple(int(d) for d in self.input_shape)
        if not shape or min(shape) <= 0:
            raise ValueError(f"an engine needs a fixed, positive input shape, got {shape}")
        object.__setattr__(self, "input_shape", shape)

    def to_json(self) -> dict:
        return {**asdict(self), "input_shape": list(self.input_shape)}

    @classmethod
    def from_json(cls, data: dict) -> EngineKey:
        missing = [name for name in cls.__dataclass_fields__ if name not in data]
        if missing:
            raise ValueError(f"engine key lacks {missing}")
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})

    @property
    def digest(self) -> str:
        """Short stable hash of the key; part of the engine's file name."""
        text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def differences(self, wanted: EngineKey) -> list[str]:
        """Human-readable fields where this (recorded) key differs from ``wanted``."""
        mine, theirs = self.to_json(), wanted.to_json()
        return [
            f"{name}: engine has {mine[name]!r}, this machine needs {theirs[name]!r}"
            for name in mine
            if mine[name] != theirs[name]
        ]


class EngineStatus(Enum):
    READY = "ready"
    MISSING = "missing"
    STALE = "stale"


@dataclass(frozen=True)
class EngineCheck:
    """Outcome of validating one engine file against the key this machine needs."""

    status: EngineStatus
    engine_path: Path
    reason: str = ""
    metadata: dict | None = None


def metadata_path(engine_path: Path) -> Path:
    """The JSON file that describes ``engine_path`` (``X.engine`` -> ``X.engine.json``)."""
    return engine_path.with_name(engine_path.name + ".json")


def read_metadata(engine_path: Path) -> dict:
    """The sidecar metadata of an engine; ``EngineCacheError`` when absent or unreadable."""
    meta = metadata_path(engine_path)
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EngineCacheError(
            f"{engine_path} has no metadata file {meta.name}; engines are only trusted with "
            "their metadata: rebuild it with `foir360 build-engine MODEL.onnx`"
        ) from None
    except (OSError, json.JSONDecodeError) as err:
        raise EngineCacheError(f"cannot read engine metadata {meta}: {err}") from err
    if not isinstance(data, dict) or data.get("format") != ENGINE_FORMAT:
        raise EngineCacheError(
            f"{meta} is not foir360 engine metadata (expected format {ENGINE_FORMAT!r})"
        )
    return data


def check_engine(engine_path: Path, wanted: EngineKey, *, verify_hash: bool = True) -> EngineCheck:
    """Validate an engine file and its metadata against ``wanted``; never raises."""
    engine_path = Path(engine_path)
    meta = metadata_path(engine_path)
    if not engine_path.exists() and not meta.exists():
        return EngineCheck(EngineStatus.MISSING, engine_path, "no engine built yet")
    try:
        data = read_metadata(engine_path)
        recorded = EngineKey.from_json(data.get("key", {}))
    except (EngineCacheError, ValueError, TypeError) as err:
        return EngineCheck(EngineStatus.STALE, engine_path, f"unusable metadata: {err}")
    reason = _stale_reason(engine_path, data, recorded.differences(wanted), verify_hash)
    status = EngineStatus.STALE if reason else EngineStatus.READY
    return EngineCheck(status, engine_path, reason, data)


def _stale_reason(engine_path: Path, data: dict, diffs: list[str], verify_hash: bool) -> str:
    """Why a keyed engine must not be used ("" when it is sound)."""
    if diffs:
        return "; ".join(diffs)
    if not engine_path.is_file():
        return "metadata without engine file"
    size = engine_path.stat().st_size
    if size != data.get("engine_bytes"):
        return (f"engine file is {size} bytes, metadata says {data.get('engine_bytes')} "
                "(truncated or replaced)")
    if verify_hash and file_sha256(engine_path) != data.get("engine_sha256"):
        return "engine sha256 does not match its metadata (corrupted)"
    return ""


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    """Readers see the old file or the whole new one (``foir360_core.io.atomic``)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def _safe_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "model"


class EngineCache:
    """Engines under ``root/engines``, one ``.engine`` + ``.engine.json`` pair per key."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).expanduser() if root else default_cache_dir()
        self.directory = self.root / "engines"

    def engine_path(self, key: EngineKey, model_name: str) -> Path:
        """Where the engine for ``key`` lives; the name says model, precision and size."""
        height, width = key.input_shape[-2:]
        stem = f"{_safe_stem(model_name)}-{key.precision}-{height}x{width}-{key.digest}"
        return self.directory / f"{stem}.engine"

    def lookup(self, key: EngineKey, model_name: str) -> EngineCheck:
        return check_engine(self.engine_path(key, model_name), key)

    def ensure_writable(self) -> None:
        """Fail before a long build, not after it, when the cache cannot be written."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.directory, prefix=".probe."):
                pass
        except OSError as err:
            raise EngineCacheError(
                f"engine cache {self.directory} is not writable ({err}); set {CACHE_ENV} "
                "or pass --cache-dir to a writable folder"
            ) from err

    @contextlib.contextmanager
    def lock(self, key: EngineKey, model_name: str) -> Iterator[None]:
        """An exclusive, process-wide lock per engine, so concurrent starts build once."""
        self.ensure_writable()
        lock_path = self.engine_path(key, model_name).with_suffix(".lock")
        with open(lock_path, "a+") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def store(
        self, key: EngineKey, model_name: str, engine: bytes, extra: dict | None = None
    ) -> Path:
        """Write an engine and then its metadata, each atomically.

        Metadata goes last: a crash between the two leaves an engine without metadata,
        which ``check_engine`` reports as stale, so a half-finished store is never used.
        """
        self.ensure_writable()
        path = self.engine_path(key, model_name)
        _atomic_write_bytes(path, engine)
        metadata = {
            "format": ENGINE_FORMAT,
            "key": key.to_json(),
            "engine_file": path.name,
            "engine_bytes": len(engine),
            "engine_sha256": hashlib.sha256(engine).hexdigest(),
            "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            **(extra or {}),
        }
        text = json.dumps(metadata, indent=2, sort_keys=True).encode()
        _atomic_write_bytes(metadata_path(path), text)
        return path

    def get_or_build(
        self,
        key: EngineKey,
        model_name: str,
        build: Callable[[], bytes],
        *,
        extra: dict | None = None,
        force: bool = False,
    ) -> Path:
        """The engine for ``key``: reuse a valid one, else build it (once, under the lock)."""
        with self.lock(key, model_name):
            found = self.lookup(key, model_name)
            if found.status is EngineStatus.READY and not force:
                log.info("using cached TensorRT engine %s", found.engine_path)
                return found.engine_path
            if found.status is EngineStatus.STALE:
                log.warning("cached engine %s is stale (%s); rebuilding",
                            found.engine_path.name, found.reason)
            start = time.monotonic()
            engine = build()
            seconds = time.monotonic() - start
            path = self.store(key, model_name, engine,
                              {**(extra or {}), "build_seconds": round(seconds, 1)})
            log.info("built TensorRT engine %s in %.1f s (%.1f MB)", path, seconds,
                     len(engine) / 1e6)
            return path

    def entries(self) -> list[EngineCheck]:
        """Every engine in the cache with its metadata (status READY = intact, not key-checked)."""
        found = []
        for path in sorted(self.directory.glob("*.engine")):
            try:
                data = read_metadata(path)
                intact = path.stat().st_size == data.get("engine_bytes")
                status = EngineStatus.READY if intact else EngineStatus.STALE
                found.append(EngineCheck(status, path, "" if intact else "size mismatch", data))
            except EngineCacheError as err:
                found.append(EngineCheck(EngineStatus.STALE, path, str(err)))
        return found
