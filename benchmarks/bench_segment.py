"""Benchmark of ``foir360 segment``: the merge on the sphere, masks from boxes, real panoramas.

1. **Oracle merge** on synthetic panoramas (``foir360 synth``; every scene has an object
   across the ERP seam and one near a pole): true masks are drawn into the views of the
   layout, cut by the view borders, and merged back. Reports the mean IoU of merged vs true
   masks (one-to-one matching), the share of panoramas with the exact instance count and
   how many seam / pole objects came back as exactly one instance.
2. **Masks from boxes** on synthetic views with each object's exact box (objects cut by the
   view border left out): IoU with the true mask and milliseconds per box for the box
   itself, its inscribed ellipse, GrabCut on the whole view (the old way) and the cropped,
   cleaned GrabCut of ``segmentation.boxmask`` (plain and ellipse-seeded).
3. **Real panoramas** (``/work/shared/real360`` or ``--real DIR``; skipped when absent)
   with the default segmenter: seconds per panorama (wall and this process's CPU time, the
   first panorama separately: it builds the remap tables), instances per panorama, the class
   histogram, and the share of mask pixels in the top and bottom fifth of the rows (ceiling
   and floor artefacts).

    python benchmarks/bench_segment.py                         # 50 oracle panoramas + real360
    python benchmarks/bench_segment.py --count 10 --real-limit 5 --threads 2

Figures are printed, not asserted. The machine is shared: CPU time is printed beside wall
time, with the load average at the start.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from foir360_core.geometry import check_erp_shape, erp_to_view
from foir360_core.io import Dataset, read_image
from foir360_core.metrics.matching import one_to_one_matches
from foir360_core.segmentation.boxmask import ellipse_mask, grabcut_mask
from foir360_core.segmentation.layouts import DEFAULT_LAYOUT, view_layout
from foir360_core.segmentation.oracle import OracleSegmenter
from foir360_core.segmentation.panoramic import MergeSettings, PanoramicSegmenter
from foir360_core.segmentation.registry import DEFAULT_SEGMENTER, build_segmenter
from foir360_core.synth import generate_dataset

REAL360 = Path("/work/shared/real360/images")


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    fa = a.reshape(len(a), -1).astype(np.float32)
    fb = b.reshape(len(b), -1).astype(np.float32)
    inter = fa @ fb.T
    return inter / np.maximum(fa.sum(1)[:, None] + fb.sum(1)[None, :] - inter, 1)


def oracle(count: int, height: int, layout: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = generate_dataset(tmp, count, seed=11, height=height, progress=True)
        dataset = Dataset.load(path)
        segmenter = PanoramicSegmenter(OracleSegmenter(path), MergeSettings(layout=layout))
        ious, exact, special, special_ok, seconds = [], 0, 0, 0, []
        for record in tqdm(dataset.images, desc=f"oracle {layout}", unit="pano"):
            truth = dataset.instances(record.id)
            start = time.perf_counter()
            merged = segmenter(dataset.read_image(record.id),
                               dataset.image_path(record.id)).instances
            seconds.append(time.perf_counter() - start)
            exact += len(merged) == len(truth)
            iou = iou_matrix(truth.masks, merged.masks)
            rows, cols = one_to_one_matches(iou, 0.0)
            matched = np.zeros(len(truth))
            matched[rows] = iou[rows, cols]
            ious.extend(matched.tolist())
            band = height // 5
            for mask in truth.masks:
                if (mask[:, 0].any() and mask[:, -1].any()) or mask[:band].any() \
                        or mask[-band:].any():
                    special += 1
                    covering = (mask[None] & merged.masks).reshape(len(merged), -1).sum(1)
                    special_ok += int((covering > 0.01 * mask.sum()).sum() == 1)
    print(f"\n[oracle] {count} synthetic panoramas {2 * height}x{height}, layout {layout}")
    print(f"  mean IoU merged vs true      {np.mean(ious):.4f}  (min {np.min(ious):.3f}, "
          f"{len(ious)} objects)")
    print(f"  exact instance count         {exact}/{count} panoramas")
    print(f"  seam/pole objects, 1 instance {special_ok}/{special}")
    print(f"  seconds per panorama         {np.mean(seconds):.2f} (median "
          f"{np.median(seconds):.2f})")


def box_masks(count: int, height: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = generate_dataset(tmp, count, seed=5, height=height)
        dataset = Dataset.load(path)
        variants = {
            "box": lambda v, b: _box(v.shape[:2], b),
            "ellipse in box": lambda v, b: ellipse_mask(v.shape[:2], b),
            "GrabCut whole view (old)": _grabcut_full,
            "GrabCut cropped (default)": grabcut_mask,
            "GrabCut cropped, seeded": lambda v, b: grabcut_mask(v, b, seeded=True),
        }
        scores = {k: [] for k in variants}
        times = dict.fromkeys(variants, 0.0)
        views = view_layout(DEFAULT_LAYOUT)[:8]
        for record in tqdm(dataset.images, desc="masks from boxes", unit="pano"):
            image = dataset.read_image(record.id)
            truth = dataset.instances(record.id)
            for geom in views:
                view = erp_to_view(image, geom)
                for mask in erp_to_view(truth.masks, geom, masks=True):
                    ys, xs = np.nonzero(mask)
                    if xs.size < 200 or xs.min() == 0 or ys.min() == 0 or \
                            xs.max() == geom.width - 1 or ys.max() == geom.height - 1:
                        continue
                    box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float)
                    for name, fn in variants.items():
                        start = time.perf_counter()
                        pred = fn(view, box)
                        times[name] += time.perf_counter() - start
                        scores[name].append((pred & mask).sum() / (pred | mask).sum())
    n = len(scores["box"])
    print(f"\n[masks from boxes] {n} whole objects in 8 horizon views of {count} panoramas")
    for name in variants:
        values = np.array(scores[name])
        print(f"  {name:28s} IoU {values.mean():.3f}  clean (IoU >= 0.8) "
              f"{np.mean(values >= 0.8):4.0%}  {1000 * times[name] / n:7.1f} ms/box")


def _box(shape, box) -> np.ndarray:
    out = np.zeros(shape, bool)
    out[int(box[1]):int(box[3]), int(box[0]):int(box[2])] = True
    return out


def _grabcut_full(view: np.ndarray, box: np.ndarray) -> np.ndarray:
    mask = np.zeros(view.shape[:2], np.uint8)
    x1, y1, x2, y2 = (int(v) for v in box)
    cv2.grabCut(np.ascontiguousarray(view[..., ::-1]), mask, (x1, y1, x2 - x1, y2 - y1),
                np.zeros((1, 65)), np.zeros((1, 65)), 5, cv2.GC_INIT_WITH_RECT)
    return (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)


def real(folder: Path, limit: int, threads: int, spec: str) -> None:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    sized = []
    for path in files:
        image = cv2.imread(str(path))
        if image is not None and image.shape[:2] == (1024, 2048):
            sized.append(path)
    if limit and limit < len(sized):  # spread evenly over the whole folder
        sized = [sized[i] for i in np.linspace(0, len(sized) - 1, limit).round().astype(int)]
    segmenter = PanoramicSegmenter(build_segmenter(spec, threads=threads))
    wall, cpu, counts, classes = [], [], [], Counter()
    edge_pixels = total_pixels = 0
    first = None
    for path in tqdm(sized, desc=f"real {spec}", unit="pano"):
        image = read_image(path)
        check_erp_shape(*image.shape[:2])
        start, start_cpu = time.perf_counter(), time.process_time()
        result = segmenter(image, path)
        elapsed = time.perf_counter() - start
        if first is None:
            first = elapsed
        else:
            wall.append(elapsed)
            cpu.append(time.process_time() - start_cpu)
        masks = result.instances.masks
        counts.append(len(masks))
        classes.update(result.class_names[c - 1] for c in result.instances.class_ids)
        fifth = image.shape[0] // 5
        edge_pixels += int(masks[:, :fifth].sum() + masks[:, -fifth:].sum())
        total_pixels += int(masks.sum())
    print(f"\n[real] {len(sized)} panoramas 2048x1024 from {folder}, {spec}, layout "
          f"{DEFAULT_LAYOUT}, {threads} inference thread(s)")
    print(f"  seconds per panorama         wall {np.mean(wall):.2f} (median "
          f"{np.median(wall):.2f}, max {np.max(wall):.2f}), CPU {np.mean(cpu):.2f}; first "
          f"panorama {first:.2f} (builds the remap tables)")
    print(f"  instances per panorama       mean {np.mean(counts):.1f}, median "
          f"{np.median(counts):.0f}, range {min(counts)}-{max(counts)}")
    print(f"  mask pixels in top+bottom fifth of rows {edge_pixels / max(total_pixels, 1):.1%}")
    print("  classes                      " + ", ".join(f"{k} {v}" for k, v in
                                                      classes.most_common()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50, help="oracle panoramas (default 50)")
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--box-count", type=int, default=6,
                        help="panoramas for the masks-from-boxes comparison")
    parser.add_argument("--real", type=Path, default=REAL360)
    parser.add_argument("--real-limit", type=int, default=0,
                        help="evenly spaced subset (0 = every 2048x1024 image)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--segmenter", default=DEFAULT_SEGMENTER)
    parser.add_argument("--skip", nargs="*", default=[], choices=("oracle", "boxes", "real"))
    args = parser.parse_args()
    cv2.setNumThreads(args.threads)
    print(f"load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if "oracle" not in args.skip:
        oracle(args.count, args.height, DEFAULT_LAYOUT)
    if "boxes" not in args.skip:
        box_masks(args.box_count, args.height)
    if "real" not in args.skip:
        if args.real.is_dir():
            real(args.real, args.real_limit, args.threads, args.segmenter)
        else:
            print(f"\n[real] skipped: {args.real} is absent")


if __name__ == "__main__":
    main()
