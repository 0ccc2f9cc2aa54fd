"""On a GPU: PanoRank frames per second at batch 1, and the node pipeline's share around it.

    python benchmarks/bench_gpu.py [--model NAME|PATH] [--size 512 1024] [--runs 50]
                                   [--device cuda|cpu]

1. The network alone, at ``--size``: the model's export module (the graph ONNX export
   traces; the rank head's picks as a Python loop) in PyTorch, fp32 and fp16 autocast (what
   the PyTorch backend runs on CUDA), synchronised after every frame; and, when ONNX
   Runtime has its CUDA provider, the Loop export through the package's ONNX Runtime backend
   (host-device copies included). Medians → frames per second.
2. The node pipeline (``RankingPipeline``: decode, pre, infer, post, encode) on 2048x1024
   rgb8 frames around the PyTorch backend at fp16 (fp32 on the CPU), masks at 512 rows:
   per-stage medians and everything but inference as a share of it.

The network runs on a real 4096x2048 photo from /work/shared/real360 when present. Without
CUDA it says so and exits 0; ``--device cpu`` runs the same measurements on the CPU, which
only checks that the script works (those are not GPU figures).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

NODE_FRAME_HEIGHT = 1024
NODE_MASK_HEIGHT = 512


def median_ms(fn: Callable[[], None], runs: int, sync: Callable[[], None]) -> float:
    """Median wall milliseconds of ``fn`` over ``runs`` calls, synchronised, after a warm-up."""
    for _ in range(min(5, runs)):
        fn()
    sync()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def torch_rows(checkpoint: Path, batch, device: str, runs: int) -> list[tuple[str, float]]:
    """(label, ms) of the export module in fp32, and in fp16 autocast on CUDA."""
    import torch

    from foir360_core.models.checkpoint import load_checkpoint

    model, _ = load_checkpoint(checkpoint)
    module = model.float().export_module().to(device)
    x = torch.from_numpy(batch).to(device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    rows = []
    for fp16 in (False, True) if device == "cuda" else (False,):
        def forward(fp16: bool = fp16) -> None:
            with torch.inference_mode(), torch.autocast(device_type=device, dtype=torch.float16,
                                                        enabled=fp16):
                module(x)
        rows.append((f"PyTorch {device} {'fp16 autocast' if fp16 else 'fp32'}",
                     median_ms(forward, runs, sync)))
    return rows


def onnxruntime_row(checkpoint: Path, batch, size: tuple[int, int], *, device: str, runs: int,
                    tmp: Path) -> list[tuple[str, float]]:
    """(label, ms) of the Loop export through the ONNX Runtime backend on ``device``."""
    try:
        import onnxruntime as ort
    except ImportError:
        return []
    if device == "cuda" and "CUDAExecutionProvider" not in ort.get_available_providers():
        return []
    from foir360_core.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend
    from foir360_core.runtime.engine_cache import EngineCache
    from foir360_core.runtime.provision import ensure_onnx
    from foir360_core.settings import RankerSettings

    onnx_path = ensure_onnx(checkpoint, EngineCache(tmp), size)
    backend = OnnxRuntimeBackend(onnx_path, device=device,
                                 rank_threshold=RankerSettings().score_threshold)
    return [(f"ONNX Runtime {backend.providers[0]} fp32",
             median_ms(lambda: backend.infer(batch) and None, runs, lambda: None))]


def node_rows(checkpoint: Path, size: tuple[int, int], device: str, runs: int) -> dict:
    """Median stage milliseconds of the node pipeline on 2048x1024 rgb8 frames."""
    from bench_floor import frame_message, synthetic

    from foir360_core.runtime import Ranker
    from foir360_ros.interfaces import rosbags_types
    from foir360_ros.pipeline import RankingPipeline

    precision = "fp16" if device == "cuda" else "fp32"
    ranker = Ranker(str(checkpoint), "torch", device=device, precision=precision,
                    input_height=size[0], allow_fallback=False)
    types = rosbags_types()
    pipeline = RankingPipeline(ranker, types, mask_height=NODE_MASK_HEIGHT)
    message = frame_message(types, NODE_FRAME_HEIGHT, synthetic(NODE_FRAME_HEIGHT))
    for _ in range(min(5, runs)):
        pipeline.process(message)
    stages = [pipeline.process(message).timings_ms for _ in range(runs)]
    return {key: statistics.median(s[key] for s in stages) for key in stages[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="", help="shipped model name or checkpoint path "
                        "(default: the shipped default)")
    parser.add_argument("--size", type=int, nargs=2, default=(512, 1024), metavar=("H", "W"))
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    args = parser.parse_args()
    import torch
    from bench_floor import photo_4096

    from foir360_core.models.preprocess import prepare_input
    from foir360_core.runtime.selection import resolve_model

    if args.device == "cuda" and not torch.cuda.is_available():
        print("PyTorch sees no CUDA device: nothing to measure (--device cpu checks the script)")
        return 0
    size = tuple(args.size)
    checkpoint = resolve_model(args.model, "torch")
    photo, what = photo_4096()
    batch = prepare_input(photo, size)
    where = torch.cuda.get_device_name(0) if args.device == "cuda" else "CPU"
    print(f"{checkpoint.name} at {size[0]}x{size[1]}, batch 1, on {where}; network on the {what}")
    with tempfile.TemporaryDirectory() as folder:
        rows = torch_rows(checkpoint, batch, args.device, args.runs)
        rows += onnxruntime_row(checkpoint, batch, size, device=args.device, runs=args.runs,
                                tmp=Path(folder))
    print(f"\n1. network alone (median of {args.runs} frames)")
    for label, ms in rows:
        print(f"   {label:>44}: {ms:8.2f} ms  {1e3 / ms:8.1f} FPS")
    stages = node_rows(checkpoint, size, args.device, args.runs)
    overhead = sum(v for k, v in stages.items() if k != "infer")
    print(f"\n2. node pipeline, {2 * NODE_FRAME_HEIGHT}x{NODE_FRAME_HEIGHT} rgb8 frames, masks "
          f"{NODE_MASK_HEIGHT} rows, PyTorch backend (median ms per stage)")
    print("   " + "  ".join(f"{k} {v:.2f}" for k, v in stages.items()))
    print(f"   everything but inference / inference: {overhead / stages['infer']:.0%}; "
          f"{1e3 / sum(stages.values()):.1f} frames per second end to end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
