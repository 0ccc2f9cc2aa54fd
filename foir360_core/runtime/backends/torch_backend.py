"""PyTorch backend: the reference implementation (CPU fp32; CUDA with fp16 autocast)."""

from __future__ import annotations

import numpy as np

from foir360_core.deps import BackendUnavailableError, require


def resolve_device(torch, device: str) -> str:
    """"auto" -> cuda when PyTorch sees a GPU, else cpu; "cuda" without a GPU is an error."""
    if device not in ("auto", "cuda", "cpu"):
        raise ValueError(f"device must be auto, cuda or cpu, got {device!r}")
    has_cuda = bool(torch.cuda.is_available())
    if device == "cuda" and not has_cuda:
        raise BackendUnavailableError(
            "PyTorch sees no CUDA device; install a CUDA build of torch or use --device cpu"
        )
    return "cuda" if device == "cuda" or (device == "auto" and has_cuda) else "cpu"


class TorchBackend:
    """Runs ``model.export_module()`` (the same graph that is exported to ONNX).

    fp16 (default on CUDA) uses autocast rather than ``.half()``: autocast keeps
    softmax-like reductions in fp32, which the ranking head's ordering depends on.
    """

    name = "torch"

    def __init__(self, model, *, device: str = "auto", fp16: bool | None = None,
                 threads: int | None = None):
        torch = require("torch", "the PyTorch backend")
        self._torch = torch
        self.device = resolve_device(torch, device)
        self.fp16 = (self.device == "cuda") if fp16 is None else bool(fp16)
        if self.fp16 and self.device != "cuda":
            raise BackendUnavailableError("fp16 inference needs CUDA; PyTorch runs fp32 on the CPU")
        self.precision = "fp16" if self.fp16 else "fp32"
        if threads:
            torch.set_num_threads(int(threads))  # process-wide: PyTorch has no per-module setting
        self.output_names = model.output_names
        self.module = model.export_module().eval().to(self.device)

    def infer(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        torch = self._torch
        x = torch.from_numpy(np.ascontiguousarray(batch, np.float32)).to(self.device)
        with torch.inference_mode(), torch.autocast(
            device_type=self.device, dtype=torch.float16, enabled=self.fp16
        ):
            outputs = self.module(x)
        pairs = zip(self.output_names, outputs, strict=True)
        return {name: out.float().cpu().numpy() for name, out in pairs}
