"""Speed against the floor: the network vs its backbone, and the node vs its network.

    python benchmarks/bench_floor.py [--rounds 7] [--model CHECKPOINT] [--quick]

Everything runs in one process on the CPU with ONNX Runtime at 1 thread, interleaved: each
round runs every configuration once, so a burst of load from other processes hits all of
them alike. Figures are medians over the rounds, as wall time and as this process's CPU
time (``time.process_time``; on a shared machine the CPU time is the steadier figure). The
load average is printed before and after.

1. Network vs floor: the full model and its seam-wrapped backbone alone (the floor; no
   pixel decoder, transformer or heads), both exported by this checkout's code, at
   the model's own input size and 512x1024, on the 4096x2048 photo of (3) as deployed (the
   rank loop's threshold fed with the runtime's score threshold); and the same backbone
   without the seam wrap (plain zero padding), to show what wrapping still costs.
2. Node pipeline: ``foir360_ros.pipeline.RankingPipeline`` (decode, pre, infer, post,
   encode = geometry + RLE + message) on rosbags messages of synthetic 1024x512,
   2048x1024, 4096x2048 and 5760x2880 frames, masks at the node's default 512 rows; and
   2048x1024 frames at 512x1024 input. Overhead = everything but inference.
3. ``foir360 rank``'s path on a 4096x2048 photo (a real one from /work/shared/real360 when
   present): ``Ranker.rank`` with masks at image size, post-processing vs inference.
4. ONNX Runtime session start of the full model: optimising the graph each time, and
   loading the cached optimised graph (``onnx_session(..., cache_dir=...)``); graph sizes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

REAL360 = Path("/work/shared/real360")
FRAME_HEIGHTS = (512, 1024, 2048, 2880)
NODE_MASK_HEIGHT = 512


class Timer:
    """Wall and CPU milliseconds of repeated calls, per configuration name."""

    def __init__(self) -> None:
        self.wall: dict[str, list[float]] = defaultdict(list)
        self.cpu: dict[str, list[float]] = defaultdict(list)
        self.extra: dict[str, list[dict[str, float]]] = defaultdict(list)

    def run(self, name: str, fn: Callable[[], dict[str, float] | None]) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        stages = fn()
        self.wall[name].append((time.perf_counter() - wall) * 1e3)
        self.cpu[name].append((time.process_time() - cpu) * 1e3)
        if stages:
            self.extra[name].append(stages)

    def median(self, name: str) -> tuple[float, float]:
        return statistics.median(self.wall[name]), statistics.median(self.cpu[name])

    def stage(self, name: str, key: str) -> float:
        return statistics.median(s[key] for s in self.extra[name])


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def export_networks(checkpoint: Path, tmp: Path, size: tuple[int, int]) -> dict[str, Path]:
    """The full model through the package's exporter, its backbone alone, and that backbone
    with plain zero padding instead of the seam wrap (same weights)."""
    import torch

    from foir360_core.models.checkpoint import load_checkpoint
    from foir360_core.models.layers import WrapConv2d
    from foir360_core.runtime.engine_cache import EngineCache
    from foir360_core.runtime.provision import ensure_onnx

    paths = {"full": ensure_onnx(checkpoint, EngineCache(tmp / "cache"), size)}
    model, _ = load_checkpoint(checkpoint)
    backbone = model.float().eval().backbone
    for name in ("backbone", "plain backbone"):
        if name == "plain backbone":
            for conv in (m for m in backbone.modules() if isinstance(m, WrapConv2d)):
                conv._pad_lon = 0
                conv.padding = tuple(k // 2 for k in conv.kernel_size)
        paths[name] = tmp / f"{name.replace(' ', '-')}-{size[0]}x{size[1]}.onnx"
        with torch.no_grad():
            torch.onnx.export(backbone, (torch.zeros(1, 3, *size),), str(paths[name]),
                              dynamo=False, input_names=["images"],
                              output_names=["c2", "c3", "c4", "c5"], do_constant_folding=True)
    return paths


def network_runner(path: Path, image: np.ndarray, size: tuple[int, int]) -> Callable[[], None]:
    """One inference of ``image`` through the package's ONNX Runtime backend, as the runtime
    runs it (the rank threshold fed to graphs that take it)."""
    from foir360_core.models.preprocess import prepare_input
    from foir360_core.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend
    from foir360_core.settings import RankerSettings

    backend = OnnxRuntimeBackend(path, device="cpu", threads=1,
                                 rank_threshold=RankerSettings().score_threshold)
    batch = prepare_input(image, size)
    backend.infer(batch)
    return lambda: backend.infer(batch) and None


def frame_message(types, height: int, rgb: np.ndarray):
    from foir360_ros.images import array_to_image
    from tests.ros.helpers import header

    return array_to_image(types, header(types, height), rgb, "rgb8")


def synthetic(height: int) -> np.ndarray:
    from foir360_core.synth import render_panorama

    return render_panorama(1, height=height).image


def photo_4096() -> tuple[np.ndarray, str]:
    """The first 4096x2048 photo of the real360 manifest, else a synthetic frame."""
    from foir360_core.io import read_image

    manifest = REAL360 / "MANIFEST.tsv"
    if manifest.is_file():
        for line in manifest.read_text().splitlines()[1:]:
            name, size = line.split("\t")[:2]
            if size == "4096x2048" and (REAL360 / "images" / name).is_file():
                return read_image(REAL360 / "images" / name), f"real photo {name}"
    return synthetic(2048), "synthetic (no /work/shared/real360)"


def session_start(path: Path, tmp: Path, repeats: int) -> None:
    import onnx
    import onnxruntime as ort

    from foir360_core.onnx import onnx_session
    from foir360_core.onnx.session import optimized_model_path

    cache = tmp / "ort-cache"
    onnx_session(path, threads=1, cache_dir=cache)  # writes the cache entry, if it may
    cached_path = optimized_model_path(ort, path, cache)
    timer = Timer()
    for _ in range(repeats):
        timer.run("optimise every start", lambda: onnx_session(path, threads=1) and None)
        if cached_path.is_file():
            timer.run("cached optimised graph",
                      lambda: onnx_session(path, threads=1, cache_dir=cache) and None)
    graph = onnx.load(str(path), load_external_data=False).graph
    rank_nodes = sum("/rank_head/" in node.name for node in graph.node)
    optimised = (f"optimised graph {len(onnx.load(str(cached_path)).graph.node)} nodes"
                 if cached_path.is_file() else "no cached optimised graph (control flow)")
    print(f"\n4. ONNX Runtime session start, full model {path.stem} (median of {repeats}): "
          f"exported graph {len(graph.node)} nodes ({rank_nodes} in the rank head), "
          f"{optimised}")
    for name in timer.wall:
        wall, cpu = timer.median(name)
        print(f"   {name:>24}: {wall / 1e3:6.2f} s wall, {cpu / 1e3:6.2f} s CPU")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--model", type=Path, help="checkpoint (default: the shipped model)")
    parser.add_argument("--quick", action="store_true", help="3 rounds, no 5760x2880 frames")
    args = parser.parse_args()
    from foir360_core.models import default_model_path
    from foir360_core.runtime import Ranker
    from foir360_ros.interfaces import rosbags_types
    from foir360_ros.pipeline import RankingPipeline

    rounds = 3 if args.quick else args.rounds
    heights = FRAME_HEIGHTS[:-1] if args.quick else FRAME_HEIGHTS
    checkpoint = args.model or default_model_path()
    print(f"model {checkpoint.name}; ONNX Runtime, 1 thread; {rounds} interleaved rounds")
    print(f"before: {load()}")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        ranker_opts = {"backend": "onnxruntime", "threads": 1, "cache_dir": str(tmp / "cache")}
        native = Ranker(str(checkpoint), **ranker_opts)
        small, large = tuple(native.model_info.input_size), (512, 1024)  # the model's own size
        photo, photo_what = photo_4096()
        nets, exports = {}, {}
        for size in (small, large):
            paths = export_networks(checkpoint, tmp, size)
            exports[size] = paths["full"]
            for name, path in paths.items():
                nets[f"{name} {size[0]}x{size[1]}"] = network_runner(path, photo, size)
        types = rosbags_types()
        pipeline = RankingPipeline(native, types, mask_height=NODE_MASK_HEIGHT)
        wide = RankingPipeline(Ranker(str(checkpoint), input_height=large[0], **ranker_opts),
                               types, mask_height=NODE_MASK_HEIGHT)
        frames = {h: frame_message(types, h, synthetic(h)) for h in heights}

        def node(pipe, msg) -> Callable[[], dict[str, float]]:
            return lambda: pipe.process(msg).timings_ms

        def rank_photo() -> dict[str, float]:
            instances = native.rank(photo)
            start = time.perf_counter()
            instances.to_rle()
            _ = instances.geometry
            return {"infer": native.timings.infer_ms, "post": native.timings.post_ms,
                    "encode": (time.perf_counter() - start) * 1e3, "count": len(instances)}

        configs: dict[str, Callable[[], dict[str, float] | None]] = dict(nets)
        for h in heights:
            configs[f"node {2 * h}x{h}"] = node(pipeline, frames[h])
        configs["node 2048x1024, 512x1024 input"] = node(wide, frames[1024])
        configs["rank 4096x2048"] = rank_photo
        timer = Timer()
        for fn in configs.values():  # warm-up
            fn()
        for _ in range(rounds):
            for name, fn in configs.items():
                timer.run(name, fn)

        print(f"\n1. network vs its seam-wrapped backbone, on the {photo_what} "
              "(medians, ms)")
        for size in (f"{small[0]}x{small[1]}", f"{large[0]}x{large[1]}"):
            fw, fc = timer.median(f"full {size}")
            bw, bc = timer.median(f"backbone {size}")
            _, pc = timer.median(f"plain backbone {size}")
            print(f"   {size:>8}: full {fw:7.1f} wall {fc:7.1f} CPU | backbone {bw:7.1f} wall "
                  f"{bc:7.1f} CPU | full / backbone {fw / bw:.2f}x wall, {fc / bc:.2f}x CPU | "
                  f"plain backbone {pc:7.1f} CPU, wrapped / plain {bc / pc:.2f}x CPU")

        print(f"\n2. node pipeline, masks {NODE_MASK_HEIGHT} rows (medians, ms; stages are wall)")
        print(f"   {'frame':>31} {'decode':>7} {'pre':>6} {'infer':>7} {'post':>6} "
              f"{'encode':>7} {'overhead/infer':>15} {'frame CPU':>10} {'CPU ovh/net CPU':>16}")
        rows = [(f"node {2 * h}x{h}", small) for h in heights]
        rows.append(("node 2048x1024, 512x1024 input", large))
        for name, size in rows:
            st = {k: timer.stage(name, k) for k in ("decode", "pre", "infer", "post", "encode")}
            overhead = st["decode"] + st["pre"] + st["post"] + st["encode"]
            _, frame_cpu = timer.median(name)
            _, net_cpu = timer.median(f"full {size[0]}x{size[1]}")
            print(f"   {name[5:]:>31} {st['decode']:>7.2f} {st['pre']:>6.2f} {st['infer']:>7.1f} "
                  f"{st['post']:>6.2f} {st['encode']:>7.2f} {overhead / st['infer']:>14.0%} "
                  f"{frame_cpu:>10.1f} {(frame_cpu - net_cpu) / net_cpu:>15.0%}")

        infer, post, encode, count = (timer.stage("rank 4096x2048", key)
                                      for key in ("infer", "post", "encode", "count"))
        print(f"\n3. foir360 rank on a 4096x2048 {photo_what}, {count:.0f} objects, masks at "
              f"image size: infer {infer:.1f} ms, post {post:.1f} ms (post / infer "
              f"{post / infer:.1f}x); then RLE + geometry for the JSON {encode:.1f} ms")
        session_start(exports[small], tmp, rounds)
    print(f"\nafter: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
