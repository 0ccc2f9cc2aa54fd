"""Rank the frames of a recorded rosbag2 bag (MCAP or sqlite3) and evaluate the ranker on them.

Offline (default) runs the node's own conversion and Ranker code over the bag without a ROS
runtime and writes the ranked instances into a new bag with the original timestamps. With
--live the frames are published at the recorded rate into a running ranker node and what it
publishes is recorded. Either way a report (frames, rejected frames, throughput, latency per
stage, rank stability between consecutive frames for the published and the raw per-frame
ranks, and with --gt the metrics of every profile and, when the ground truth has track ids,
IDF1 / ID switches / MOTA computed by motmetrics) is printed and saved as JSON. Offline replay
tracks instances across frames exactly like the node (--no-tracking turns it off).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from foir360_core.cli.settings_args import add_settings_arguments, settings_from_args
from foir360_core.settings import RankerSettings, SettingsError
from foir360_core.tracking import TrackerSettings

log = logging.getLogger(__name__)

# `foir360 replay`: registered through setup.py's foir360.commands entry point
HELP = "rank a rosbag2 bag offline or via a live node; report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bag", type=Path, help="rosbag2 folder or .mcap file to replay")
    parser.add_argument("--image-topic", required=True,
                        help="sensor_msgs/Image or CompressedImage topic in the bag")
    parser.add_argument("--out", type=Path, required=True,
                        help="output bag folder (must not exist)")
    parser.add_argument("--gt", type=Path,
                        help="foir360 dataset JSON whose images carry stamp_ns (frame stamps)")
    parser.add_argument("--live", action="store_true",
                        help="publish into a running ranker node instead of ranking here")
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap",
                        help="storage of the output bag (default: mcap)")
    parser.add_argument("--mask-height", type=int, default=None,
                        help="mask rows (width 2x; 0 = image size). Default 512, or the image "
                             "size with --gt so that metrics are exact")
    parser.add_argument("--overlay", action="store_true", help="also write debug overlay images")
    parser.add_argument("--detections", action="store_true",
                        help="also write vision_msgs/Detection2DArray messages")
    parser.add_argument("--no-strict-erp", action="store_true",
                        help="rank frames that are not 2:1 instead of rejecting them")
    parser.add_argument("--report", type=Path,
                        help="report JSON path (default: OUT_report.json beside the bag)")
    add_settings_arguments(parser.add_argument_group("ranker settings (offline)"),
                           RankerSettings)
    add_settings_arguments(parser.add_argument_group(
        "tracking (offline; the node's parameters of the same names)"), TrackerSettings)
    live = parser.add_argument_group("--live options")
    live.add_argument("--publish-topic", help="topic to publish frames on (default: the bag's)")
    live.add_argument("--ranked-topic", default="/foir360_ranker/ranked_instances",
                      help="the node's ranked-instances topic to record")
    live.add_argument("--rate", type=float, default=1.0, help="playback speed factor")


def run(args: argparse.Namespace) -> int:
    from foir360_ros.replay.bags import ReplayError, check_inputs
    from foir360_ros.replay.report import GroundTruth, ReplayAccumulator

    report_path = args.report or args.out.with_name(f"{args.out.name}_report.json")
    try:
        check_inputs(args.bag, args.image_topic, args.out)
        acc = ReplayAccumulator(gt=GroundTruth(args.gt) if args.gt else None)
        report = _live(args, acc) if args.live else _offline(args, acc)
    except ReplayError as err:
        log.error("%s", err)
        return 2
    print(report.text())
    report.save(report_path)
    print(f"report saved to {report_path}")
    return 0


def _offline(args: argparse.Namespace, acc):
    from foir360_core.runtime import Ranker
    from foir360_ros.replay.bags import ReplayError
    from foir360_ros.replay.offline import replay_offline

    mask_height = args.mask_height
    if mask_height is None:
        mask_height = 0 if args.gt else 512
    elif args.gt and mask_height:
        raise ReplayError("--gt needs masks at image resolution for exact metrics; drop "
                          "--mask-height or pass --mask-height 0")
    try:
        tracking = settings_from_args(TrackerSettings, args)
    except SettingsError as err:
        raise ReplayError(str(err)) from None
    try:
        ranker = Ranker(settings=settings_from_args(RankerSettings, args))
    except Exception as err:  # missing file, no backend, bad metadata: all end the run here
        raise ReplayError(f"cannot load model {args.model or '(shipped default)'}: {err}") from err
    return replay_offline(args.bag, args.image_topic, args.out, ranker, acc=acc,
                          storage=args.storage, mask_height=mask_height,
                          strict_erp=not args.no_strict_erp, overlay=args.overlay,
                          detections=args.detections,
                          tracking=tracking)


def _live(args: argparse.Namespace, acc):
    from foir360_ros.replay.live import replay_live

    if args.model or args.overlay or args.detections:
        log.warning("--live records what the running node publishes: its own model and "
                    "outputs apply (--model, --overlay and --detections are ignored)")
    return replay_live(args.bag, args.image_topic, args.out, acc=acc, storage=args.storage,
                       publish_topic=args.publish_topic, ranked_topic=args.ranked_topic,
                       rate=args.rate)
