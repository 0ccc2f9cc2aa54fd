"""Build TensorRT engines from ONNX, for TensorRT 10 and 11, with progress in the log.

TensorRT 10 and 11 differ in how precision is chosen. TensorRT 10 still has weakly typed
networks with ``BuilderFlag.FP16`` (deprecated since 10.12); TensorRT 11 removed every
precision flag and always builds strongly typed networks, so the precision must already be
in the ONNX (ModelOpt AutoCast for FP16, Q/DQ nodes for INT8). ``build_serialized_engine``:

* TensorRT 10, fp32 ONNX: weakly typed network, ``BuilderFlag.FP16`` when fp16 is asked;
* TensorRT 10, ONNX that already holds fp16 tensors: ``STRONGLY_TYPED`` network, no flag;
* TensorRT 11: strongly typed always; for fp16 from an fp32 ONNX it first converts the ONNX
  with ModelOpt AutoCast (``nvidia-modelopt``), keeping fp32 inputs and outputs.

Builds take minutes on embedded GPUs, so a heartbeat logs "still building" at a fixed
interval and, where TensorRT offers ``IProgressMonitor`` (10.0+), phase progress is logged
too (throttled).

Versions checked: none by execution. This project's machines have no GPU and the TensorRT
wheels are too large to carry to the lent GPU machine, so this module and the TensorRT
backend have only run here as far as their "TensorRT is missing" paths. The calls follow the
TensorRT 10.x Python API reference (name-based I/O tensors, ``execute_async_v3``,
``build_serialized_network``, ``IProgressMonitor``) and NVIDIA's 10.x -> 11.x migration
guide (precision flags removed, ``STRONGLY_TYPED`` always on and deprecated as a flag).
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from foir360_core.deps import BackendUnavailableError, require
from foir360_core.runtime.engine_cache import EngineKey, file_sha256

log = logging.getLogger(__name__)


class EngineBuildError(RuntimeError):
    """TensorRT could not parse or build the network; the message carries its errors."""


def tensorrt_major(version: str) -> int:
    """Major version from a TensorRT version string such as ``"10.13.0.35"``."""
    try:
        return int(version.split(".", maxsplit=1)[0])
    except ValueError:
        raise ValueError(f"cannot read a TensorRT version from {version!r}") from None


def gpu_identity(device: int = 0) -> tuple[str, str]:
    """(GPU name, compute capability "major.minor") via PyTorch, else cuda-python."""
    try:
        import torch

        if torch.cuda.is_available():
            major, minor = torch.cuda.get_device_capability(device)
            return torch.cuda.get_device_name(device), f"{major}.{minor}"
    except ImportError:
        pass
    try:
        cudart = _cudart()
    except BackendUnavailableError as err:
        raise BackendUnavailableError(
            f"TensorRT needs a CUDA GPU: PyTorch sees none here, and {err}"
        ) from err
    err, props = cudart.cudaGetDeviceProperties(device)
    if int(err) != 0:
        raise BackendUnavailableError(
            f"no usable CUDA device {device} (cudaGetDeviceProperties: {err})"
        )
    name = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
    return name.rstrip("\x00"), f"{props.major}.{props.minor}"


def _cudart():
    """The CUDA runtime module of cuda-python (its path moved in cuda-python 12.6)."""
    require("cuda-python", "TensorRT without a CUDA build of PyTorch")
    try:
        from cuda.bindings import runtime
    except ImportError:
        from cuda import cudart as runtime
    return runtime


def onnx_has_fp16(onnx_path: Path) -> bool:
    """True when the ONNX already stores fp16 weights (exported or converted to mixed precision)."""
    onnx = require("onnx", "reading an ONNX model")
    model = onnx.load(str(onnx_path), load_external_data=False)
    return any(init.data_type == onnx.TensorProto.FLOAT16 for init in model.graph.initializer)


def engine_key(onnx_path: Path, precision: str, input_shape: tuple[int, ...]) -> EngineKey:
    """The cache key of an engine for this ONNX on this machine's TensorRT and GPU."""
    trt = require("tensorrt", "the TensorRT backend")
    gpu_name, capability = gpu_identity()
    return EngineKey(
        onnx_sha256=file_sha256(Path(onnx_path)),
        tensorrt_version=trt.__version__,
        gpu_name=gpu_name,
        compute_capability=capability,
        precision=precision,
        input_shape=tuple(input_shape),
    )


