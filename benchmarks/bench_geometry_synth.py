"""Time local-view extraction, ERP ↔ view round trips and synthetic panorama rendering.

Local views: a 512×512 view (90° FoV) from a 2048×1024 ERP, for an RGB image and for a
stack of 20 instance masks. "First call" builds the remap tables (a new view direction
each repetition, so the cache never helps); "cached" reuses one direction. The round
trip is ERP → view → ERP (forward and inverse tables). Synthetic panoramas are rendered
at 1024×512 and 2048×1024 from fresh seeds. The real image and masks come from the
generator itself. Prints figures and ratios; asserts nothing.

    python benchmarks/bench_geometry_synth.py [--repeats 5] [--cached 20]
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from functools import partial

import numpy as np

from foir360_core.geometry import ViewGeometry, erp_to_view, view_to_erp
from foir360_core.synth import render_panorama

VIEW = 512
FOV = 90.0
MASKS = 20


def mean_ms(calls: list[Callable[[], object]]) -> float:
    """Mean wall time of the given calls, in milliseconds (each is run once)."""
    times = []
    for call in calls:
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.mean(times))


def fresh_views(count: int, offset: float) -> list[ViewGeometry]:
    """Distinct view geometries (so no cached remap table applies)."""
    return [ViewGeometry(offset + 0.37 * i, 0.1 * (i % 5) - 0.2, FOV, VIEW, VIEW)
            for i in range(count)]


def extract(source: np.ndarray, geom: ViewGeometry, is_mask: bool) -> None:
    erp_to_view(source, geom, masks=is_mask)


def round_trip(source: np.ndarray, geom: ViewGeometry, is_mask: bool) -> None:
    view = erp_to_view(source, geom, masks=is_mask)
    view_to_erp(view, geom, source.shape[is_mask:is_mask + 2], masks=is_mask)


def first_and_cached(
    op: Callable[[np.ndarray, ViewGeometry, bool], None], source: np.ndarray, is_mask: bool,
    *, repeats: int, cached: int, offset: float,
) -> tuple[float, float]:
    """Mean ms of ``op`` on new geometries (tables built) and on one reused geometry."""
    first = mean_ms([partial(op, source, g, is_mask) for g in fresh_views(repeats, offset)])
    geom = ViewGeometry(0.5, 0.2, FOV, VIEW, VIEW)
    op(source, geom, is_mask)
    return first, mean_ms([partial(op, source, geom, is_mask)] * cached)


def bench_views(image: np.ndarray, masks: np.ndarray, repeats: int, cached: int) -> None:
    print(f"\nlocal views: {VIEW}x{VIEW} at {FOV:.0f}° FoV from a "
          f"{image.shape[1]}x{image.shape[0]} ERP ({repeats} first calls, {cached} cached)")
    print(f"  {'':34s} {'first (ms)':>11s} {'cached (ms)':>12s} {'speed-up':>9s}")
    offset = 0.0
    for label, source, is_mask in (("RGB image", image, False),
                                   (f"{len(masks)} masks", masks, True)):
        for name, op in (("ERP → view", extract), ("ERP → view → ERP", round_trip)):
            offset += 0.05  # every case gets directions no earlier case cached
            first, warm = first_and_cached(op, source, is_mask, repeats=repeats,
                                           cached=cached, offset=offset)
            print(f"  {name + ', ' + label:34s} {first:11.1f} {warm:12.2f} "
                  f"{first / warm:8.1f}x")


def bench_synth(repeats: int) -> None:
    print(f"\nsynthetic panoramas (default 6–12 objects, mean of {repeats} fresh seeds)")
    per_height = {}
    for height in (512, 1024):
        render_panorama(10_000, height)  # ray directions for this size are cached once
        per_height[height] = mean_ms([partial(render_panorama, s, height)
                                      for s in range(repeats)])
        print(f"  {2 * height}x{height}: {per_height[height]:7.1f} ms per panorama "
              f"({1000.0 / per_height[height]:.1f} panoramas/s)")
    print(f"  2048x1024 / 1024x512 time: {per_height[1024] / per_height[512]:.2f}x "
          "for 4x the pixels")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="first calls / seeds to average")
    parser.add_argument("--cached", type=int, default=20, help="cached calls to average")
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, numpy {np.__version__}")
    pano = render_panorama(1, 1024, n_objects=(20, 24))
    masks = pano.instances.masks
    copies = -(-MASKS // max(1, len(masks)))  # pad with yaw-shifted copies up to 20 if short
    masks = np.concatenate([np.roll(masks, 97 * k, axis=2) for k in range(copies)])[:MASKS]
    bench_views(pano.image, masks, args.repeats, args.cached)
    bench_synth(args.repeats)


if __name__ == "__main__":
    main()
