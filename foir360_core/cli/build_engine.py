"""Build (or validate) the TensorRT engine of a model in the engine cache.

The engine is keyed on the ONNX file's sha256, the TensorRT version, the GPU name and
compute capability, the precision and the input shape, and stored with a JSON description
beside it; an existing valid engine is reused, a stale one rebuilt. Builds take minutes on
embedded GPUs: progress is logged throughout. --build-only provisions a robot ahead of time
(build, then exit without running it); without it the engine is also loaded and run once.
--list shows the cache. The engine's precision follows --precision as a ranker does (auto and
fp16 build fp16, fp32 builds fp32), so the default provisions the engine a default ranker
node looks for. TensorRT 11 has no FP16 builder flag: fp16 then converts the ONNX with
ModelOpt AutoCast (nvidia-modelopt) first.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from foir360_core.cli.settings_args import add_settings_arguments, settings_from_args
from foir360_core.settings import RankerSettings

# Settings that do not change an engine: the engine is built for any of them.
ENGINE_IRRELEVANT = ("model", "backend", "allow_fallback", "device", "threads",
                     "score_threshold", "mask_threshold", "max_instances")

log = logging.getLogger("foir360.build_engine")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?",
                        help="ONNX file (or a checkpoint, exported to ONNX first)")
    add_settings_arguments(parser.add_argument_group("ranker settings (TensorRT)"),
                           RankerSettings, exclude=ENGINE_IRRELEVANT)
    parser.add_argument("--build-only", action="store_true",
                        help="build or validate the engine, then exit without running it")
    parser.add_argument("--force", action="store_true",
                        help="rebuild even if a valid engine exists")
    parser.add_argument("--list", action="store_true", help="list the cached engines and exit")


def _list(cache) -> int:
    entries = cache.entries()
    if not entries:
        print(f"no engines in {cache.directory}")
    for entry in entries:
        key = (entry.metadata or {}).get("key", {})
        print(f"{entry.engine_path.name}: {entry.status.value}"
              f"{' (' + entry.reason + ')' if entry.reason else ''}; TensorRT "
              f"{key.get('tensorrt_version', '?')}, {key.get('gpu_name', '?')} "
              f"sm {key.get('compute_capability', '?')}, {key.get('precision', '?')}, "
              f"input {key.get('input_shape', '?')}")
    return 0


def run(args: argparse.Namespace) -> int:
    from foir360_core.runtime import (
        BackendUnavailableError,
        EngineBuildError,
        EngineCache,
        EngineCacheError,
        ModelArtifactError,
        ModelInfoError,
    )
    from foir360_core.runtime.provision import ensure_engine, ensure_onnx
    from foir360_core.runtime.ranker import tensorrt_precision

    try:
        settings = settings_from_args(RankerSettings, args, model=args.model)
    except ValueError as err:
        log.error("%s", err)
        return 2
    cache = EngineCache(settings.cache_dir or None)
    if args.list:
        return _list(cache)
    if not args.model:
        log.error("name the model to build: foir360 build-engine MODEL.onnx (or use --list)")
        return 2
    size = settings.input_size
    precision = tensorrt_precision(settings)
    try:
        onnx_path = ensure_onnx(Path(args.model), cache, size)
        engine, info = ensure_engine(onnx_path, cache, precision=precision,
                                     workspace_mb=args.workspace_mb, input_size=size,
                                     force=args.force)
        print(f"engine ready: {engine}")
        if not args.build_only:
            from foir360_core.runtime import Ranker

            ranker = Ranker(str(engine), "tensorrt", settings=settings, allow_fallback=False)
            timings = ranker.warmup(runs=3)
            print(f"engine runs: {info.name} v{info.version}, inference {timings.infer_ms:.1f} ms")
    except BackendUnavailableError as err:
        log.error("%s", err)
        return 3
    except (EngineBuildError, EngineCacheError, ModelArtifactError, ModelInfoError,
            ValueError) as err:
        log.error("%s", err)
        return 1
    return 0
