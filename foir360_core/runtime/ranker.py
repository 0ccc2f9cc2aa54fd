"""``Ranker``: one entry point that ranks the objects of an ERP panorama on any backend.

The node, the bag replay, the demo and the evaluation all call ``Ranker.rank``; only the
inference step differs per backend. Pre-processing (``models.preprocess.prepare_input``) and
post-processing (``models.postprocess.outputs_to_instances``) are the very functions the
training validation uses, so a backend cannot change what "the model's answer" means.

Artifacts: a PyTorch checkpoint (``.safetensors``), an exported ONNX file or a TensorRT
engine. A checkpoint can run on every backend: for ONNX Runtime and TensorRT it is exported
once (parity-checked) into the cache; TensorRT engines are built once per machine into the
engine cache (see ``engine_cache``).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from foir360_core.deps import BackendUnavailableError, require
from foir360_core.geometry import check_erp_shape
from foir360_core.models.artifact import ModelInfo
from foir360_core.runtime.backends import Backend
from foir360_core.runtime.engine_cache import (
    EngineCache,
    EngineCacheError,
    EngineKey,
    EngineStatus,
    check_engine,
    read_metadata,
)
from foir360_core.runtime.provision import ensure_engine, ensure_onnx
from foir360_core.runtime.selection import (
    ArtifactKind,
    detect_kind,
    plan_backends,
    resolve_model,
)
from foir360_core.runtime.tensorrt_build import EngineBuildError
from foir360_core.runtime.timing import LatencyCounter, StageTimings
from foir360_core.settings import RankerSettings
from foir360_core.structures import PanoInstances

log = logging.getLogger(__name__)

# Failures after which another backend may take over (when fallback is allowed). Errors in
# the model file or the arguments are not among them: those must reach the user.
RECOVERABLE = (BackendUnavailableError, EngineBuildError, EngineCacheError)


def tensorrt_precision(settings: RankerSettings) -> str:
    """The engine precision for ``settings``: fp16 unless fp32 is asked for (engines run on
    a GPU, where fp16 is the sensible default); ``build-engine`` uses the same rule, so it
    provisions the very engine a ranker with the same settings looks for."""
    return "fp32" if settings.precision == "fp32" else "fp16"


class Ranker:
    """Rank every object of an ERP panorama with a PanoRank model.

    ``settings`` (``RankerSettings``) says which model, backend, device, precision,
    thread count and post-processing thresholds to use; ``model``, ``backend`` and any
    keyword named like a settings field override it (``Ranker(path, "torch",
    score_threshold=0.3)``). ``model`` is a checkpoint, ONNX file or TensorRT engine, or the
    name of a shipped model (``models.SHIPPED_MODELS``); empty = the shipped default model
    (a shipped model loads from its ONNX copy unless the backend is PyTorch: no torch).
    ``backend`` "auto" takes TensorRT if importable with a GPU,
    else ONNX Runtime, else PyTorch. With ``allow_fallback`` an explicit backend that cannot
    run here is replaced by the next compatible one, with a warning in the log; without it,
    construction fails with a message that names what to install. ``input_height``
    overrides the model's own input size (a checkpoint adapts; a fixed-shape ONNX or engine
    must match). ``precision`` "auto" = fp16 on CUDA for PyTorch and TensorRT, fp32
    otherwise. ``threads`` limits CPU threads (ONNX Runtime per session; PyTorch
    process-wide); on a CPU shared with other busy processes, 1 thread can be several times
    faster than the default (see ``benchmarks/bench_runtime.py``). A ``Ranker`` is not
    thread-safe: give each thread its own, or serialise calls.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        backend: str | None = None,
        *,
        settings: RankerSettings | None = None,
        strict_erp: bool = False,
        **overrides,
    ) -> None:
        settings = settings or RankerSettings()
        given = {"model": model, "backend": backend}
        overrides.update({k: v for k, v in given.items() if v is not None})
        self.settings = dataclasses.replace(settings, **overrides)
        self.model_path = resolve_model(self.settings.model, self.settings.backend)
        self.kind = detect_kind(self.model_path)
        backend = self.requested_backend = self.settings.backend
        self.postprocess = self.settings.postprocess()
        self.strict_erp = strict_erp
        self.cache = EngineCache(self.settings.cache_dir or None)
        self.fallbacks: list[str] = []
        self._counter = LatencyCounter()
        for name in plan_backends(self.kind, backend, self.settings.allow_fallback):
            try:
                self._backend, self.model_info = self._load(name)
                break
            except RECOVERABLE as err:
                self.fallbacks.append(f"{name}: {err}")
                level = logging.INFO if backend == "auto" else logging.WARNING
                log.log(level, "backend %s cannot run %s here: %s", name, self.model_path.name, err)
        else:
            raise BackendUnavailableError(
                f"no backend can run {self.model_path} on this machine:\n  "
                + "\n  ".join(self.fallbacks)
            )
        if self.fallbacks and backend != "auto":
            log.warning("falling back from %s to %s for %s", backend, self._backend.name,
                        self.model_path.name)
        self.input_size = self.model_info.input_size
        log.info("ranker ready: %s v%s on %s (%s, %s), input %dx%d", self.model_info.name,
                 self.model_info.version, self._backend.name, self._backend.device,
                 self._backend.precision, *self.input_size)

    # -- loading -------------------------------------------------------------------------

    def _load(self, name: str) -> tuple[Backend, ModelInfo]:
        opts = self.settings
        if name == "torch":
            from foir360_core.runtime.backends.torch_backend import TorchBackend

            require("torch", "the PyTorch backend")
            from foir360_core.models.artifact import info_from_checkpoint
            from foir360_core.models.checkpoint import load_checkpoint

            model, meta = load_checkpoint(self.model_path)
            info = info_from_checkpoint(meta, opts.input_size)
            backend = TorchBackend(model.float(), device=opts.device, fp16=opts.fp16,
                                   threads=opts.threads or None)
            return backend, info
        if name == "onnxruntime":
            from foir360_core.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend

            require("onnxruntime", "the ONNX Runtime backend")
            backend = OnnxRuntimeBackend(self._onnx_path(), device=opts.device,
                                         threads=opts.threads or None,
                                         cache_dir=self.cache.root / "onnxruntime",
                                         rank_threshold=self.postprocess["score_threshold"])
            return backend, self._checked_info(backend.model_info())
        return self._load_tensorrt()

    def _checked_info(self, info: ModelInfo) -> ModelInfo:
        """Apply an ``input_size`` override where the artifact allows it."""
        wanted = self.settings.input_size
        if wanted is None or wanted == info.input_size:
            return info
        if not info.dynamic_shapes:
            raise ValueError(
                f"{self.model_path.name} has a fixed input of {info.input_size[0]}x"
                f"{info.input_size[1]}; export it again with --input-size {wanted[0]} {wanted[1]}"
            )
        return dataclasses.replace(info, input_size=wanted)

    def _onnx_path(self) -> Path:
        return ensure_onnx(self.model_path, self.cache, self.settings.input_size)

    def _precision(self) -> str:
        return tensorrt_precision(self.settings)

    def _load_tensorrt(self) -> tuple[Backend, ModelInfo]:
        from foir360_core.runtime.backends.tensorrt_backend import TensorRTBackend
        from foir360_core.runtime.tensorrt_build import gpu_identity

        trt = require("tensorrt", "the TensorRT backend")
        gpu_name, capability = gpu_identity()
        if self.kind is ArtifactKind.ENGINE:
            meta = read_metadata(self.model_path)
            recorded = EngineKey.from_json(meta["key"])
            wanted = dataclasses.replace(recorded, tensorrt_version=trt.__version__,
                                         gpu_name=gpu_name, compute_capability=capability)
            found = check_engine(self.model_path, wanted)
            if found.status is not EngineStatus.READY:
                raise EngineCacheError(
                    f"engine {self.model_path} cannot run here ({found.reason}); rebuild it "
                    "from its ONNX with `foir360 build-engine MODEL.onnx`"
                )
            info = self._checked_info(ModelInfo.from_json(meta["model"]))
            return TensorRTBackend(self.model_path, precision=recorded.precision), info
        precision = self._precision()
        engine, info = ensure_engine(
            self._onnx_path(), self.cache, precision=precision,
            workspace_mb=self.settings.workspace_mb, input_size=self.settings.input_size,
        )
        return TensorRTBackend(engine, precision=precision), self._checked_info(info)

    # -- inference -----------------------------------------------------------------------

    def rank(
        self, image: np.ndarray, mask_size: tuple[int, int] | None = None, *, bgr: bool = False
    ) -> PanoInstances:
        """Rank the objects of one ERP panorama.

        ``image``: (H, W, 3) uint8, RGB (or BGR with ``bgr=True``, as OpenCV and most ROS
        cameras deliver), any size; W = 2H expected (warned about, or rejected with
        ``strict_erp``). Returns ``PanoInstances`` with unique ranks (1 = most important),
        scores, class ids and class scores, and masks at ``mask_size`` (h, w) or the image's
        size; ``.geometry`` gives spherical centres and seam-aware boxes.
        """
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                f"expected an (H, W, 3) uint8 image, got {image.dtype} {image.shape}; "
                "convert grey or 16-bit frames to 8-bit colour first"
            )
        check_erp_shape(image.shape[0], image.shape[1], strict=self.strict_erp)
        from foir360_core.models.postprocess import outputs_to_instances
        from foir360_core.models.preprocess import prepare_input

        out_size = tuple(mask_size) if mask_size else image.shape[:2]
        with self._counter.stage("pre"):
            batch = prepare_input(image, self.input_size, bgr=bgr)
        with self._counter.stage("infer"):
            outputs = self._backend.infer(batch)
        with self._counter.stage("post"):
            instances = outputs_to_instances(outputs, rank_head=self.model_info.rank_head,
                                             out_size=out_size, **self.postprocess)
        self._counter.finish()
        return instances

    def warmup(self, runs: int = 1) -> StageTimings:
        """Run ``runs`` inferences on a blank panorama, so the first real frame is not slow."""
        blank = np.zeros((*self.input_size, 3), dtype=np.uint8)
        for _ in range(runs):
            self.rank(blank)
        return self.timings

    @property
    def timings(self) -> StageTimings:
        """Milliseconds per stage (pre, infer, post) of the last ``rank`` call."""
        return self._counter.last or StageTimings()

    def latency_summary(self) -> dict[str, dict[str, float]]:
        """p50 / p95 / mean per stage over the last 256 calls."""
        return self._counter.summary()

    @property
    def backend(self) -> str:
        return self._backend.name

    @property
    def info(self) -> dict:
        """What runs: model name/version/classes/input size, backend, device, precision."""
        info = self.model_info
        return {
            "model_name": info.name,
            "model_version": info.version,
            "class_names": list(info.class_names),
            "input_size": list(self.input_size),
            "config_hash": info.config_hash,
            "backend": self._backend.name,
            "device": self._backend.device,
            "precision": self._backend.precision,
            "model_path": str(self.model_path),
            "requested_backend": self.requested_backend,
            "fallbacks": list(self.fallbacks),
        }
