"""Export a PanoRank checkpoint to ONNX, with its description embedded and a parity check.

The ONNX carries the model name and version, input size, class names, preprocessing and the
training config hash as metadata, so a runtime needs nothing else. Before the file appears
at --out, ONNX Runtime runs it on a synthetic panorama and its ranked instances are compared
with PyTorch's (same objects and ranks, masks within --min-iou); a failure writes nothing.
"""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger("foir360.export")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="PanoRank checkpoint (.safetensors)")
    parser.add_argument("--out", required=True, help="output ONNX file, e.g. model.onnx")
    parser.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"),
                        help="network input size (default: the checkpoint's); 2:1, H %% 32 == 0")
    parser.add_argument("--dynamic", action="store_true",
                        help="symbolic height/width (checked at a second size); default fixed")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    parser.add_argument("--unrolled", action="store_true",
                        help="unroll the sequential rank head's picks instead of one ONNX "
                             "Loop (the graph before Loop exports; ~5x the nodes)")
    parser.add_argument("--no-parity", action="store_true",
                        help="skip the PyTorch vs ONNX Runtime parity check")
    parser.add_argument("--min-iou", type=float, default=0.98,
                        help="smallest IoU allowed between matched masks (default 0.98)")
    parser.add_argument("--score-atol", type=float, default=1e-3,
                        help="scores closer than this count as ties in rank parity")


def run(args: argparse.Namespace) -> int:
    from foir360_core.deps import BackendUnavailableError
    from foir360_core.runtime.export import ExportError, export_onnx

    size = tuple(args.input_size) if args.input_size else None
    try:
        result = export_onnx(
            args.checkpoint, args.out, input_size=size,
            dynamic=args.dynamic, opset=args.opset, parity=not args.no_parity,
            loop=not args.unrolled, min_iou=args.min_iou, score_atol=args.score_atol,
        )
    except (ExportError, BackendUnavailableError, ValueError, FileNotFoundError) as err:
        log.error("%s", err)
        return 1
    info = result.info
    size_mb = result.path.stat().st_size / 1e6
    shapes = "dynamic" if info.dynamic_shapes else "fixed"
    print(f"wrote {result.path} ({size_mb:.1f} MB): {info.name} v{info.version}, input "
          f"{info.input_size[0]}x{info.input_size[1]} ({shapes}), classes "
          f"{list(info.class_names)}, config {info.config_hash}")
    for report in result.parity:
        print(report.summary())
    return 0
