"""Speed of the shipped COCO CenterNet per 512x512 view, and what it finds on real views.

For each thread count, one ``CocoCenterNet`` runs ``--runs`` times on the same synthetic
512x512 view after one warm-up call; the table gives the median and best wall time per view
and the process CPU time per view (CPU time over wall time shows how many cores it really
got), with the 1-minute load average before and after, since the machine is shared. Both
thread counts run side by side in one process, so their ratio is measured under the same
load. Then, when the real360 photos are present, it prints the detections (class, score) on
four horizontal views per photo of ``--photos``.

    python benchmarks/bench_centernet.py [--runs 30] [--threads 1 2] [--photos FILE ...]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import cv2
import numpy as np

from foir360_core.geometry import ViewGeometry, erp_to_view
from foir360_core.segmentation.centernet import COCO_NAMES, CocoCenterNet, default_detector_path
from foir360_core.synth import render_panorama
from tests.centernet_views import real360_dir

DEFAULT_PHOTOS = ("dulanet_002.jpg", "dulanet_003.jpg", "ruckth_bedroom.jpg",
                  "spherebrowser_CBOT.jpg", "react360_the-chester--v112362_prefilter.jpg",
                  "nick360_test-image-ricoh-theta-s.jpg", "psv_hospital.jpg",
                  "unitour_classroom.jpg")


def view(erp: np.ndarray, lon_deg: float, lat_deg: float = -15.0) -> np.ndarray:
    geom = ViewGeometry(np.radians(lon_deg), np.radians(lat_deg), 90.0, 512, 512)
    return np.ascontiguousarray(erp_to_view(erp, geom))


def time_threads(image: np.ndarray, threads: int, runs: int) -> dict[str, float]:
    detector = CocoCenterNet(threads=threads)
    detector.detect(image)
    walls = []
    cpu_start = time.process_time()
    for _ in range(runs):
        start = time.perf_counter()
        detector.detect(image)
        walls.append(time.perf_counter() - start)
    cpu = (time.process_time() - cpu_start) / runs
    return {"median": statistics.median(walls) * 1e3, "best": min(walls) * 1e3,
            "cpu": cpu * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--photos", nargs="+", default=list(DEFAULT_PHOTOS))
    args = parser.parse_args()

    path = default_detector_path()
    print(f"model {path.name}: {path.stat().st_size / 1e6:.2f} MB; {os.cpu_count()} cores here")
    image = view(render_panorama(7, 1024).image, 0.0)
    print(f"\nper 512x512 view (synthetic), {args.runs} runs after a warm-up, full detect()"
          " (resize + ONNX Runtime + NMS)")
    print(f"{'threads':>7} {'median ms':>10} {'best ms':>8} {'CPU ms':>7}  load before/after")
    rows = {}
    for threads in args.threads:
        load_before = os.getloadavg()[0]
        rows[threads] = time_threads(image, threads, args.runs)
        r = rows[threads]
        print(f"{threads:>7} {r['median']:>10.1f} {r['best']:>8.1f} {r['cpu']:>7.1f} "
              f"{load_before:>8.2f} / {os.getloadavg()[0]:<6.2f}")
    if 1 in rows and 2 in rows:
        print(f"speed-up 2 threads vs 1 (median): {rows[1]['median'] / rows[2]['median']:.2f}x")

    folder = real360_dir()
    if folder is None:
        print("\nreal360 photos absent (set FOIR360_REAL360): no real views", file=sys.stderr)
        return
    detector = CocoCenterNet(threads=2)
    print("\nreal views (90 deg FoV, 15 deg below the horizon), score >= 0.25 after NMS:")
    for name in args.photos:
        bgr = cv2.imread(str(folder / "images" / name), cv2.IMREAD_COLOR)
        if bgr is None:
            print(f"  {name}: unreadable, skipped")
            continue
        erp = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        for lon in (0, 90, 180, -90):
            found = detector.detect(view(erp, lon))
            listed = ", ".join(f"{COCO_NAMES[label]} {score:.2f}"
                               for label, score in zip(found.labels, found.scores, strict=True))
            print(f"  {name[:32]:<32} lon {lon:>4}: {listed or '-'}")


if __name__ == "__main__":
    main()
