"""Imports run downwards only: the package's layers, read from its source with ``ast``.

Every import statement of ``foir360_core`` and ``foir360_ros`` (at module level or inside
functions alike) is checked against ``LAYERS``: a part may import its own modules and any
part of a lower layer, never one of its own layer or above. So the model code never
reaches for the runtime, export lives beside the runtime that uses it, training and the
runtime stay independent of each other, and the core never imports ROS.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Lowest first. "foir360_core" is the package root itself (its __version__).
LAYERS: list[set[str]] = [
    {"foir360_core.errors"},  # UserError, the base of every user-facing error type
    {"foir360_core", "foir360_core.deps", "foir360_core.geometry", "foir360_core.settings"},
    {"foir360_core.structures", "foir360_core.onnx"},
    {"foir360_core.io"},
    {"foir360_core.segmentation"},  # instance segmentation, below the labeling that uses it
    {"foir360_core.synth", "foir360_core.metrics", "foir360_core.labeling",
     "foir360_core.models", "foir360_core.tracking"},
    {"foir360_core.annotate", "foir360_core.training", "foir360_core.runtime"},
    {"foir360_core.cli"},
    {"foir360_core.__main__"},
    {"foir360_ros"},
]
ROS_MODULES = ("rclpy", "rcl_interfaces", "launch", "launch_ros", "foir360.msg", "foir360_ros")


def part_of(module: str) -> str:
    """The layered part a dotted module name belongs to (its first two components)."""
    parts = module.split(".")
    if parts[0] == "foir360_ros":
        return "foir360_ros"
    return ".".join(parts[:2]) if len(parts) > 1 else parts[0]


def layer_of(part: str) -> int:
    for index, members in enumerate(LAYERS):
        if part in members:
            return index
    raise AssertionError(f"{part} is in no layer: add it to LAYERS in {__file__}")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in a file, relative ones resolved."""
    found = []
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    text = path.read_text() if source is None else source
    for node in ast.walk(ast.parse(text, filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            name = ".".join([*base, node.module] if node.module else base)
            found.append((node.lineno, name))
    return found


def backward_imports(path: Path, source: str | None = None) -> list[str]:
    here = part_of(module_name(path))
    return [f"{path.relative_to(REPO)}:{line}: {here} imports {target}"
            for line, target in imports(path, source)
            if target.startswith(("foir360_core", "foir360_ros"))
            and part_of(target) != here and layer_of(part_of(target)) >= layer_of(here)]


def sources(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


def test_every_import_points_to_a_lower_layer():
    problems = [problem for package in ("foir360_core", "foir360_ros")
                for path in sources(package) for problem in backward_imports(path)]
    assert not problems, "imports against the layering:\n" + "\n".join(problems)


def test_the_core_never_imports_ros():
    problems = [f"{path.relative_to(REPO)}:{line}: {target}"
                for path in sources("foir360_core") for line, target in imports(path)
                if target.startswith(ROS_MODULES)]
    assert not problems, "\n".join(problems)


def test_the_check_reports_backward_and_same_layer_imports():
    """The checker itself, on made-up sources: what it must flag, and what it must not."""
    model_file = REPO / "foir360_core" / "models" / "probe.py"
    assert backward_imports(model_file, "def f():\n    from ..runtime import Ranker\n") == [
        "foir360_core/models/probe.py:2: foir360_core.models imports foir360_core.runtime"]
    training_file = REPO / "foir360_core" / "training" / "probe.py"
    assert backward_imports(training_file, "import foir360_core.runtime.ranker\n")
    assert not backward_imports(training_file, "from foir360_core.models import heads\n")
    assert not backward_imports(model_file, "from . import heads\nfrom .heads import base\n")
