"""Rank every object in 360° panoramas and write what a person can look at.

For each input image (files, or every image in a folder) this writes OUT/<name>.json, the
ranked instances in the foir360 dataset format (COCO + importance_rank/importance_score;
category ids are the model's class index + 1), and OUT/<name>_overlay.png, the panorama with
each mask coloured by rank (red = most important), outlined and numbered; an object cut by
the left/right seam is numbered on both sides. OUT/ranked.json gathers all panoramas in one
dataset for `foir360 eval`, its file names relative to the input folder. Images that are not
2:1 are rejected, as the ROS node and replay do, unless --no-strict-erp is given. Without
--model the shipped default model is used.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from foir360_core.cli.settings_args import add_settings_arguments, settings_from_args
from foir360_core.settings import RankerSettings

log = logging.getLogger("foir360.rank")

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR",
                        help="ERP panoramas (W = 2H), or folders of them")
    parser.add_argument("--out", type=Path, default=Path("ranked"), help="output folder")
    add_settings_arguments(parser.add_argument_group("ranker settings"), RankerSettings)
    parser.add_argument("--no-strict-erp", action="store_true",
                        help="rank images that are not 2:1 too (their spherical geometry is "
                             "wrong); by default they are rejected, as the node does")


def collect_images(inputs: list[str]) -> tuple[list[Path], list[str]]:
    """Image files named or found (non-recursively) in folders; plus what was not usable."""
    images, problems = [], []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                problems.append(f"{item}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
            images.extend(found)
        elif item.is_file():
            images.append(item)
        else:
            problems.append(f"{item}: no such file or folder")
    return images, problems


def image_root(inputs: list[str]) -> Path:
    """The folder the written file names are relative to: the input folder (for several
    inputs, their common folder), so `foir360 eval` can join them with the GT by name."""
    folders = [p if p.is_dir() else p.parent for p in (Path(i).resolve() for i in inputs)]
    return Path(os.path.commonpath(folders))


def _unique_stem(path: Path, used: set[str]) -> str:
    stem, n = path.stem, 1
    while stem in used:
        n += 1
        stem = f"{path.stem}_{n}"
    used.add(stem)
    return stem


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from foir360_core.geometry import ErpShapeError
    from foir360_core.io import ImageRecord, read_image, write_dataset_json, write_image
    from foir360_core.io.dataset import annotations_for
    from foir360_core.runtime import BackendUnavailableError, Ranker
    from foir360_core.runtime.overlay import draw_ranked_overlay
    from foir360_core.structures import PanoInstances

    images, problems = collect_images(args.inputs)
    for problem in problems:
        log.error("%s", problem)
    if not images:
        log.error("no panoramas to rank")
        return 2
    try:
        ranker = Ranker(settings=settings_from_args(RankerSettings, args),
                        strict_erp=not args.no_strict_erp)
    except (BackendUnavailableError, FileNotFoundError, ValueError) as err:
        log.error("%s", err)
        return 3
    info = ranker.info
    categories = [{"id": i + 1, "name": name, "supercategory": "object"}
                  for i, name in enumerate(info["class_names"])]
    args.out.mkdir(parents=True, exist_ok=True)
    root = image_root(args.inputs)
    run_info = {"model": info["model_name"], "model_version": info["model_version"],
                "backend": info["backend"],
                "image_root": os.path.relpath(root, args.out.resolve())}
    # ranked.json is built from each panorama's encoded annotations, so masks are encoded
    # once and no panorama's full-resolution masks outlive its own step
    records, annotations, used, failed = [], [], set(), len(problems)
    for path in tqdm(images, desc="ranking", unit="pano"):
        try:
            image = read_image(path)
            instances = ranker.rank(image)
        except ErpShapeError as err:
            log.error("skipping %s: %s (or pass --no-strict-erp)", path, err)
            failed += 1
            continue
        except (OSError, ValueError) as err:
            log.error("skipping %s: %s", path, err)
            failed += 1
            continue
        stem = _unique_stem(path, used)
        instances = PanoInstances(  # dataset category ids are 1-based
            masks=instances.masks, class_ids=instances.class_ids + 1, ranks=instances.ranks,
            scores=instances.scores, class_scores=instances.class_scores)
        record = ImageRecord(len(records) + 1, str(path.resolve().relative_to(root)),
                             image.shape[1],
                             image.shape[0], {"timings_ms": ranker.timings.as_dict()})
        anns = annotations_for(record, instances, 1)
        write_dataset_json(args.out / f"{stem}.json", [record.to_json()], anns,
                           categories=categories, info=run_info)
        title = (f"{info['model_name']} v{info['model_version']} ({info['backend']}): "
                 f"{len(instances)} objects, 1 = most important")
        write_image(args.out / f"{stem}_overlay.png", draw_ranked_overlay(image, instances, title))
        records.append(record.to_json())
        first = len(annotations) + 1
        annotations.extend({**ann, "id": first + i} for i, ann in enumerate(anns))
    if records:
        write_dataset_json(args.out / "ranked.json", records, annotations, categories=categories,
                           info=run_info)
    summary = ranker.latency_summary()
    total = summary.get("total", {})
    print(f"ranked {len(records)} panoramas with {info['backend']} into {args.out} "
          f"({failed} skipped); latency p50 {total.get('p50_ms', 0):.1f} ms, "
          f"p95 {total.get('p95_ms', 0):.1f} ms")
    return 1 if failed else 0
