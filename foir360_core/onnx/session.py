"""The one place an ONNX Runtime ``InferenceSession`` is built.

Every ONNX file the package runs (the exported PanoRank, user saliency / inpainting /
segmentation exports, the shipped detector) goes through :func:`onnx_session`, so thread
settings, the no-spinning rule and the error for a missing or broken file are the same
everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from foir360_core.deps import require

CPU_PROVIDERS = ("CPUExecutionProvider",)


def onnx_session(
    path: str | Path,
    threads: int | None = 1,
    *,
    providers: Sequence[str] = CPU_PROVIDERS,
    optimize: bool = True,
):
    """An ONNX Runtime session over ``path``; a clear ``ValueError`` for a missing or broken file.

    ``threads`` sets the intra-op pool (``None``: ONNX Runtime's default, one per core).
    Idle worker threads never spin: spinning after each run starves the numpy
    post-processing that follows on a small CPU (measured 10-50x slower on 2 cores).
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
    try:
        return ort.InferenceSession(str(path), options, providers=list(providers))
    except Exception as err:  # onnxruntime raises several private exception types
        raise ValueError(
            f"cannot load ONNX model {path}: {err}; re-export or re-download the file"
        ) from err


def pick_name(names: Sequence[str], wanted: str | None, what: str, path: str) -> str:
    """The configured tensor name, or the only one; a clear error lists what exists."""
    if wanted is None:
        if len(names) != 1:
            raise ValueError(f"{path} has {what}s {list(names)}; say which one to use")
        return names[0]
    if wanted not in names:
        raise ValueError(f"{path} has no {what} named {wanted!r}; it has {list(names)}")
    return wanted
