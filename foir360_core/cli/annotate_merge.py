"""Merge several annotators' rank files and report their agreement (Kendall's tau).

Panoramas ranked by one annotator are copied; those ranked by several are merged with the
local rank collector. Agreement is Kendall's tau per shared panorama, averaged per pair.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", type=Path, nargs="+", help="rank files from foir360 annotate")
    parser.add_argument("--out", type=Path, required=True, help="merged ranks file to write")
    parser.add_argument("--report", type=Path, help="also write the agreement report as JSON")


def run(args: argparse.Namespace) -> int:
    from foir360_core.annotate import merge_annotations
    from foir360_core.io import DatasetError

    try:
        report = merge_annotations(args.inputs, args.out)
    except (DatasetError, ValueError, OSError) as err:
        print(f"foir360 annotate-merge: {err}", file=sys.stderr)
        return 2
    print("\n".join(report.lines()))
    if args.report:
        args.report.write_text(json.dumps(report.to_json(), indent=2), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0
