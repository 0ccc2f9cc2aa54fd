"""``foir360`` entry point.

Each subcommand lives in its own module and exposes ``add_arguments(parser)`` and
``run(args) -> int`` (and ``HELP``, a one-line description, or a docstring whose first line
is one). The core's own commands are listed in ``COMMANDS``; other packages add theirs
through the ``foir360.commands`` entry-point group (the ROS package registers ``replay``
there), so the core never imports them by name. Modules keep heavy imports (torch,
onnxruntime, rclpy) inside ``run`` so that ``foir360 --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from importlib.metadata import entry_points
from types import ModuleType

from foir360_core import __version__
from foir360_core.errors import UserError

PLUGIN_GROUP = "foir360.commands"
# name -> (module, one-line help). Order is the order of the pipeline.
COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("foir360_core.cli.synth", "render synthetic 360° panoramas with exact masks"),
    "segment": ("foir360_core.cli.segment", "instance masks for panoramas, merged on the sphere"),
    "label": ("foir360_core.cli.label", "pseudo-label importance ranks from 2D saliency"),
    "annotate": ("foir360_core.cli.annotate", "rank objects by hand on a local web page (360Rank)"),
    "annotate-merge": ("foir360_core.cli.annotate_merge",
                       "merge annotators' rank files; report Kendall's tau agreement"),
    "train": ("foir360_core.cli.train", "train PanoRank on a ranked dataset (label output)"),
    "export": ("foir360_core.cli.export", "export a checkpoint to ONNX (metadata, parity check)"),
    "build-engine": ("foir360_core.cli.build_engine", "build/validate a cached TensorRT engine"),
    "rank": ("foir360_core.cli.rank", "rank the objects of panoramas; write JSON and overlays"),
    "eval": ("foir360_core.cli.evaluate", "score predicted ranks: SOR, SA-SOR, MAE (profiles)"),
}


def show_defaults(parser: argparse.ArgumentParser) -> None:
    """Append each option's default to its help, unless it has none (None, False) or the
    help already states it; one place instead of a note in every command's help."""
    for action in parser._actions:
        text = action.help or ""
        if (not action.option_strings or "default" in text or action.help == argparse.SUPPRESS
                or action.default in (None, False, argparse.SUPPRESS)):
            continue
        action.help = f"{text} (default: %(default)s)".lstrip()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="foir360",
        description="Fine-grained object importance ranking in 360° panoramas (FOIR-360).",
    )
    parser.add_argument("--version", action="version", version=f"foir360 {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        _add_command(sub, name, importlib.import_module(module_name), help_text)
    for name, module in plugin_commands().items():
        if name not in COMMANDS:
            _add_command(sub, name, module, getattr(module, "HELP", None) or _first_line(module))
    return parser


def plugin_commands() -> dict[str, ModuleType]:
    """Subcommand modules registered by installed packages (``foir360.commands``).

    A package whose module cannot be imported here (a missing optional dependency) loses
    its command with a warning; the rest of the CLI keeps working.
    """
    found = {}
    for entry in entry_points(group=PLUGIN_GROUP):
        try:
            found[entry.name] = entry.load()
        except ImportError as err:
            logging.getLogger(__name__).warning(
                "foir360 %s is unavailable: %s (%s)", entry.name, err, entry.value)
    return found


def _first_line(module: ModuleType) -> str:
    return (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""


def _add_command(sub, name: str, module: ModuleType, help_text: str) -> None:
    command = sub.add_parser(name, help=help_text, description=module.__doc__,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    module.add_arguments(command)
    show_defaults(command)
    command.set_defaults(_run=module.run)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args._run(args) or 0)
    except UserError as err:  # a file or option the user can fix: one line, no traceback
        print(f"foir360 {args.command}: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
