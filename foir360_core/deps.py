"""Optional packages (torch, onnx, onnxruntime, tensorrt ...), imported on demand with an
install hint when absent. Used by every layer, so it imports nothing of the package.

The runtime must start on a robot that has only one inference stack installed (TensorRT on a
Jetson, ONNX Runtime on a laptop), so every backend imports its package lazily and a missing
package becomes a ``BackendUnavailableError`` that names the pip extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# backend -> (python module, how to install it)
INSTALL_HINTS: dict[str, tuple[str, str]] = {
    "torch": ("torch", "pip install 'foir360[torch]'"),
    "onnxruntime": ("onnxruntime", "pip install 'foir360[onnx]' (or onnxruntime-gpu for CUDA)"),
    "onnx": ("onnx", "pip install 'foir360[onnx]'"),
    "tensorrt": (
        "tensorrt",
        "pip install 'foir360[tensorrt]' on a desktop GPU, "
        "or JetPack's python3-libnvinfer on Jetson",
    ),
    "cuda-python": ("cuda", "pip install cuda-python (or install torch with CUDA)"),
}


class BackendUnavailableError(RuntimeError):
    """A backend cannot run on this machine; the message says what to install or change."""


def require(name: str, purpose: str) -> ModuleType:
    """Import the package behind ``name`` (a key of ``INSTALL_HINTS``) or explain how to get it."""
    module_name, hint = INSTALL_HINTS[name]
    try:
        return importlib.import_module(module_name)
    except ImportError as err:
        raise BackendUnavailableError(
            f"{purpose} needs the '{module_name}' package, which is not importable here ({err}); "
            f"install it with: {hint}"
        ) from err


def is_importable(name: str) -> bool:
    """True when the package behind ``name`` imports (a cheap probe for backend selection)."""
    try:
        require(name, "probe")
    except BackendUnavailableError:
        return False
    return True


def torch_cuda_available() -> bool:
    """True when PyTorch is installed and sees a CUDA device."""
    if not is_importable("torch"):
        return False
    import torch

    return bool(torch.cuda.is_available())


def onnxruntime_providers() -> list[str]:
    """Execution providers this ONNX Runtime build offers ([] when it is not installed)."""
    if not is_importable("onnxruntime"):
        return []
    import onnxruntime

    return list(onnxruntime.get_available_providers())
