"""Every subcommand's ``--help`` works, shows defaults and names commands that exist."""

from __future__ import annotations

import re

import pytest

from foir360_core.cli.main import COMMANDS, main, plugin_commands


@pytest.mark.parametrize("command", list(COMMANDS))
def test_help_of_every_subcommand(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: foir360 {command}")
    # the core's commands, installed plugins, and foir360_ros's replay (a plugin declared in
    # setup.py, missing from a venv installed before it was)
    known = set(COMMANDS) | set(plugin_commands()) | {"replay"}
    for named in re.findall(r"`foir360 ([a-z][a-z-]*)", text):  # commands quoted in prose
        assert named in known, f"{command} --help names `foir360 {named}`, no such command"

def test_help_shows_defaults(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["rank", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--out OUT output folder (default: ranked)" in text
    assert re.search(r"--max-instances N [^-]*\(default: 50\)", text)
    assert "(default: False)" not in text and "(default: None)" not in text
