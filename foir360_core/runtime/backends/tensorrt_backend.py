"""TensorRT backend: runs a serialized engine with the name-based tensor API (TensorRT 10+).

Device memory comes from PyTorch when a CUDA build of it is installed, else from cuda-python,
so a Jetson deployment does not need PyTorch. This path needs an NVIDIA GPU and could not be
run in this project's CI; tests exercise it only where ``tensorrt`` imports and a GPU exists.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from foir360_core.deps import BackendUnavailableError, require, torch_cuda_available


class _TorchBuffers:
    """Device tensors owned by PyTorch; copies run on PyTorch's current stream."""

    def __init__(self, shapes: dict[str, tuple[int, ...]], dtypes: dict[str, np.dtype]):
        import torch

        self._torch = torch
        self.tensors = {
            name: torch.empty(shape, dtype=torch.from_numpy(np.empty(0, dtypes[name])).dtype,
                              device="cuda")
            for name, shape in shapes.items()
        }
        self.stream = torch.cuda.current_stream().cuda_stream

    def address(self, name: str) -> int:
        return int(self.tensors[name].data_ptr())

    def upload(self, name: str, array: np.ndarray) -> None:
        self.tensors[name].copy_(self._torch.from_numpy(array), non_blocking=False)

    def download(self, names: list[str]) -> dict[str, np.ndarray]:
        return {name: self.tensors[name].float().cpu().numpy() for name in names}


class _CudaPythonBuffers:
    """Device buffers from the CUDA runtime of cuda-python, with one stream."""

    def __init__(self, shapes: dict[str, tuple[int, ...]], dtypes: dict[str, np.dtype]):
        from foir360_core.runtime.tensorrt_build import _cudart

        self._rt = _cudart()
        self.host = {name: np.empty(shape, dtypes[name]) for name, shape in shapes.items()}
        self.device_ptrs = {name: self._check(self._rt.cudaMalloc(arr.nbytes))
                            for name, arr in self.host.items()}
        self.stream = self._check(self._rt.cudaStreamCreate())

    def _check(self, result):
        err, *rest = result if isinstance(result, tuple) else (result,)
        if int(err) != 0:
            raise RuntimeError(f"CUDA runtime error {err}")
        return rest[0] if rest else None

    def address(self, name: str) -> int:
        return int(self.device_ptrs[name])

    def upload(self, name: str, array: np.ndarray) -> None:
        host = self.host[name]
        np.copyto(host, array)
        self._check(self._rt.cudaMemcpyAsync(
            self.device_ptrs[name], host.ctypes.data, host.nbytes,
            self._rt.cudaMemcpyKind.cudaMemcpyHostToDevice, self.stream))

    def download(self, names: list[str]) -> dict[str, np.ndarray]:
        for name in names:
            host = self.host[name]
            self._check(self._rt.cudaMemcpyAsync(
                host.ctypes.data, self.device_ptrs[name], host.nbytes,
                self._rt.cudaMemcpyKind.cudaMemcpyDeviceToHost, self.stream))
        self._check(self._rt.cudaStreamSynchronize(self.stream))
        return {name: self.host[name].astype(np.float32, copy=True) for name in names}

    def __del__(self) -> None:
        for ptr in getattr(self, "device_ptrs", {}).values():
            self._rt.cudaFree(ptr)


class TensorRTBackend:
    """Deserializes an engine and runs it on GPU ``device_index`` with fixed I/O shapes."""

    name = "tensorrt"
    device = "cuda"

    def __init__(self, engine_path: Path, *, precision: str, device_index: int = 0):
        trt = require("tensorrt", "the TensorRT backend")
        self.precision = precision
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self.engine = self._runtime.deserialize_cuda_engine(Path(engine_path).read_bytes())
        if self.engine is None:
            raise BackendUnavailableError(
                f"TensorRT {trt.__version__} could not deserialize {engine_path}; it was built "
                "by another TensorRT version or GPU: rebuild it with `foir360 build-engine`"
            )
        self.context = self.engine.create_execution_context()
        shapes, dtypes, self.inputs, self.outputs = {}, {}, [], []
        for index in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(index)
            shape = tuple(self.engine.get_tensor_shape(name))
            is_input = self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            if is_input and min(shape) < 0:
                shape = tuple(self.engine.get_tensor_profile_shape(name, 0)[1])  # opt shape
                self.context.set_input_shape(name, shape)
            (self.inputs if is_input else self.outputs).append(name)
            dtypes[name] = np.dtype(trt.nptype(self.engine.get_tensor_dtype(name)))
            shapes[name] = shape
        for name in self.outputs:  # output shapes are known once the input shape is set
            shapes[name] = tuple(self.context.get_tensor_shape(name))
        self.input_shape = shapes[self.inputs[0]]
        buffers = _TorchBuffers if torch_cuda_available() else _CudaPythonBuffers
        self.buffers = buffers(shapes, dtypes)
        for name in shapes:
            self.context.set_tensor_address(name, self.buffers.address(name))

    def infer(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        if tuple(batch.shape) != self.input_shape:
            raise ValueError(f"engine input is {self.input_shape}, got a batch of {batch.shape}")
        name = self.inputs[0]
        self.buffers.upload(name, np.ascontiguousarray(batch, np.float32))
        if not self.context.execute_async_v3(self.buffers.stream):
            raise RuntimeError("TensorRT execute_async_v3 failed (see the TensorRT log)")
        return self.buffers.download(self.outputs)
