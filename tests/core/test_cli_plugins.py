"""``foir360`` subcommands from other packages: the ``foir360.commands`` entry-point group.

The core's command table holds only core commands; ``replay`` comes from the ROS package's
entry point (setup.py). Shown here with a throw-away distribution on ``sys.path``.
"""

from __future__ import annotations

import logging

from foir360_core.cli.main import COMMANDS, PLUGIN_GROUP, build_parser


def commands(parser) -> set[str]:
    return set(parser._subparsers._group_actions[0].choices)


class Records(logging.Handler):
    """Collects records on the logger itself (launch's pytest plugin stops propagation)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_plugin_commands_join_and_a_broken_one_only_costs_itself(tmp_path, monkeypatch):
    dist = tmp_path / "foir360_probe-0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: foir360-probe\nVersion: 0\n")
    (dist / "entry_points.txt").write_text(
        f"[{PLUGIN_GROUP}]\nsynth-again = foir360_core.cli.synth\nbroken = no_such_module_x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    records = Records()
    logger = logging.getLogger("foir360_core.cli.main")
    logger.addHandler(records)
    try:
        names = commands(build_parser())
    finally:
        logger.removeHandler(records)
    assert "synth-again" in names and "broken" not in names
    assert any("foir360 broken is unavailable" in m for m in records.messages)
    args = build_parser().parse_args(["synth-again", "--out", str(tmp_path / "o")])
    assert args._run.__module__ == "foir360_core.cli.synth"


def test_replay_is_not_a_core_command():
    assert "replay" not in COMMANDS
    assert all(module.startswith("foir360_core.") for module, _ in COMMANDS.values())
