"""Benchmark of the pseudo-label pipeline: fast vs exact erasure on synthetic panoramas.

Prints panoramas per minute, saliency and inpainting calls (the fast form of Eq. 4 needs
one inpainting call per view with three or more objects) and peak memory, per erasure mode
and inpainter. Figures are printed, not asserted.

    python benchmarks/bench_labeling.py                      # 20 × 2048×1024, 10–25 objects
    python benchmarks/bench_labeling.py --count 4 --height 512 --inpaint telea
"""

from __future__ import annotations

import argparse
import platform
import resource
import time
import tracemalloc

import numpy as np
from tqdm import tqdm

from foir360_core.labeling import (
    Counters,
    LabelConfig,
    PseudoLabeler,
    build_inpainter,
    build_saliency,
)
from foir360_core.structures import PanoInstances
from foir360_core.synth import render_panorama


def render(count: int, height: int, objects: tuple[int, int], seed: int) -> list[tuple]:
    """Panoramas kept as (image, RLE masks) so that 20 full-size scenes fit in memory."""
    scenes = []
    for k in tqdm(range(count), desc="render", unit="pano"):
        pano = render_panorama(seed + k, height=height, n_objects=objects)
        scenes.append((pano.image, pano.instances.to_rle(), pano.instances.class_ids))
    return scenes


def bench(scenes: list[tuple], saliency: list[str], inpaint: str, config: LabelConfig) -> dict:
    labeler = PseudoLabeler([build_saliency(s) for s in saliency], build_inpainter(inpaint),
                            config)
    counters = Counters()
    tracemalloc.start()
    labeling_s = 0.0
    for image, rles, class_ids in tqdm(scenes, desc=f"{config.mode}/{inpaint}", unit="pano"):
        height, width = image.shape[:2]
        instances = PanoInstances.from_rle(rles, height, width, class_ids=class_ids)
        start = time.perf_counter()
        result = labeler.label(image, instances)
        labeling_s += time.perf_counter() - start
        counters.add(result.counters)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    n = len(scenes)
    return {"mode": config.mode, "inpaint": inpaint, "pano_per_min": 60.0 * n / labeling_s,
            "s_per_pano": labeling_s / n, "views": counters.views,
            "saliency_calls": counters.saliency_calls, "inpaint_calls": counters.inpaint_calls,
            "inpaint_per_view": counters.inpaint_calls / max(counters.views, 1),
            "peak_traced_mb": peak / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--height", type=int, default=1024, help="ERP height (width = 2x)")
    parser.add_argument("--objects", type=int, nargs=2, default=(10, 25), metavar=("MIN", "MAX"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--saliency", default="spectral,fine_grained")
    parser.add_argument("--inpaint", default="telea,patchmatch",
                        help="comma-separated inpainters to compare")
    parser.add_argument("--view-size", type=int, default=LabelConfig().view_size)
    args = parser.parse_args()

    scenes = render(args.count, args.height, tuple(args.objects), args.seed)
    counts = [len(rles) for _, rles, _ in scenes]
    saliency = [s for s in args.saliency.split(",") if s]
    rows = [bench(scenes, saliency, inpaint, LabelConfig(mode=mode, view_size=args.view_size))
            for inpaint in args.inpaint.split(",") for mode in ("fast", "exact")]
    print(f"\n{args.count} synthetic panoramas {2 * args.height}x{args.height}, objects per "
          f"panorama {min(counts)}-{max(counts)} (mean {np.mean(counts):.1f}); saliency "
          f"{'+'.join(saliency)}; view {args.view_size} px; {platform.processor() or 'cpu'}, "
          "single process")
    header = (f"{'mode':6} {'inpaint':10} {'pano/min':>9} {'s/pano':>7} {'views':>6} "
              f"{'saliency':>9} {'inpaint':>8} {'inp/view':>8} {'peak MB':>8}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['mode']:6} {r['inpaint']:10} {r['pano_per_min']:9.2f} {r['s_per_pano']:7.2f} "
              f"{r['views']:6d} {r['saliency_calls']:9d} {r['inpaint_calls']:8d} "
              f"{r['inpaint_per_view']:8.2f} {r['peak_traced_mb']:8.1f}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS {rss:.0f} MB (includes the {args.count} stored panoramas)")


if __name__ == "__main__":
    main()