@contextmanager
def heartbeat(what: str, interval_s: float = 30.0):
    """Log "still building" every ``interval_s`` seconds until the block ends.

    A robot operator watching a node start must see that a build is running and how long
    it has taken, even when TensorRT itself reports nothing for minutes.
    """
    stop = threading.Event()
    start = time.monotonic()

    def beat() -> None:
        while not stop.wait(interval_s):
            log.info("%s: still running after %.0f s (first builds can take 10+ minutes)",
                     what, time.monotonic() - start)

    thread = threading.Thread(target=beat, name="engine-build-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _progress_monitor(trt, throttle_s: float = 5.0):
    """An ``IProgressMonitor`` that logs top-level phases and throttled step counts."""

    class _LogProgress(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)
            self._steps: dict[str, int] = {}
            self._last = 0.0
            self._lock = threading.Lock()

        def phase_start(self, phase_name, parent_phase, num_steps):
            with self._lock:
                self._steps[phase_name] = num_steps
            if parent_phase is None:
                log.info("TensorRT build phase: %s (%d steps)", phase_name, num_steps)

        def step_complete(self, phase_name, step):
            now = time.monotonic()
            with self._lock:
                if now - self._last >= throttle_s:
                    self._last = now
                    log.info("TensorRT build: %s step %d/%d", phase_name, step + 1,
                             self._steps.get(phase_name, 0))
            return True

        def phase_finish(self, phase_name):
            log.debug("TensorRT build phase done: %s", phase_name)

    return _LogProgress()


def _autocast_fp16(onnx_path: Path, workdir: Path) -> Path:
    """TensorRT 11 path to fp16: convert the ONNX to mixed precision with ModelOpt AutoCast."""
    try:
        from modelopt.onnx.autocast import convert_to_mixed_precision
    except ImportError as err:
        raise BackendUnavailableError(
            "TensorRT 11 removed BuilderFlag.FP16: an fp16 engine needs an fp16 ONNX. Install "
            "ModelOpt (pip install 'nvidia-modelopt[onnx]') so build-engine can convert it, or "
            "build an fp32 engine (--precision fp32)"
        ) from err
    onnx = require("onnx", "saving the fp16 ONNX")
    converted = convert_to_mixed_precision(
        onnx_path=str(onnx_path), low_precision_type="fp16", keep_io_types=True
    )
    out = workdir / f"{onnx_path.stem}.fp16.onnx"
    onnx.save(converted, str(out))
    return out


def build_serialized_engine(
    onnx_path: Path, *, precision: str, input_shape: tuple[int, ...], workspace_mb: int = 1024,
    heartbeat_s: float = 30.0,
) -> bytes:
    """Parse ``onnx_path`` and build a serialized engine for one fixed input shape."""
    trt = require("tensorrt", "building a TensorRT engine")
    major = tensorrt_major(trt.__version__)
    typed_onnx = onnx_has_fp16(onnx_path)
    log.info("building TensorRT %s engine (%s, input %s, workspace %d MB) from %s",
             trt.__version__, precision, "x".join(map(str, input_shape)), workspace_mb, onnx_path)
    with tempfile.TemporaryDirectory(prefix="foir360-trt-") as workdir:
        source = onnx_path
        if major >= 11 and precision == "fp16" and not typed_onnx:
            source = _autocast_fp16(onnx_path, Path(workdir))
        logger = trt.Logger(trt.Logger.WARNING)
        builder = trt.Builder(logger)
        flags = 0
        if major < 11 and typed_onnx:
            flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
        network = builder.create_network(flags)
        parser = trt.OnnxParser(network, logger)
        if not parser.parse_from_file(str(source)):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise EngineBuildError(f"TensorRT could not parse {source}: {errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
        if major < 11 and precision == "fp16" and not typed_onnx:
            config.set_flag(trt.BuilderFlag.FP16)
        dynamic = [network.get_input(i) for i in range(network.num_inputs)
                   if any(int(d) < 0 for d in network.get_input(i).shape)]
        if dynamic:  # a dynamic-shape ONNX is pinned to the one shape this engine serves
            profile = builder.create_optimization_profile()
            for tensor in dynamic:
                profile.set_shape(tensor.name, input_shape, input_shape, input_shape)
            config.add_optimization_profile(profile)
        if hasattr(trt, "IProgressMonitor"):
            monitor = _progress_monitor(trt)
            config.progress_monitor = monitor
        with heartbeat(f"TensorRT build of {onnx_path.name}", heartbeat_s):
            serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineBuildError(
            f"TensorRT failed to build {onnx_path} (see its log above); try a larger "
            "--workspace-mb or an fp32 build"
        )
    return bytes(serialized)
