"""Benchmark of tracking: identity keeping, rank flicker raw vs smoothed, and what it costs.

    python benchmarks/bench_tracking.py [--quick]

1. The tracker alone: synthetic 360° sequences (``foir360 synth --sequence``: turning, driving,
   swaying camera; moving objects; one passing over the zenith) with their ground-truth masks
   fed as predictions. IDF1, ID switches per 100 frames and MOTA from motmetrics, and whether
   every object that crosses the seam or passes near the pole keeps one id over its whole life.
   Objects under 1/2048 of the frame are not ground-truth instances (the sequences' default).
2. The synthetic demo model (``panorank-synthetic-demo``) on synthetic sequences: each frame
   is ranked once; the tracker then runs
   over those results with smoothing off (the raw per-frame ranks) and on (the defaults, and a
   few other settings). Per setting: ID switches per 100 frames (motmetrics vs the ground-truth
   ids), top-1 changes and pairwise flips per 100 frames (objects matched by track id; the
   replay report's measure, foir360_ros.replay.stability), and SOR (foir360 profile) against
   per-frame teacher labels (``foir360 label --inpaint telea`` on the frames and GT masks).
   Aims: smoothing cuts top-1 changes by at least half; SOR drops by no more than 0.01.
   The defaults (rank_ema_alpha 0.3, rank_hysteresis 0.15) were picked on seeds 0 and 1; the figures
   here are on seeds 2 and 3.
3. Cost: ``Tracker.update`` with 20 instances at mask resolution 512x1024 (wall and process
   CPU time per frame, median), beside the RLE encoding the message needs anyway and the
   shipped model's inference time on this machine (ratio). The machine is shared: the load
   average is printed with the figures.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from foir360_core.structures import PanoInstances  # noqa: E402
from foir360_core.structures.instances import ranks_from_scores  # noqa: E402
from foir360_core.synth.sequence import SequenceSettings, render_sequence  # noqa: E402
from foir360_core.tracking import (  # noqa: E402
    Detections,
    Tracker,
    TrackerSettings,
    TrackFrame,
    mot_metrics,
    track_ground_truth,
)
from foir360_ros.replay.stability import RankedFrame, rank_stability  # noqa: E402


def by_solid_angle(instances: PanoInstances) -> PanoInstances:
    """Ground truth as a prediction: importance = solid angle (the tracker ignores its meaning)."""
    solid = np.array([g.solid_angle for g in instances.geometry])
    return instances.with_ranks(ranks_from_scores(solid), solid / max(solid.max(), 1e-9))


def seam_and_pole_lives(frames, tracked) -> tuple[int, int, int, int]:
    """(seam objects, of them with one id; pole objects, of them with one id) over their lives."""
    seam, pole = set(), set()
    for frame in frames:
        for k, gt_id in enumerate(frame.track_ids.tolist()):
            mask = frame.instances.masks[k]
            if mask[:, 0].any() and mask[:, -1].any():
                seam.add(gt_id)
            if abs(np.degrees(frame.instances.geometry[k].elevation)) > 75.0:
                pole.add(gt_id)

    def one_id(gt_id: int) -> bool:
        ids = {int(t.track_ids[list(f.track_ids).index(gt_id)])
               for f, t in zip(frames, tracked, strict=True) if gt_id in f.track_ids}
        return len(ids) == 1

    return len(seam), sum(map(one_id, seam)), len(pole), sum(map(one_id, pole))


def part1(seeds: list[int], frames: int, height: int, yaws: list[float]) -> None:
    print(f"\n1. tracker alone, ground-truth masks as predictions ({frames} frames, "
          f"{2 * height}x{height}, masks at image resolution)")
    print(f"   {'seed':>4} {'yaw/fr':>6} {'IDF1':>6} {'IDsw':>5} {'IDsw/100':>8} "
          f"{'MOTA':>6} {'seam ok':>8} {'pole ok':>8}")
    for yaw, seed in itertools.product(yaws, seeds):
        settings = SequenceSettings(frames=frames, height=height, yaw_deg=yaw)
        seq = list(render_sequence(seed, settings))
        out = track_ground_truth((by_solid_angle(f.instances), f.stamp_ns, f.track_ids)
                                 for f in seq)
        seam, seam_ok, pole, pole_ok = seam_and_pole_lives(seq, out.tracked)
        m = out.mot
        print(f"   {seed:>4} {yaw:>6.1f} {m['idf1']:>6.3f} "
              f"{m['num_switches']:>5} "
              f"{m['switches_per_100_frames']:>8.2f} {m['mota']:>6.3f} "
              f"{seam_ok:>4}/{seam:<3} {pole_ok:>4}/{pole:<3}")


def teacher_labels(folder: Path, seed: int, settings: SequenceSettings) -> Path:
    from foir360_core.synth.sequence_writer import write_sequence

    masks = write_sequence(folder, seed, settings, bag=False)
    labels = folder / "labels.json"
    subprocess.run([sys.executable, "-m", "foir360_core", "label", str(masks), "--out",
                    str(labels), "--inpaint", "telea", "--no-progress"], check=True)
    return labels


def rank_frames(ranker, labels: Path) -> list[tuple]:
    """(gt instances with teacher ranks, gt ids, stamp, model instances) per frame."""
    from foir360_core.io import Dataset

    dataset = Dataset.load(labels)
    out = []
    for record in dataset.images:
        image = dataset.read_image(record.id)
        pred = ranker.rank(image)
        out.append((dataset.instances(record.id), dataset.track_ids(record.id),
                    int(record.extra["stamp_ns"]), pred))
    return out


def evaluate_setting(ranked: list[tuple], settings: TrackerSettings) -> dict:
    from foir360_core.metrics import evaluate_many

    tracker = Tracker(settings)
    pairs, frames, samples = [], [], []
    for k, (gt, gt_ids, stamp, pred) in enumerate(ranked):
        det = Detections.from_instances(pred, stamp)
        result = tracker.update(det)
        pairs.append((TrackFrame(gt_ids, gt.to_rle()), TrackFrame(result.track_ids, det.rles)))
        frames.append(RankedFrame(result.ranks, [_coco(r) for r in det.rles],
                                  raw_ranks=result.raw_ranks, track_ids=result.track_ids))
        n = len(pred)
        published = pred.with_ranks(result.ranks, (n + 1 - result.ranks) / max(n, 1))
        samples.append((f"frame{k}", gt, published))
    reports = evaluate_many(samples, ("irsr", "foir360"))
    return {"mot": mot_metrics(pairs), "stability": rank_stability(frames),
            "sor": reports["irsr"].summary["sor"], "sa_sor": reports["irsr"].summary["sa_sor"],
            "sor_foir360": reports["foir360"].summary["sor"],
            "foir360_images": reports["foir360"].summary["images_used"]}


def _coco(rle: dict) -> dict:
    return {"size": rle["size"], "counts": rle["counts"].encode("ascii")}


def part2(seeds: list[int], frames: int, height: int, tmp: Path):
    """Prints the table; returns the ranker (part 3 times its inference)."""
    from foir360_core.runtime import Ranker

    ranker = Ranker("panorank-synthetic-demo", backend="onnxruntime")
    info = ranker.info
    print(f"\n2. shipped model {info['model_name']} {info['model_version']} "
          f"({info['backend']}, input {info['input_size']}) on {len(seeds)} sequences of "
          f"{frames} frames at {2 * height}x{height}; teacher = foir360 label --inpaint telea")
    settings = {
        "raw (smoothing off)": TrackerSettings(rank_smoothing=False),
        "smoothed (defaults)": TrackerSettings(),
        "smoothed, no hysteresis": TrackerSettings(rank_hysteresis=0.0),
        "smoothed, alpha 0.5": TrackerSettings(rank_ema_alpha=0.5),
        "smoothed, hysteresis 0.3": TrackerSettings(rank_hysteresis=0.3),
        "smoothed, all places held": TrackerSettings(rank_hold_places=1_000_000),
    }
    ranked = []
    for seed in seeds:
        folder = tmp / f"seq{seed}"
        start = time.perf_counter()
        labels = teacher_labels(folder, seed, SequenceSettings(frames=frames, height=height))
        label_s = time.perf_counter() - start
        start = time.perf_counter()
        ranked.append(rank_frames(ranker, labels))
        print(f"   seed {seed}: labeled in {label_s:.0f} s, ranked in "
              f"{time.perf_counter() - start:.0f} s")
    print("   SOR = irsr profile (every GT object, coverage 0.5) over all frames; SOR foir360 ="
          " coverage 0.98, over the frames where it applies (count in brackets)")
    print(f"   {'setting':<26} {'IDF1':>6} {'IDsw/100':>8} {'top1 ch/100':>11} "
          f"{'flips/100':>9} {'SOR':>7} {'SA-SOR':>7} {'SOR foir360':>14}")
    results = {}
    for name, setting in settings.items():
        runs = [evaluate_setting(r, setting) for r in ranked]
        row = {
            "idf1": statistics.mean(r["mot"]["idf1"] for r in runs),
            "sw": statistics.mean(r["mot"]["switches_per_100_frames"] for r in runs),
            "top1": statistics.mean(r["stability"]["top1_changes_per_100_frames"] for r in runs),
            "flips": statistics.mean(r["stability"]["pairwise_flips_per_100_frames"]
                                     for r in runs),
            "sor": statistics.mean(r["sor"] for r in runs),
            "sa_sor": statistics.mean(r["sa_sor"] for r in runs),
            "sor_foir360": statistics.mean(r["sor_foir360"] or 0.0 for r in runs),
            "foir360_images": sum(r["foir360_images"] or 0 for r in runs),
        }
        results[name] = row
        print(f"   {name:<26} {row['idf1']:>6.3f} {row['sw']:>8.2f} {row['top1']:>11.2f} "
              f"{row['flips']:>9.1f} {row['sor']:>7.4f} {row['sa_sor']:>7.4f} "
              f"{row['sor_foir360']:>8.4f} ({row['foir360_images']})")
    raw, smooth = results["raw (smoothing off)"], results["smoothed (defaults)"]
    cut = 1.0 - smooth["top1"] / raw["top1"] if raw["top1"] else float("nan")
    print(f"   defaults vs raw: top-1 changes cut by {100 * cut:.0f}% (aim >= 50%), SOR "
          f"{smooth['sor'] - raw['sor']:+.4f} (aim >= -0.01)")
    return ranker


def part3(height: int, ranker, repeats: int) -> None:
    print(f"\n3. cost at 20 instances, masks {2 * height}x{height} "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    settings = SequenceSettings(frames=repeats, height=height, n_objects=(26, 30), yaw_deg=2.0)
    seq = list(render_sequence(11, settings))
    counts = [len(f.instances) for f in seq]
    tracker = Tracker()
    wall, cpu, encode = [], [], []
    for frame in seq:
        inst = by_solid_angle(frame.instances.subset(np.arange(min(20, len(frame.instances)))))
        start = time.perf_counter()
        rles = inst.to_rle()
        _ = inst.geometry
        encode.append(time.perf_counter() - start)
        det = Detections.from_instances(inst, frame.stamp_ns, rles)
        w0, c0 = time.perf_counter(), time.process_time()
        tracker.update(det)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    infer = []
    for frame in seq[:5]:
        ranker.rank(frame.image)
        infer.append(ranker.timings.infer_ms)
    track_ms = 1e3 * statistics.median(wall)
    print(f"   instances per frame: {min(counts)}..{max(counts)} visible, 20 tracked")
    print(f"   Tracker.update: median {track_ms:.2f} ms wall, "
          f"{1e3 * statistics.median(cpu):.2f} ms CPU, p95 "
          f"{1e3 * float(np.percentile(wall, 95)):.2f} ms wall (aim <= 2 ms)")
    print(f"   (RLE + geometry the message needs anyway: median "
          f"{1e3 * statistics.median(encode):.1f} ms)")
    print(f"   inference ({ranker.info['backend']}, input {ranker.info['input_size']}): median "
          f"{statistics.median(infer):.1f} ms -> tracking / inference = "
          f"{track_ms / statistics.median(infer):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter sequences")
    args = parser.parse_args()
    quick = args.quick
    start = time.perf_counter()
    part1(seeds=[0, 1] if quick else [0, 1, 2, 3, 4], frames=60 if quick else 100,
          height=128 if quick else 256, yaws=[2.0] if quick else [2.0, 5.0])
    with tempfile.TemporaryDirectory() as tmp:
        # seeds 0 and 1 chose the default smoothing settings; 2 and 3 are held out
        ranker = part2(seeds=[2] if quick else [2, 3], frames=30 if quick else 60,
                       height=256, tmp=Path(tmp))
    part3(512, ranker, repeats=10 if quick else 30)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
