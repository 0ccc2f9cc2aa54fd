"""Time ``foir360_core.metrics`` on a 360Rank-sized synthetic set, all profiles in one pass.

500 ERP panoramas of 2048×1024 with 7,000 GT instances in total (2–43 per image, like
360Rank), drawn as random filled ellipses (some crossing the seam), and a prediction per
image made by jittering, dropping and adding objects and perturbing the importance order.
Masks are generated lazily, one image at a time, so memory stays flat; generation time is
measured separately and reported next to the evaluation time.

    python benchmarks/bench_metrics.py [--images 500] [--instances 7000] [--height 1024]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator

import cv2
import numpy as np

from foir360_core.metrics import ALL_PROFILES, evaluate_many
from foir360_core.structures import PanoInstances


def object_counts(images: int, instances: int, rng: np.random.Generator) -> np.ndarray:
    """Per-image object counts in [2, 43] summing exactly to ``instances``."""
    if not 2 * images <= instances <= 43 * images:
        raise ValueError(f"{instances} instances cannot be spread over {images} images (2–43)")
    counts = np.full(images, 2)
    while counts.sum() < instances:
        room = np.flatnonzero(counts < 43)
        counts[rng.choice(room)] += 1
    return counts


def draw_ellipses(params: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N, H, W) bool masks of filled ellipses (cx, cy, ax, ay, angle); wraps across the seam."""
    masks = np.zeros((len(params), height, width), dtype=bool)
    for mask, (cx, cy, ax, ay, angle) in zip(masks.view(np.uint8), params, strict=True):
        for shift in (-width, 0, width):
            if -ax <= cx + shift < width + ax:
                cv2.ellipse(mask, (int(cx + shift), int(cy)), (int(ax), int(ay)),
                            float(angle), 0, 360, 1, -1)
    return masks


def random_objects(n: int, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    size = height * rng.uniform(0.01, 0.12, size=(n, 2))
    return np.column_stack([rng.uniform(0, width, n), rng.uniform(0.1, 0.9, n) * height,
                            size, rng.uniform(0, 180, n)])


def sample(index: int, n: int, height: int, seed: int) -> tuple[str, PanoInstances, PanoInstances]:
    """One GT panorama and a plausible, imperfect prediction for it."""
    rng = np.random.default_rng([seed, index])
    width = 2 * height
    gt_params = random_objects(n, height, width, rng)
    gt = PanoInstances(draw_ellipses(gt_params, height, width), ranks=rng.permutation(n) + 1)
    keep = rng.random(n) > 0.1  # 10 % missed
    pred_params = gt_params[keep].copy()
    pred_params[:, :2] += rng.normal(0, 0.01 * height, size=(keep.sum(), 2))
    pred_params[:, 2:4] *= rng.uniform(0.85, 1.15, size=(keep.sum(), 2))
    extra = rng.poisson(0.1 * n)  # false positives
    pred_params = np.vstack([pred_params, random_objects(extra, height, width, rng)])
    importance = np.concatenate([(n + 1 - gt.ranks[keep]).astype(float),
                                 rng.uniform(0, n, extra)])
    scores = importance + rng.normal(0, 0.15 * n, size=importance.size)
    pred = PanoInstances(draw_ellipses(pred_params, height, width), scores=scores)
    return f"pano_{index:04d}.png", gt, pred


def samples(counts: np.ndarray, height: int, seed: int) -> Iterator[tuple]:
    for index, n in enumerate(counts):
        yield sample(index, int(n), height, seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--instances", type=int, default=7000)
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    counts = object_counts(args.images, args.instances, np.random.default_rng(args.seed))

    # CPU time next to wall time: the machine is shared, and CPU time does not count the
    # time other processes hold the cores.
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in samples(counts, args.height, args.seed):
        pass
    gen_wall, gen_cpu = time.perf_counter() - wall, time.process_time() - cpu

    wall, cpu = time.perf_counter(), time.process_time()
    reports = evaluate_many(samples(counts, args.height, args.seed), ALL_PROFILES,
                            progress=True, total=args.images)
    eval_wall = time.perf_counter() - wall - gen_wall
    eval_cpu = time.process_time() - cpu - gen_cpu

    print(f"\n{args.images} images {2 * args.height}x{args.height}, {counts.sum()} GT "
          f"instances, profiles {', '.join(ALL_PROFILES)}")
    print(f"mask generation (not metrics): {gen_wall:6.2f} s wall {gen_cpu:6.2f} s CPU")
    print(f"evaluation, all profiles:      {eval_wall:6.2f} s wall {eval_cpu:6.2f} s CPU "
          "(target < 30 s)")
    shared = next(iter(reports.values())).shared_seconds
    print(f"  shared mask indexing + IoU:  {shared:6.2f} s")
    for name, report in reports.items():
        s = report.summary
        print(f"  {name:8s} {report.seconds:6.2f} s   SOR {s['sor']:.4f}  SA-SOR "
              f"{s['sa_sor']:.4f}  MAE {s['mae']:.4f}  images used {s['images_used']}")


if __name__ == "__main__":
    main()
