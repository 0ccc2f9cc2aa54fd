"""Render synthetic 360° panoramas with exact instance masks into a dataset folder.

Writes OUT/images/pano_XXXX.png and OUT/masks.json (COCO + seam-aware boxes, no ranks);
with --preview also OUT/previews/pano_XXXX.png overlays showing each instance's outline,
seam-aware box and spherical centre (azimuth/elevation, REP 103). The same --seed always
gives the same panoramas.

With --sequence N it renders one 360° video instead: N frames of a turning, driving, swaying
camera among moving objects (some cross the seam, one passes over the zenith), with
ground-truth track ids (images[].track_ids) and stamps (images[].stamp_ns) in OUT/masks.json
and, unless --no-bag, the frames as a rosbag2 (MCAP) in OUT/bag on /camera/image, ready for
`foir360 replay OUT/bag --image-topic /camera/image --gt OUT/masks.json`.
"""

from __future__ import annotations

import argparse
import logging
import re
import time

log = logging.getLogger("foir360.synth")


def object_range(text: str) -> tuple[int, int]:
    """Parse ``N`` or ``MIN-MAX`` object counts for argparse."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected N or MIN-MAX (e.g. 4-10), got {text!r}")
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) else low
    if high < low:
        raise argparse.ArgumentTypeError(f"MIN must not exceed MAX in {text!r}")
    return low, high


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument("--count", type=positive_int, default=8, help="panoramas (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    parser.add_argument("--height", type=positive_int, default=512,
                        help="ERP height in pixels; width is 2x (default 512)")
    parser.add_argument("--objects", type=object_range, default=None, metavar="MIN-MAX",
                        help="objects placed per panorama, N or MIN-MAX (default 6-12); tiny "
                             "or fully hidden ones are dropped from the masks")
    parser.add_argument("--preview", action="store_true",
                        help="also write geometry overlays to OUT/previews/")
    sequence = parser.add_argument_group("sequences (--sequence N)")
    sequence.add_argument("--sequence", type=positive_int, default=None, metavar="N",
                          help="render one moving-camera sequence of N frames instead "
                               "(--count and --preview do not apply)")
    sequence.add_argument("--fps", type=float, default=10.0, help="frame rate (default 10)")
    sequence.add_argument("--yaw-deg", type=float, default=2.0,
                          help="camera turn per frame in degrees (default 2)")
    sequence.add_argument("--no-bag", action="store_true", help="do not write OUT/bag")


def run_sequence(args: argparse.Namespace) -> int:
    from foir360_core.synth.sequence import SequenceSettings
    from foir360_core.synth.sequence_writer import BAG_NAME, IMAGE_TOPIC, write_sequence

    start = time.perf_counter()
    try:
        settings = SequenceSettings(frames=args.sequence, height=args.height, fps=args.fps,
                                    yaw_deg=args.yaw_deg, **(
                                        {"n_objects": args.objects} if args.objects else {}))
        path = write_sequence(args.out, args.seed, settings, bag=not args.no_bag, progress=True)
    except ValueError as err:
        log.error("%s", err)
        return 2
    print(f"wrote a {args.sequence}-frame sequence ({2 * args.height}x{args.height}) with track "
          f"ids to {path} in {time.perf_counter() - start:.1f} s")
    if not args.no_bag:
        print(f"rosbag2: {path.parent / BAG_NAME} (topic {IMAGE_TOPIC})")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.sequence is not None:
        return run_sequence(args)
    from foir360_core.synth import generate_dataset

    start = time.perf_counter()
    try:
        path = generate_dataset(args.out, args.count, seed=args.seed, height=args.height,
                                n_objects=args.objects, preview=args.preview, progress=True)
    except ValueError as err:
        log.error("%s", err)
        return 2
    elapsed = time.perf_counter() - start
    from foir360_core.io import Dataset

    dataset = Dataset.load(path)
    n_instances = sum(len(dataset.annotations(r.id)) for r in dataset.images)
    print(f"wrote {len(dataset)} panoramas ({2 * args.height}x{args.height}), "
          f"{n_instances} instances, to {path} in {elapsed:.1f} s "
          f"({elapsed / len(dataset):.2f} s per panorama)")
    if args.preview:
        print(f"geometry overlays: {path.parent / 'previews'}")
    return 0
