"""Latency of ``Ranker`` per backend on this machine: ONNX Runtime vs PyTorch (CPU).

For each input size (the network runs at that size, on a synthetic panorama of that size)
and backend, a fresh worker process loads the model, times the first call (cold: lazy
initialisation, allocator warm-up) and then ``--runs`` warm calls, per stage (pre-processing,
inference, post-processing), and reports its resident memory after loading and at its peak
(``VmHWM``). A fresh process per row keeps first-call and memory figures honest; the
panorama is rendered by the parent and read from a PNG, so rendering is not in the memory.
ONNX files are exported (and parity-checked) once beforehand, into the cache, and are not
part of the timings.

    python benchmarks/bench_runtime.py [--model PATH] [--sizes 512x1024 1024x2048]
                                       [--runs 10] [--threads N] [--json out.json]
                                       [--cache-dir DIR]

Without --model the shipped default model is used; if it is not there yet, a model with the
default architecture and random weights is built (latency does not depend on the weights:
the ranking head is unrolled for a fixed number of steps). Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BACKENDS = ("onnxruntime", "torch")


def parse_size(text: str) -> tuple[int, int]:
    height, width = (int(v) for v in text.lower().split("x"))
    return height, width


def default_model(workdir: Path) -> tuple[Path, str]:
    """The shipped model, or a random-weight model of the default architecture."""
    from foir360_core.models import default_model_path

    try:
        return default_model_path(), "shipped default model"
    except FileNotFoundError:
        import torch

        from foir360_core.models import DEFAULT_CONFIG, build_model
        from foir360_core.models.checkpoint import save_checkpoint

        torch.manual_seed(0)
        config = {"model": {**DEFAULT_CONFIG["model"],
                            "backbone": {"name": "efficientnet_lite0", "pretrained": False}}}
        path = save_checkpoint(workdir / "panorank_random.safetensors", build_model(config), config)
        return path, "default architecture, random weights (no shipped model yet)"


def memory_mb() -> dict[str, float]:
    """Current (VmRSS) and peak (VmHWM) resident memory of this process, in MB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024.0
    return fields


def worker(args: argparse.Namespace) -> None:
    """One (backend, size) measurement in this process; prints one JSON line."""
    from foir360_core.io import read_image
    from foir360_core.runtime import Ranker

    size = parse_size(args.size)
    image = read_image(args.image)
    start = time.perf_counter()
    if args.backend == "torch":
        ranker = Ranker(args.model, "torch", input_height=size[0], device="cpu",
                        threads=args.threads or 0, allow_fallback=False)
    else:
        ranker = Ranker(args.onnx, "onnxruntime", device="cpu", threads=args.threads or 0,
                        allow_fallback=False)
    load_s = time.perf_counter() - start
    loaded_mb = memory_mb()["VmRSS"]
    first = ranker.rank(image)
    cold = ranker.timings.as_dict()
    warm = []
    for _ in range(args.runs):
        ranker.rank(image)
        warm.append(ranker.timings.as_dict())
    table = {k: np.array([w[k] for w in warm]) for k in warm[0]}
    print(json.dumps({
        "backend": args.backend, "size": list(size), "load_s": load_s, "first": cold,
        "p50": {k: float(np.percentile(v, 50)) for k, v in table.items()},
        "p95": {k: float(np.percentile(v, 95)) for k, v in table.items()},
        "instances": len(first), "loaded_rss_mb": loaded_mb,
        "peak_rss_mb": memory_mb()["VmHWM"],
    }))


def run_worker(backend: str, size: str, model: Path, *, onnx: Path | None, image: Path,
               args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--worker", "--backend", backend, "--size", size,
               "--model", str(model), "--runs", str(args.runs), "--image", str(image)]
    if onnx is not None:
        command += ["--onnx", str(onnx)]
    if args.threads:
        command += ["--threads", str(args.threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{backend} {size} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--sizes", nargs="+", default=["512x1024", "1024x2048"])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--cache-dir", type=Path, help="reuse ONNX exports from an earlier run")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    parser.add_argument("--onnx", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--image", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    logging.basicConfig(level=logging.WARNING)
    from foir360_core.io import write_image
    from foir360_core.runtime import EngineCache
    from foir360_core.runtime.provision import ensure_onnx
    from foir360_core.synth import render_panorama

    workdir = Path(tempfile.mkdtemp(prefix="foir360-bench-"))
    model, origin = (args.model, "given") if args.model else default_model(workdir)
    cache = EngineCache(args.cache_dir or workdir / "cache")
    print(f"model: {model} ({origin}); {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"{args.runs} warm runs per row")
    rows = []
    for size in args.sizes:
        onnx = ensure_onnx(model, cache, parse_size(size))
        image = workdir / f"pano_{size}.png"
        write_image(image, render_panorama(0, height=parse_size(size)[0]).image)
        for backend in BACKENDS:
            rows.append(run_worker(backend, size, model, image=image, args=args,
                                   onnx=onnx if backend != "torch" else None))
    header = (f"{'backend':<12} {'size':>10} {'load s':>7} {'first ms':>9} {'p50 ms':>8} "
              f"{'p95 ms':>8} {'pre':>6} {'infer':>8} {'post':>6} {'RSS MB':>7} {'peak MB':>8} "
              f"{'objs':>5}")
    print(header)
    for r in rows:
        print(f"{r['backend']:<12} {r['size'][0]:>4}x{r['size'][1]:<5} {r['load_s']:>7.2f} "
              f"{r['first']['total_ms']:>9.1f} {r['p50']['total_ms']:>8.1f} "
              f"{r['p95']['total_ms']:>8.1f} {r['p50']['pre_ms']:>6.1f} "
              f"{r['p50']['infer_ms']:>8.1f} {r['p50']['post_ms']:>6.1f} "
              f"{r['loaded_rss_mb']:>7.0f} {r['peak_rss_mb']:>8.0f} {r['instances']:>5}")
    for size in args.sizes:
        h, w = parse_size(size)
        by = {r["backend"]: r for r in rows if tuple(r["size"]) == (h, w)}
        ratio = by["onnxruntime"]["p50"]["total_ms"] / by["torch"]["p50"]["total_ms"]
        infer = by["onnxruntime"]["p50"]["infer_ms"] / by["torch"]["p50"]["infer_ms"]
        print(f"{size}: ONNX Runtime / PyTorch p50 total {ratio:.2f}, inference {infer:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"model": str(model), "origin": origin, "rows": rows},
                                        indent=2))


if __name__ == "__main__":
    main()
