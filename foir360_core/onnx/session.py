"""The one place an ONNX Runtime ``InferenceSession`` is built.

Every ONNX file the package runs (the exported PanoRank, user saliency / inpainting /
segmentation exports, the shipped detector) goes through :func:`onnx_session`, so thread
settings, the no-spinning rule and the error for a missing or broken file are the same
everywhere.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
from collections.abc import Sequence
from pathlib import Path

from foir360_core.deps import require

CPU_PROVIDERS = ("CPUExecutionProvider",)

log = logging.getLogger(__name__)


def onnx_session(
    path: str | Path,
    threads: int | None = 1,
    *,
    providers: Sequence[str] = CPU_PROVIDERS,
    optimize: bool = True,
    cache_dir: str | Path | None = None,
    errors_only: bool = False,
):
    """An ONNX Runtime session over ``path``; a clear ``ValueError`` for a missing or broken file.

    ``threads`` sets the intra-op pool (``None``: ONNX Runtime's default, one per core).
    Idle worker threads never spin: spinning after each run starves the numpy
    post-processing that follows on a small CPU (measured 10-50x slower on 2 cores).

    With ``cache_dir`` (CPU sessions only), the fully optimised graph is saved there on
    first use and later sessions load it with optimisation off: graph optimisation was
    about 85 % of a PanoRank session's start (1.6 s → 0.23 s CPU on this machine). The
    saved graph holds CPU-specific kernels (NCHWc), so its name carries the ONNX Runtime
    version and the CPU model as well as the source file's identity. Graphs with control
    flow (``Loop``/``If``/``Scan``, e.g. the rank loop) are not cached: their start is
    already short (0.15 s CPU for the Loop export at 128x256), and ONNX Runtime's saved
    optimised graphs are only checked here on graphs without subgraphs.

    ``errors_only`` keeps ONNX Runtime's warnings out of the log, for a graph whose warnings
    are known and by design.
    """
    ort = require("onnxruntime", "running an ONNX model")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX model not found: {path}")
    options = ort.SessionOptions()
    if optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    if errors_only:
        options.log_severity_level = 3
    if (optimize and cache_dir is not None and tuple(providers) == CPU_PROVIDERS
            and not has_control_flow(path)):
        return _cached_session(ort, path, options, Path(cache_dir))
    return _session(ort, path, options, providers)


# A NodeProto's op_type is field 4 (length-delimited): tag byte 0x22, length, name.
CONTROL_FLOW_TAGS = tuple(b"\x22" + bytes([len(op)]) + op.encode() for op in ("Loop", "If", "Scan"))


def has_control_flow(path: Path) -> bool:
    """Whether the ONNX file at ``path`` has a Loop, If or Scan node (at any depth).

    Scans the serialised bytes instead of parsing: importing ``onnx`` alone costs ~0.7 s
    CPU, more than a whole Loop session start. Weight bytes that match by chance only make
    a graph skip the cache.
    """
    data = path.read_bytes()
    return any(tag in data for tag in CONTROL_FLOW_TAGS)


def _session(ort, path: Path, options, providers: Sequence[str] = CPU_PROVIDERS):
    try:
        return ort.InferenceSession(str(path), options, providers=list(providers))
    except Exception as err:  # onnxruntime raises several private exception types
        raise ValueError(
            f"cannot load ONNX model {path}: {err}; re-export or re-download the file"
        ) from err


def optimized_model_path(ort, path: Path, cache_dir: Path) -> Path:
    """Where the optimised graph of ``path`` for this ONNX Runtime and CPU is cached."""
    stat = path.stat()
    identity = "|".join([str(path.resolve()), str(stat.st_size), str(stat.st_mtime_ns),
                         ort.__version__, platform.machine(), _cpu_model()])
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return cache_dir / f"{path.stem}-ort{ort.__version__}-{digest}.optimized.onnx"


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    return next((line.split(":", 1)[1].strip() for line in text.splitlines()
                 if line.startswith(("model name", "Model", "CPU part"))), platform.processor())


def _cached_session(ort, path: Path, options, cache_dir: Path):
    """Load the cached optimised graph, or optimise ``path`` once and save it (atomically)."""
    cached = optimized_model_path(ort, path, cache_dir)
    if cached.is_file():
        level = options.graph_optimization_level
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            return ort.InferenceSession(str(cached), options, providers=list(CPU_PROVIDERS))
        except Exception as err:  # a truncated or foreign file: rebuild it
            log.warning("ignoring unreadable optimised ONNX cache %s (%s)", cached, err)
            options.graph_optimization_level = level
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f".{cached.name}.{os.getpid()}.partial")
        options.optimized_model_filepath = str(partial)
    except OSError as err:
        log.warning("cannot cache the optimised ONNX graph in %s (%s)", cache_dir, err)
        return _session(ort, path, options)
    options.log_severity_level = 3  # the "hardware specific" warning is why the name has the CPU
    session = _session(ort, path, options)
    try:
        os.replace(partial, cached)
    except OSError as err:
        log.warning("cannot cache the optimised ONNX graph at %s (%s)", cached, err)
    return session


def pick_name(names: Sequence[str], wanted: str | None, what: str, path: str) -> str:
    """The configured tensor name, or the only one; a clear error lists what exists."""
    if wanted is None:
        if len(names) != 1:
            raise ValueError(f"{path} has {what}s {list(names)}; say which one to use")
        return names[0]
    if wanted not in names:
        raise ValueError(f"{path} has no {what} named {wanted!r}; it has {list(names)}")
    return wanted
