"""Each object once: published instance pairs whose masks overlap by IoU > 0.5, per frame.

    python benchmarks/bench_duplicates.py [--synthetic 20] [--real 20] [--mask-height 512]

Ranks 20 synthetic panoramas (foir360 synth, seeds 0..19, 512x1024) and the first 20 real
ERP photos of ../shared/real360 (MANIFEST.tsv order, downscaled to 1024x2048) with the shipped
default model on ONNX Runtime, twice side by side: duplicate suppression off
(``duplicate_iou=1``) and at the default (0.5). Masks are compared as the node publishes them
(``--mask-height`` rows), by plain pixel IoU and by IoU on the sphere (solid-angle weighted),
exactly, at full mask resolution. Also prints the median post-processing time of both runs
(wall clock, with the machine's load average at the start). Asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
REAL360 = REPO.parent / "shared" / "real360"


def pair_ious(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel and solid-angle IoU of every pair (i < j), at full resolution."""
    from foir360_core.geometry import solid_angle_weights

    count, height, width = masks.shape
    flat = masks.reshape(count, -1).astype(np.float32)
    weights = np.repeat(solid_angle_weights(height, width)[:, 0], width).astype(np.float32)
    upper = np.triu_indices(count, 1)
    out = []
    for w in (np.ones_like(weights), weights):
        inter = (flat * w) @ flat.T
        area = np.diag(inter)
        union = area[:, None] + area[None, :] - inter
        out.append((inter / np.maximum(union, 1e-12))[upper])
    return out[0], out[1]


def real_panoramas(limit: int, folder: Path) -> list[np.ndarray]:
    with open(folder / "MANIFEST.tsv", encoding="utf-8") as handle:
        names = [row["file"] for row in csv.DictReader(handle, delimiter="\t")][:limit]
    images = []
    for name in names:
        bgr = cv2.imread(str(folder / "images" / name), cv2.IMREAD_COLOR)
        images.append(cv2.resize(bgr, (2048, 1024), interpolation=cv2.INTER_AREA)[..., ::-1])
    return images


def measure(rankers: dict, images: list[np.ndarray], mask_height: int) -> dict[str, dict]:
    rows = {}
    for label, ranker in rankers.items():
        frames_with, pairs_pixel, pairs_sphere, worst, post, counts = 0, 0, 0, 0.0, [], []
        for rgb in images:
            size = (mask_height, 2 * mask_height) if mask_height else rgb.shape[:2]
            instances = ranker.rank(rgb, mask_size=size)
            post.append(ranker.timings.post_ms)
            counts.append(len(instances))
            if len(instances) < 2:
                continue
            pixel, sphere = pair_ious(instances.masks)
            pairs_pixel += int((pixel > 0.5).sum())
            pairs_sphere += int((sphere > 0.5).sum())
            frames_with += int((pixel > 0.5).any() or (sphere > 0.5).any())
            worst = max(worst, float(pixel.max()), float(sphere.max()))
        rows[label] = {"frames": len(images), "with": frames_with, "pixel": pairs_pixel,
                       "sphere": pairs_sphere, "worst": worst,
                       "instances": float(np.mean(counts)), "post": float(np.median(post))}
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--synthetic", type=int, default=20)
    parser.add_argument("--real", type=int, default=20)
    parser.add_argument("--mask-height", type=int, default=512)
    parser.add_argument("--real360", type=Path, default=REAL360)
    args = parser.parse_args()

    from foir360_core.runtime import Ranker
    from foir360_core.synth import render_panorama

    rankers = {"off (duplicate_iou=1.0)": Ranker(backend="onnxruntime", threads=1,
                                                 duplicate_iou=1.0),
               "on (duplicate_iou=0.5)": Ranker(backend="onnxruntime", threads=1)}
    sets = {"synthetic": [render_panorama(seed, height=512).image
                          for seed in range(args.synthetic)]}
    if (args.real360 / "MANIFEST.tsv").is_file():
        sets["real360"] = real_panoramas(args.real, args.real360)
    else:
        print(f"{args.real360} is absent: real photos skipped")
    print(f"model {rankers['on (duplicate_iou=0.5)'].info['model_name']}, masks at "
          f"{args.mask_height} rows; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} "
          "cores")
    print(f"{'set':<10} {'suppression':<24} {'frames':>6} {'with dup':>8} {'pairs px':>8} "
          f"{'pairs sph':>9} {'max IoU':>7} {'inst/frame':>10} {'post ms':>8}")
    for name, images in sets.items():
        for label, row in measure(rankers, images, args.mask_height).items():
            print(f"{name:<10} {label:<24} {row['frames']:>6} {row['with']:>8} "
                  f"{row['pixel']:>8} {row['sphere']:>9} {row['worst']:>7.2f} "
                  f"{row['instances']:>10.1f} {row['post']:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
