"""Instance masks for 360° panoramas: a perspective segmenter on views covering the sphere.

IMAGES are image files or folders (searched recursively). Each panorama is cut into
rectilinear views (--views; default sphere16: 8 horizon views + 4 tilted to each pole),
segmented view by view, and the masks are back-projected into the panorama and merged on
the sphere, so objects cut by view borders, seen twice, across the ERP seam or at a pole
come out as one instance. Writes the dataset format (COCO + RLE with seam-aware erp_bbox,
class names from the segmenter, a score per instance) for `foir360 label` and
`foir360 annotate`. Finished panoramas are kept in OUT.progress/ and skipped when run
again with the same images and settings; --shard I/N splits the work between processes.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from foir360_core.cli.arguments import shard_argument

log = logging.getLogger("foir360.segment")


def add_segmenter_arguments(parser: argparse.ArgumentParser, *, default: str | None) -> None:
    """--segmenter, --views, --view-size, --score-threshold (shared with label, annotate)."""
    from foir360_core.segmentation.layouts import DEFAULT_LAYOUT, DEFAULT_VIEW_SIZE, LAYOUTS
    from foir360_core.segmentation.registry import SPEC_HELP

    parser.add_argument("--segmenter", default=default, metavar="SPEC", help=SPEC_HELP)
    parser.add_argument("--views", default=DEFAULT_LAYOUT, choices=sorted(LAYOUTS),
                        help=f"view layout covering the sphere (default {DEFAULT_LAYOUT})")
    parser.add_argument("--view-px", type=int, default=DEFAULT_VIEW_SIZE,
                        help=f"view size in pixels, square (default {DEFAULT_VIEW_SIZE})")
    parser.add_argument("--score-threshold", type=float, default=None,
                        help="drop detections below this score (default: the segmenter's own)")
    parser.add_argument("--threads", type=int, default=None,
                        help="inference threads per process (default: one per core with one "
                             "worker, 1 with several; 0 = one per core)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from foir360_core.segmentation.registry import DEFAULT_SEGMENTER

    parser.add_argument("images", type=Path, nargs="+", metavar="IMAGES",
                        help="panorama files or folders (W = 2H)")
    parser.add_argument("--out", type=Path, required=True, help="output masks JSON")
    add_segmenter_arguments(parser, default=DEFAULT_SEGMENTER)
    parser.add_argument("--workers", type=int, default=1, help="local processes (default 1)")
    parser.add_argument("--shard", type=shard_argument, default=(0, 1), metavar="I/N",
                        help="segment only shard I of N (cluster arrays)")
    parser.add_argument("--debug-dir", type=Path,
                        help="write each view with its detections and masks as PNGs")
    parser.add_argument("--debug-count", type=int, default=1,
                        help="write debug views for the first N files of the run (default 1)")
    parser.add_argument("--preview", action="store_true",
                        help="write ERP overlays (class, score, box, centre) to OUT-stem.previews/")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def options_from_args(args: argparse.Namespace, images, out: Path, **extra):
    """SegmentOptions from the shared segmenter arguments."""
    from foir360_core.segmentation.batch import SegmentOptions
    from foir360_core.segmentation.panoramic import MergeSettings

    return SegmentOptions(images=tuple(images), out=out, segmenter=args.segmenter,
                          settings=MergeSettings(layout=args.views, view_size=args.view_px),
                          score_threshold=args.score_threshold,
                          threads=_threads(args.threads, extra.get("workers", 1)), **extra)


def _threads(requested: int | None, workers: int) -> int | None:
    """Inference threads per process; None = ONNX Runtime's default, one per core."""
    if requested is None:
        return None if workers <= 1 else 1
    return requested or None


def segment_or_error(options) -> tuple[object | None, str | None]:
    """Run a segmentation; (summary, None) or (None, one-line error)."""
    from foir360_core.deps import BackendUnavailableError
    from foir360_core.segmentation.base import SegmenterSpecError
    from foir360_core.segmentation.batch import SegmentRunError, run_segmentation

    try:
        return run_segmentation(options), None
    except (SegmenterSpecError, SegmentRunError, BackendUnavailableError, FileNotFoundError,
            ValueError, ImportError) as err:
        return None, str(err)


def report(summary) -> None:
    done = max(summary.segmented, 1)
    log.info("segmented %d panoramas (%d already done, %d skipped), %d instances, %.2f s per "
             "panorama; wrote %s", summary.segmented, summary.already_done,
             len(summary.failed), summary.instances, summary.seconds / done, summary.output)
    for path, reason in sorted(summary.failed.items()):
        log.warning("skipped %s: %s", path, reason)


NEITHER = ("give --masks MASKS.json (instance masks in the dataset format) or --segmenter SPEC "
           "to make them first (e.g. --segmenter coco-centernet)")


def masks_for(args: argparse.Namespace, out: Path, shard: tuple[int, int] = (0, 1)
              ) -> tuple[Path | None, str | None]:
    """``label`` / ``annotate`` without --masks: segment IMAGES into a cached masks file.

    The cache is ``OUT-stem.masks.json`` beside OUT (resumable like ``foir360 segment``), so
    a re-run segments nothing twice. Returns (masks file, None) or (None, one-line error).
    """
    if args.segmenter is None:
        return None, NEITHER
    from foir360_core.segmentation.batch import output_path

    cache = out.with_name(f"{out.stem}.masks.json")
    options = options_from_args(args, [args.images], cache, shard=shard,
                                workers=getattr(args, "workers", 1),
                                progress_bar=not getattr(args, "no_progress", False))
    log.info("no --masks given: segmenting %s with %s into %s", args.images, args.segmenter,
             output_path(cache, shard))
    summary, error = segment_or_error(options)
    if error is not None:
        return None, error
    report(summary)
    return summary.output, None


def draw_preview(image, result, title: str):
    """The ERP overlay of ``foir360 synth --preview`` with 'class score' per instance."""
    import numpy as np

    from foir360_core.structures import PanoInstances
    from foir360_core.synth.preview import draw_geometry

    instances = result.instances
    names = [f"{result.class_names[int(c) - 1]} {s:.2f}" for c, s in
             zip(instances.class_ids, instances.class_scores, strict=True)]
    numbered = PanoInstances(masks=instances.masks, class_ids=np.arange(1, len(instances) + 1))
    return draw_geometry(image, numbered, names, title=title)


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    options = options_from_args(
        args, args.images, args.out, workers=args.workers, shard=args.shard,
        debug_dir=args.debug_dir, debug_count=args.debug_count,
        preview=draw_preview if args.preview else None,
        progress_bar=not args.no_progress)
    summary, error = segment_or_error(options)
    if error is not None:
        log.error("%s", error)
        return 2
    report(summary)
    log.info("wall time %.1f s", time.perf_counter() - start)
    if args.preview:
        log.info("previews: %s", options.preview_dir)
    return 1 if summary.failed else 0
