"""The README's main command: the node as its own process over real ROS 2, a subscriber that
receives ranks, directions and overlays for synthetic panoramas."""

from __future__ import annotations

import json

from foir360_core.io import read_image
from tests.ros.helpers import domain_id, ros

pytestmark = ros


def test_demo_runs_the_node_and_saves_what_a_subscriber_receives(tiny_model, tmp_path, capsys):
    from foir360_ros import demo

    out = tmp_path / "demo"
    rc = demo.main(["--out", str(out), "--model", str(tiny_model), "--backend", "torch",
                    "--frames", "2", "--height", "64", "--domain-id",
                    str(domain_id(__name__)), "--timeout", "60"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "frame 1: " in printed and "azimuth" in printed
    for index in range(2):
        ranked = json.loads((out / f"frame_{index:02d}_ranked.json").read_text())
        assert ranked["model"] == ["tiny-test", "0.0"]
        assert [row["rank"] for row in ranked["instances"]] == list(
            range(1, len(ranked["instances"]) + 1))
        assert ranked["instances"][0]["mask_rle"]["size"] == [64, 128]
        overlay = read_image(out / f"frame_{index:02d}_overlay.png")
        assert overlay.shape == (64, 128, 3)
        assert not (overlay == read_image(out / f"frame_{index:02d}_input.png")).all()
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["frames"]) == 2
    assert summary["node_diagnostics"]["backend"] == "torch"
