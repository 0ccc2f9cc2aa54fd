"""Rank every object of each panorama by hand, on a local web page (the 360Rank protocol).

Serves a page on 127.0.0.1 that shows one panorama at a time. Sparse scenes are ranked on
the ERP image (turned so no object is cut by the seam) by clicking objects from most to
least important; dense scenes (Eq. 6 density above --dense-threshold) are ranked in
overlapping sub-windows whose orders are merged by the local rank collector and shown for
confirmation. The output is rewritten after every panorama and a rerun resumes it.
Without --masks, --segmenter SPEC first segments the panoramas in IMAGES
(`foir360 segment`) into the cached masks file OUT-stem.masks.json.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from foir360_core.cli.arguments import shard_argument
from foir360_core.cli.segment import add_segmenter_arguments, masks_for


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", type=Path,
                        help="folder holding the panorama files named in the masks file")
    parser.add_argument("--masks", type=Path,
                        help="dataset JSON with every object's mask (COCO RLE); without it, "
                             "--segmenter makes one")
    parser.add_argument("--out", type=Path, required=True,
                        help="ranks file to write (dataset format); an existing one is resumed")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free one)")
    parser.add_argument("--annotator", default="anonymous", help="name recorded with each ranking")
    parser.add_argument("--shard", type=shard_argument, default=(0, 1), metavar="I/N",
                        help="I/N (0 <= I < N): rank only every N-th panorama from the I-th")
    parser.add_argument("--dense-threshold", type=float, default=10.0,
                        help="Eq. 6 density above which a scene is ranked in sub-windows")
    parser.add_argument("--density-width", type=int, default=2048,
                        help="measure Eq. 6 as if the panorama were this wide, so the threshold "
                             "does not depend on resolution (0 = native pixels)")
    parser.add_argument("--windows", type=int, default=6,
                        help="sub-windows around the horizon for dense scenes")
    parser.add_argument("--window-fov", type=float, default=90.0,
                        help="horizontal field of view of a sub-window, degrees")
    parser.add_argument("--redo-skipped", action="store_true",
                        help="offer again the panoramas skipped in an earlier run")
    add_segmenter_arguments(parser.add_argument_group(
        "segmenting first (when no --masks is given)"), default=None)


def run(args: argparse.Namespace) -> int:
    from foir360_core.annotate import AnnotateServer, AnnotationSession, SessionConfig
    from foir360_core.annotate.prepare import WindowOptions
    from foir360_core.io import DatasetError

    if not args.images.is_dir():
        print(f"foir360 annotate: {args.images} is not a folder of panoramas", file=sys.stderr)
        return 2
    masks, images = args.masks, args.images
    if masks is None:
        masks, error = masks_for(args, args.out)
        if error is not None:
            print(f"foir360 annotate: {error}", file=sys.stderr)
            return 2
        images = None  # the cached masks file names the panoramas relative to itself
    try:
        config = SessionConfig(
            masks=masks, out=args.out, images=images, annotator=args.annotator,
            shard=args.shard, dense_threshold=args.dense_threshold,
            density_width=args.density_width or None,
            windows=WindowOptions(count=args.windows, fov_deg=args.window_fov),
            redo_skipped=args.redo_skipped,
        )
        session = AnnotationSession(config)
        server = AnnotateServer(session, args.port)
    except (ValueError, DatasetError, OSError) as err:
        print(f"foir360 annotate: {err}", file=sys.stderr)
        return 2
    summary = session.summary()
    print(f"foir360 annotate: {summary['total']} panoramas in shard {summary['shard']}, "
          f"{summary['done']} already done; writing {args.out}")
    print(f"open {server.url} in a browser (Ctrl+C to stop; work is saved after each panorama)",
          flush=True)
    # Ctrl+C stops the server even when started from a shell that ignores SIGINT (a
    # background job inherits SIG_IGN, which Python then keeps).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    summary = session.summary()
    print(f"stopped: {summary['done']} of {summary['total']} panoramas ranked, "
          f"{summary['skipped']} skipped, {summary['rejected']} rejected")
    return 0
