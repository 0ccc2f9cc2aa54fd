"""Pseudo-label importance ranks for panoramas with instance masks (FOIR-360 weak supervision).

IMAGES is the folder the masks file's file_names are relative to (default: the masks
file's folder); a .json file given as IMAGES is taken as the masks file. Without --masks,
--segmenter SPEC first segments the panoramas in IMAGES (`foir360 segment`) into the
cached masks file OUT-stem.masks.json and labels those. Writes the dataset
format with an importance rank and score per object, and each panorama's local view lists,
density score (Eq. 6) and work counters in its image entry. Finished panoramas are kept in
OUT.progress/ and skipped when the command is run again, so an interrupted run resumes.
With --shard I/N this process labels every N-th panorama from the I-th and writes
OUT's stem + .shard-I-of-N.json; a final run without --shard merges all shards into OUT.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from foir360_core.cli.arguments import shard_argument
from foir360_core.cli.segment import add_segmenter_arguments, masks_for

log = logging.getLogger("foir360.label")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", type=Path, metavar="IMAGES",
                        help="image folder (or the masks .json itself)")
    parser.add_argument("--masks", type=Path, help="COCO-style masks JSON (dataset format)")
    parser.add_argument("--out", type=Path, required=True, help="output labels JSON")
    parser.add_argument("--saliency", default="spectral,fine_grained",
                        help="comma-separated saliency models fused per view (PLE): spectral, "
                             "fine_grained, or .onnx paths (default spectral,fine_grained)")
    parser.add_argument("--inpaint", default="patchmatch",
                        help="eraser: patchmatch (cleanest), telea (fastest), ns, or a LaMa "
                             ".onnx path (default patchmatch)")
    parser.add_argument("--er", type=int, default=10, help="mask dilation before erasing, px "
                        "(expansion rate, default 10)")
    parser.add_argument("--mode", choices=("fast", "exact"), default="fast",
                        help="fast: one inpainting per view (Eq. 4); exact: one per step")
    parser.add_argument("--topk", type=int, default=1,
                        help="objects ranked and erased per step (Table 3 uses 5; default 1)")
    parser.add_argument("--reduction", choices=("sum", "max", "mean", "mean_x"),
                        default="sum", help="Sal-to-Rank reduction (default sum, Eq. 3)")
    parser.add_argument("--view-size", type=int, default=384,
                        help="local view size in px, square (default 384)")
    parser.add_argument("--min-fov", type=float, default=90.0,
                        help="smallest local view field of view, degrees (default 90)")
    parser.add_argument("--visibility", type=float, default=0.5,
                        help="share of an object's solid angle that must be inside a view for "
                             "it to be ranked there (default 0.5)")
    parser.add_argument("--workers", type=int, default=1, help="local processes (default 1)")
    parser.add_argument("--shard", type=shard_argument, default=(0, 1), metavar="I/N",
                        help="label only shard I of N (cluster arrays)")
    parser.add_argument("--debug-dir", type=Path,
                        help="write local views, masks, saliency maps and erasure steps as PNGs")
    parser.add_argument("--debug-count", type=int, default=1,
                        help="panoramas to write debug images for (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_segmenter_arguments(parser.add_argument_group(
        "segmenting first (when no --masks is given)"), default=None)


def run(args: argparse.Namespace) -> int:
    from foir360_core.labeling.pipeline import LabelConfig
    from foir360_core.labeling.runner import LabelRunError, RunOptions, run_labeling

    masks, images, shard = args.masks, args.images, args.shard
    out = args.out
    if masks is None and images.suffix.lower() == ".json":
        masks, images = images, None
    elif masks is None:
        masks, error = masks_for(args, args.out, shard)
        if error is not None:
            log.error("%s", error)
            return 2
        images = None
        if shard[1] > 1:  # the masks file holds this shard only: label all of it
            from foir360_core.segmentation.batch import output_path

            out, shard = output_path(args.out, shard), (0, 1)
    try:
        options = RunOptions(
            masks=masks, out=out, images=images,
            saliency=tuple(s.strip() for s in args.saliency.split(",") if s.strip()),
            inpaint=args.inpaint,
            config=LabelConfig(mode=args.mode, topk=args.topk, er=args.er,
                               reduction=args.reduction, view_size=args.view_size,
                               min_fov_deg=args.min_fov, visibility=args.visibility),
            workers=args.workers, shard=shard, debug_dir=args.debug_dir,
            debug_count=args.debug_count, progress_bar=not args.no_progress)
        start = time.perf_counter()
        summary = run_labeling(options)
    except (LabelRunError, ValueError, FileNotFoundError) as err:
        log.error("%s", err)
        return 2
    c = summary.counters
    log.info("labeled %d panoramas in %.1f s (%d already done, %d with one object, %d without "
             "objects, %d failed); %d views, %d saliency and %d inpainting calls; wrote %s",
             summary.labeled, time.perf_counter() - start, summary.already_done,
             summary.trivial, summary.empty, len(summary.failed), c.views, c.saliency_calls,
             c.inpaint_calls, summary.output)
    for image_id, reason in sorted(summary.failed.items()):
        log.warning("failed: image %s: %s", image_id, reason)
    return 1 if summary.failed else 0
