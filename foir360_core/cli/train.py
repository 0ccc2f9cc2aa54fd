"""Train PanoRank on a ranked dataset (the output of ``foir360 label``).

Examples:
  foir360 train training/configs/default.yaml --data labels.json --out runs/demo
  foir360 train training/configs/tiny_cpu.yaml --data labels.json --set train.epochs=1
  torchrun --nproc_per_node=4 -m foir360_core train training/configs/gpu.yaml --data labels.json
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="YAML config (training/configs/*.yaml)")
    parser.add_argument("--data", help="ranked dataset JSON (overrides data.train)")
    parser.add_argument("--val", help="separate validation dataset JSON (overrides data.val)")
    parser.add_argument(
        "--out", default="runs/panorank", help="output folder (default %(default)s)"
    )
    parser.add_argument("--resume", action="store_true", help="continue from OUT/train_state.pt")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set train.epochs=3 (repeatable)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    import os

    from foir360_core.models.config import load_config
    from foir360_core.training.trainer import train

    # A bad config, dataset or training state raises a UserError: `foir360` prints it as one
    # line and exits 2.
    config = load_config(args.config, args.overrides)
    result = train(
        config,
        data=args.data,
        val=args.val,
        out=args.out,
        resume=args.resume,
        progress=not args.no_progress,
    )
    if os.environ.get("RANK", "0") != "0":
        return 0  # under torchrun only the first process reports
    best = result.best_model or result.last_model
    print(
        f"trained {result.epochs_done} epochs ({result.steps} steps) in {result.minutes:.1f} min"
        f"{' (stopped at train.max_minutes)' if result.stopped_early else ''}; model: {best}"
    )
    return 0
