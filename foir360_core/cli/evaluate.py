"""Score predicted importance ranks against a ranked GT dataset: SOR, SA-SOR, MAE, images used.

Both files are foir360 dataset JSON (COCO + importance_rank / importance_score). Images are
joined by file name: the same file_name, the same file on disk, or else the one GT name that
ends with the prediction's path (``pano_1.png`` ↔ ``images/pano_1.png``). ``--join id``
pairs them by image id instead. A GT image with no prediction is scored as an empty
prediction, as the reference evaluators do; a predicted image that is not in the GT is an
error. Profiles reproduce the reference evaluators (see foir360_core.metrics).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

PROFILE_CHOICES = ("foir360", "assr", "irsr", "seqrank", "all")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gt", required=True, type=Path, help="ranked ground-truth dataset JSON")
    parser.add_argument("--pred", required=True, type=Path,
                        help="predictions as a dataset JSON (ranks or scores per annotation)")
    parser.add_argument("--profile", choices=PROFILE_CHOICES, default="foir360",
                        help="reference evaluator to reproduce; 'all' prints them side by side")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for per-image CSV, summary JSON and plots")
    parser.add_argument("--coverage", type=float, default=None,
                        help="override the SOR pixel-coverage threshold of every profile")
    parser.add_argument("--iou", type=float, default=None,
                        help="override the SA-SOR IoU threshold of every profile")
    parser.add_argument("--join", choices=("name", "id"), default="name",
                        help="pair prediction and GT images by file name, or by image id")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _by_name(gt_ds: Any, pred_ds: Any, errors: list[str]) -> Callable[[Any], int | None]:
    """Finder of the GT id of a prediction record: same file_name, same file on disk, or
    the only GT name ending with the prediction's path (the two files' folders differ)."""
    gt_by_name: dict[str, int] = {}
    gt_by_path: dict[Path, int] = {}
    for record in gt_ds.images:
        if record.file_name in gt_by_name:
            errors.append(f"GT images {gt_by_name[record.file_name]} and {record.id} share "
                          f"file_name {record.file_name!r}; file names must be unique")
        gt_by_name[record.file_name] = record.id
        gt_by_path[gt_ds.image_path(record.id).resolve()] = record.id

    def find(record: Any) -> int | None:
        if record.file_name in gt_by_name:
            return gt_by_name[record.file_name]
        on_disk = gt_by_path.get(pred_ds.image_path(record.id).resolve())
        if on_disk is not None:
            return on_disk
        tail = Path(record.file_name).parts
        ends = [i for name, i in gt_by_name.items() if Path(name).parts[-len(tail):] == tail]
        return ends[0] if len(ends) == 1 else None

    return find


def _join(gt_ds: Any, pred_ds: Any, by: str) -> tuple[dict[int, int], list[str]]:
    """GT id → pred id, plus errors (predictions matching no GT image, or the same one)."""
    errors: list[str] = []
    gt_ids = {record.id for record in gt_ds.images}
    find = _by_name(gt_ds, pred_ds, errors) if by == "name" else \
        (lambda record: record.id if record.id in gt_ids else None)
    joined: dict[int, int] = {}
    for record in pred_ds.images:
        gt_id = find(record)
        if gt_id is None:
            fix = ("; name the same images, or pass --join id to pair images by id"
                   if by == "name" else "")
            errors.append(f"prediction image {record.id} ({record.file_name}) is not in the GT "
                          f"{gt_ds.path} (no {by} match){fix}")
        elif gt_id in joined:
            errors.append(f"prediction images {joined[gt_id]} and {record.id} both map to GT "
                          f"image {gt_id} ({gt_ds.record(gt_id).file_name})")
        else:
            joined[gt_id] = record.id
    return joined, errors


def _samples(gt_ds: Any, pred_ds: Any, joined: dict[int, int], notes: list[str],
             dataset_error: type[Exception]) -> Iterator[tuple[str, Any, Any]]:
    """(file_name, GT instances, predicted instances or None), decoded one image at a time."""
    for record in gt_ds.images:
        try:
            gt = gt_ds.instances(record.id)
        except dataset_error as err:
            notes.append(f"{record.file_name}: GT not usable ({err}); image skipped")
            continue
        pred = None
        pred_id = joined.get(record.id)
        if pred_id is None:
            notes.append(f"{record.file_name}: no prediction; scored as an empty prediction")
        else:
            try:
                pred = pred_ds.instances(pred_id)
            except dataset_error as err:
                notes.append(f"{record.file_name}: prediction not usable ({err}); "
                             "scored as an empty prediction")
        yield record.file_name, gt, pred


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.10g}"
    return str(value)


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """One row per image; columns are the union of the rows' keys in first-seen order."""
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])


def write_plot(path: Path, reports: dict[str, Any]) -> None:
    """Per profile: histogram of per-image SOR and per-image SOR against the GT object count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(reports), 2, figsize=(10, 3.2 * len(reports)), squeeze=False)
    for (name, report), (hist_ax, scatter_ax) in zip(reports.items(), axes, strict=True):
        points = [(r["n_gt"], r["sor"]) for r in report.per_image
                  if r["sor"] is not None and not math.isnan(r["sor"])]
        sors = [s for _, s in points]
        hist_ax.hist(sors, bins=20, range=(0.0, 1.0), color="tab:blue")
        dataset_sor = report.summary["sor"]
        title = f"{name}: dataset SOR {_cell(dataset_sor) or 'n/a'}"
        hist_ax.set(title=title, xlabel="per-image SOR", ylabel="images")
        scatter_ax.scatter([n for n, _ in points], sors, s=8, alpha=0.6, color="tab:orange")
        scatter_ax.set(title=f"{name}: SOR vs object count", xlabel="GT objects",
                       ylabel="per-image SOR", ylim=(-0.05, 1.05))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _load(path: Path, what: str) -> Any:
    from foir360_core.io import Dataset

    dataset = Dataset.load(path, strict_erp=False)
    if not dataset.images:
        raise ValueError(f"the {what} file {path} lists no images")
    return dataset


def run(args: argparse.Namespace) -> int:
    import warnings

    from foir360_core.io import DatasetError
    from foir360_core.metrics import ALL_PROFILES, evaluate_many
    from foir360_core.metrics.evaluate import summary_table

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # non-2:1 frames are fine for metrics
            gt_ds, pred_ds = _load(args.gt, "GT"), _load(args.pred, "prediction")
        profiles = list(ALL_PROFILES) if args.profile == "all" else [args.profile]
        joined, errors = _join(gt_ds, pred_ds, args.join)
        notes: list[str] = []
        if errors:
            for error in errors:
                print(f"error: {error}", file=sys.stderr)
            return 2
        reports = evaluate_many(_samples(gt_ds, pred_ds, joined, notes, DatasetError), profiles,
                                coverage=args.coverage, iou=args.iou,
                                progress=not args.no_progress, total=len(gt_ds.images))
    except (DatasetError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    problems = notes + next(iter(reports.values())).problems
    for problem in problems:
        print(f"note: {problem}", file=sys.stderr)
    print(summary_table(reports))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, report in reports.items():
            write_csv(args.out / f"per_image_{name}.csv", report.per_image)
        summary = {name: {"profile": vars(r.profile), "summary": r.summary}
                   for name, r in reports.items()}
        summary["problems"] = problems
        (args.out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        write_plot(args.out / "sor_plots.png", reports)
        print(f"wrote per-image CSV, summary.json and sor_plots.png to {args.out}")
    return 0
