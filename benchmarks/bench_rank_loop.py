"""The rank head as an ONNX Loop against the unrolled export: size, start, speed, exactness.

    ROS env + nice -n 19 python benchmarks/bench_rank_loop.py [--sizes 128 512] [--synth 20]

Exports the checkpoint (default: the shipped demo) both ways at each input height (width
2x), then, per size, interleaving Loop and unrolled so load changes hit both alike:

* nodes: main-graph node count (the Loop body counted as one node, its own nodes apart);
* start: CPU seconds (process time) of building an ONNX Runtime session, full graph
  optimisation, no optimised-graph cache, 1 thread; median of ``--repeats``;
* infer: CPU milliseconds of one inference, 1 thread, median of ``--runs``, with the
  runtime's default score threshold fed to the Loop export (its early exit).

Exactness (first size): ``--synth`` synthetic panoramas (``foir360 synth`` scenes) and
``--real`` photos from ``--real-dir`` go through PyTorch, the Loop and the unrolled export
and the runtime's post-processing; instance counts, ranks and masks must be identical.
The load average is printed first: CPU time is less sensitive to load than wall time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "foir360_core" / "assets" / "panorank_synthetic_demo.safetensors"
REAL_DIR = REPO.parent / "shared" / "real360" / "images"  # ../shared/real360 beside the checkout


def cpu_seconds(fn) -> tuple[float, object]:
    """Process CPU time of ``fn()`` and its result."""
    start = time.process_time()
    result = fn()
    return time.process_time() - start, result


def node_counts(path: Path) -> tuple[int, int]:
    """(main-graph nodes, nodes inside Loop bodies)."""
    import onnx

    graph = onnx.load(str(path)).graph
    inner = sum(len(attr.g.node) for node in graph.node for attr in node.attribute
                if attr.type == onnx.AttributeProto.GRAPH)
    return len(graph.node), inner


def measure(paths: dict[str, Path], batch: np.ndarray, repeats: int, runs: int,
            threshold: float) -> dict[str, dict[str, float]]:
    """Median session-start CPU s and inference CPU ms per export, interleaved."""
    from foir360_core.onnx import onnx_session
    from foir360_core.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend

    starts: dict[str, list[float]] = {name: [] for name in paths}
    infers: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(repeats):
        for name, path in paths.items():
            starts[name].append(cpu_seconds(lambda p=path: onnx_session(p, 1))[0])
    backends = {name: OnnxRuntimeBackend(path, device="cpu", threads=1,
                                         rank_threshold=threshold)
                for name, path in paths.items()}
    for backend in backends.values():
        backend.infer(batch)  # first run allocates
    for _ in range(runs):
        for name, backend in backends.items():
            infers[name].append(1000 * cpu_seconds(lambda b=backend: b.infer(batch))[0])
    return {name: {"start_s": statistics.median(starts[name]),
                   "infer_ms": statistics.median(infers[name])} for name in paths}


def panoramas(height: int, synth: int, real_dir: Path, real: int):
    """(label, RGB uint8 panorama) pairs: synthetic scenes, then real photos."""
    import cv2

    from foir360_core.synth import render_panorama

    for seed in range(synth):
        yield f"synth {seed}", render_panorama(seed, height=height).image
    photos = sorted(p for p in real_dir.glob("*") if p.suffix.lower() in (".jpg", ".png"))
    for photo in photos[:real]:
        yield photo.name, cv2.imread(str(photo))[..., ::-1]


def exactness(checkpoint: Path, paths: dict[str, Path], size: tuple[int, int],
              images) -> list[str]:
    """Problems where Loop, unrolled and PyTorch disagree after post-processing."""
    import torch

    from foir360_core.models.checkpoint import load_checkpoint
    from foir360_core.models.postprocess import outputs_to_instances
    from foir360_core.models.preprocess import prepare_input
    from foir360_core.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend
    from foir360_core.settings import RankerSettings

    post = RankerSettings().postprocess()
    model, _ = load_checkpoint(checkpoint)
    module = model.float().eval().export_module()
    backends = {name: OnnxRuntimeBackend(path, device="cpu", threads=1,
                                         rank_threshold=post["score_threshold"])
                for name, path in paths.items()}
    problems, count = [], 0
    for label, image in images:
        batch = prepare_input(image, size)
        with torch.inference_mode():
            ref = dict(zip(model.output_names, (t.numpy() for t in module(torch.from_numpy(batch))),
                           strict=True))
        results = {"torch": ref, **{name: b.infer(batch) for name, b in backends.items()}}
        found = {name: outputs_to_instances(out, rank_head=model.rank_type,
                                            out_size=image.shape[:2], **post)
                 for name, out in results.items()}
        base = found["torch"]
        count += 1
        for name, inst in found.items():
            if (len(inst) != len(base) or not np.array_equal(inst.ranks, base.ranks)
                    or not np.array_equal(inst.masks, base.masks)):
                problems.append(f"{label}: {name} {len(inst)} instances ranks {inst.ranks} vs "
                                f"torch {len(base)} {base.ranks}")
    print(f"exactness: {count} panoramas, {len(problems)} disagreements")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=DEMO)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128],
                        help="input heights (width 2x)")
    parser.add_argument("--repeats", type=int, default=3, help="session starts per export")
    parser.add_argument("--runs", type=int, default=20, help="inferences per export")
    parser.add_argument("--synth", type=int, default=20)
    parser.add_argument("--real", type=int, default=3)
    parser.add_argument("--real-dir", type=Path, default=REAL_DIR)
    args = parser.parse_args()

    from foir360_core.models.preprocess import prepare_input
    from foir360_core.runtime.export import export_onnx, sample_panorama
    from foir360_core.settings import RankerSettings

    print("load average (1, 5, 15 min):", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    threshold = RankerSettings().score_threshold
    with tempfile.TemporaryDirectory() as tmp:
        for i, height in enumerate(args.sizes):
            size = (height, 2 * height)
            paths = {name: export_onnx(args.checkpoint, Path(tmp) / f"{name}-{height}.onnx",
                                       input_size=size, loop=name == "loop").path
                     for name in ("loop", "unrolled")}
            batch = prepare_input(sample_panorama(size), size)
            stats = measure(paths, batch, args.repeats, args.runs, threshold)
            for name, path in paths.items():
                nodes, inner = node_counts(path)
                print(f"{height}x{2 * height} {name:8s} nodes {nodes:5d} (+{inner} in Loop) "
                      f"start {stats[name]['start_s']:.2f} s CPU  "
                      f"infer {stats[name]['infer_ms']:.1f} ms CPU")
            if i == 0:
                images = panoramas(height, args.synth, args.real_dir, args.real)
                for problem in exactness(args.checkpoint, paths, size, images):
                    print("  ", problem)
    print("load average (1, 5, 15 min):", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
