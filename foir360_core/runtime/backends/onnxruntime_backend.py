"""ONNX Runtime backend (CUDA or CPU execution provider)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from foir360_core.deps import BackendUnavailableError, require
from foir360_core.models.artifact import INPUT_NAME, THRESHOLD_INPUT, ModelInfo, session_info
from foir360_core.onnx import onnx_session

CUDA_EP = "CUDAExecutionProvider"
CPU_EP = "CPUExecutionProvider"


def choose_providers(available: list[str], device: str) -> list[str]:
    """Execution providers for ``device`` ("auto", "cuda" or "cpu") from those available.

    "auto" takes CUDA when this ONNX Runtime build has it; "cuda" insists (the CPU provider
    stays listed after it, as ONNX Runtime's own fallback for unsupported nodes).
    """
    if device not in ("auto", "cuda", "cpu"):
        raise ValueError(f"device must be auto, cuda or cpu, got {device!r}")
    if device != "cpu" and CUDA_EP in available:
        return [CUDA_EP, CPU_EP]
    if device == "cuda":
        raise BackendUnavailableError(
            f"this onnxruntime offers {available}, not {CUDA_EP}; install onnxruntime-gpu "
            "(pip install onnxruntime-gpu) or use --device cpu"
        )
    return [CPU_EP]


class OnnxRuntimeBackend:
    """An ``InferenceSession`` over an exported PanoRank ONNX file."""

    name = "onnxruntime"
    precision = "fp32"

    def __init__(self, onnx_path: Path, *, device: str = "auto", threads: int | None = None,
                 cache_dir: Path | None = None, rank_threshold: float = 0.0):
        """``cache_dir``: where CPU sessions keep their optimised graph (see ``onnx_session``).

        ``rank_threshold``: post-processing's score threshold, fed to Loop exports that take
        it (``runtime.rank_loop``: their rank loop stops once no query left reaches it);
        older exports have no such input and ignore it.
        """
        ort = require("onnxruntime", "the ONNX Runtime backend")
        providers = choose_providers(list(ort.get_available_providers()), device)
        self.path = Path(onnx_path)
        # On the CPU, ONNX Runtime's one warning for a Loop export is that its rank_threshold
        # input has a default (an initializer of the same name), which is how ONNX gives an
        # input a default: by design, so not printed at every start. GPU sessions log all.
        self.session = onnx_session(onnx_path, threads, providers=providers, cache_dir=cache_dir,
                                    errors_only=providers == [CPU_EP])
        self.providers = self.session.get_providers()
        self.device = "cuda" if self.providers[0] == CUDA_EP else "cpu"
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.extra_inputs: dict[str, np.ndarray] = {}
        # An input with a default is an "overridable initializer" to ONNX Runtime.
        if THRESHOLD_INPUT in {i.name for i in self.session.get_overridable_initializers()}:
            self.extra_inputs[THRESHOLD_INPUT] = np.array(rank_threshold, np.float32)

    def model_info(self) -> ModelInfo:
        """The ``ModelInfo`` in the file's metadata, read from this session: a separate read
        would import ``onnx``, which alone costs about 0.8 s of a node's start."""
        return session_info(self.session, source=str(self.path))

    def infer(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        feed = {INPUT_NAME: np.ascontiguousarray(batch, np.float32), **self.extra_inputs}
        outputs = self.session.run(None, feed)
        return dict(zip(self.output_names, outputs, strict=True))
