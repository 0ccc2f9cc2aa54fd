"""Real-photo figures of PanoRank models against the teacher's pseudo-labels (issue 17 table).

    python benchmarks/bench_real_model.py --labels data/real360/val_labels.json \
        --model foir360_core/assets/panorank_synthetic_demo.safetensors \
        --model runs/real/model_last.safetensors [--size 256 512] [--threads 2] [--overlays DIR]

For each model, on every panorama of ``--labels`` (a ``foir360 label`` output: teacher masks
and ranks), at one common comparison size (default 256×512, teacher masks area-resized):
* instance recall — teacher objects of at least ``--min-fraction`` of the pixels (the
  training targets, ``data.min_object_fraction``) matched one-to-one by a prediction with
  mask IoU ≥ 0.5; and the same over the teacher's objects of every size;
* the ``foir360`` profile's SOR and SA-SOR against the teacher ranks;
* the share of predicted mask pixels in the top or bottom fifth of the rows;
* the share of predicted instances with more than one seam-aware connected component;
* Spearman's ρ of predicted vs teacher object counts per panorama;
* latency p50 of ``Ranker.rank`` (ONNX Runtime when installed, else PyTorch; ``--threads``),
  masks at the node's default 512×1024, measured on the same panoramas; with the load average.
Models run one after the other on the same images, so the ratios between them hold on a
loaded machine; the absolute latency says what the load was.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from foir360_core.io import Dataset
from foir360_core.metrics import evaluate_many
from foir360_core.metrics.mask_quality import fragmented_share, polar_share
from foir360_core.runtime import Ranker
from foir360_core.runtime.overlay import draw_ranked_overlay
from foir360_core.training.validate import ground_truth, matched_count

NODE_MASK_SIZE = (512, 1024)


def figures(model: str, dataset: Dataset, args: argparse.Namespace) -> dict[str, float]:
    """The table's figures for one model over every ranked panorama of ``dataset``."""
    size, threads, overlays = tuple(args.size), args.threads, args.overlays
    ranker = Ranker(model, backend=args.backend, threads=threads)
    ranker.warmup()
    samples, counts, latencies, preds = [], [], [], []
    matched = total = matched_all = total_all = 0
    for image_id in sorted(r.id for r in dataset.images):
        gt = ground_truth(dataset, image_id, size, args.min_fraction)
        every = ground_truth(dataset, image_id, size)
        if gt.ranks is None or len(gt) == 0:
            continue
        image = dataset.read_image(image_id)
        start = time.perf_counter()
        ranker.rank(image, mask_size=NODE_MASK_SIZE)
        latencies.append(time.perf_counter() - start)
        pred = ranker.rank(image, mask_size=size)
        matched += matched_count(gt, pred)
        total += len(gt)
        matched_all += matched_count(every, pred)
        total_all += len(every)
        counts.append((len(pred), len(gt)))
        preds.append(pred.masks)
        samples.append((gt, pred))
        if overlays is not None:
            _save_overlay(overlays / Path(model).stem, dataset, image_id, ranker, image)
    summary = evaluate_many(samples, ["foir360"])["foir360"].summary
    pred_counts, gt_counts = zip(*counts, strict=True)
    all_masks = np.concatenate(preds) if preds else np.zeros((0, *size), bool)
    return {
        "panoramas": len(samples),
        "instance recall": matched / max(total, 1),
        "instance recall, all sizes": matched_all / max(total_all, 1),
        "SOR (foir360)": summary["sor"],
        "SA-SOR (foir360)": summary["sa_sor"],
        "polar share of mask pixels": polar_share(all_masks),
        "fragmented instances": fragmented_share(all_masks),
        "count Spearman": float(spearmanr(pred_counts, gt_counts)[0]),
        "mean predicted / teacher count": float(np.mean(pred_counts) / np.mean(gt_counts)),
        f"latency p50 ms ({ranker.backend}, {threads} thr)":
            1000 * statistics.median(latencies),
    }


def _save_overlay(folder: Path, dataset: Dataset, image_id: int, ranker: Ranker,
                  image: np.ndarray) -> None:
    """An ERP overlay of the model's ranking on the panorama, for a person to look at."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    small = cv2.resize(image, (1024, 512), interpolation=cv2.INTER_AREA)
    drawn = draw_ranked_overlay(small, ranker.rank(small))
    name = Path(dataset.record(image_id).file_name).stem
    cv2.imwrite(str(folder / f"{name}.png"), drawn[..., ::-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", required=True, help="teacher labels (foir360 label output)")
    parser.add_argument("--model", action="append", required=True, help="model (repeatable)")
    parser.add_argument("--size", type=int, nargs=2, default=(256, 512), metavar=("H", "W"))
    parser.add_argument("--min-fraction", type=float, default=0.001,
                        help="smallest teacher object that counts, as a share of the pixels "
                             "at --size (default 0.001, real_cpu.yaml's min_object_fraction)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--overlays", type=Path, help="write overlays into this folder")
    args = parser.parse_args()
    dataset = Dataset.load(args.labels)
    rows = {m: figures(m, dataset, args) for m in args.model}
    print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; "
          f"compared at {args.size[0]}x{args.size[1]} against {args.labels}")
    names = list(next(iter(rows.values())))
    print("| figure | " + " | ".join(Path(m).name for m in rows) + " |")
    print("| --- |" + " --- |" * len(rows))
    for name in names:
        cells = " | ".join(f"{rows[m][name]:.3f}" if rows[m][name] is not None else "n/a"
                           for m in rows)
        print(f"| {name} | {cells} |")


if __name__ == "__main__":
    main()
