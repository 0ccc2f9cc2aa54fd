"""``foir360 replay`` over bags written with rosbags (MCAP and sqlite3): offline, with ground
truth, live into a running node; corrupt bags and wrong topics give clear messages."""

from __future__ import annotations

import json

import numpy as np
import pytest

from foir360_core.cli.main import main as foir360
from tests.logs import captured
from tests.ros.helpers import (
    Harness,
    domain_id,
    header,
    ros,
    stamp_ns,
    synthetic_frames,
    tiny_ranker,
    wait_for,
    write_bag,
)

pytestmark = ros

RANKED = "foir360/msg/RankedInstanceArray"
T0 = 1_700_000_000_000_000_000
PERIOD = 100_000_000  # 10 Hz
N = 4


def _frames(types, compressed: bool):
    """N good frames and, for raw topics, one truncated frame in the middle."""
    from foir360_ros.images import array_to_image, rgb_to_compressed

    topic = "/cam/image/compressed" if compressed else "/cam/image"
    out = []
    for i, rgb in enumerate(synthetic_frames(N, height=64)):
        ts = T0 + i * PERIOD
        msg = (rgb_to_compressed(types, header(types, ts), rgb) if compressed
               else array_to_image(types, header(types, ts), rgb, "bgr8"))
        out.append((ts, msg, topic))
    if not compressed:
        bad = types["sensor_msgs/msg/Image"](
            header=header(types, T0 + 15 * PERIOD // 10), height=64, width=128,
            encoding="rgb8", is_bigendian=0, step=384, data=np.zeros(1000, np.uint8))
        out.insert(2, (T0 + 15 * PERIOD // 10, bad, topic))
    return topic, out


@pytest.fixture(scope="module")
def bags(tmp_path_factory):
    from foir360_ros.interfaces import rosbags_types

    types = rosbags_types()
    root = tmp_path_factory.mktemp("bags")
    raw_topic, raw = _frames(types, compressed=False)
    jpeg_topic, jpeg = _frames(types, compressed=True)
    write_bag(root / "mcap", raw + jpeg, "mcap")
    write_bag(root / "sqlite3", raw + jpeg, "sqlite3")
    return {"mcap": (root / "mcap", raw_topic), "sqlite3": (root / "sqlite3", jpeg_topic),
            "root": root}


def _read(path):
    from rosbags.highlevel import AnyReader

    from foir360_ros.interfaces import rosbags_typestore

    with AnyReader([path], default_typestore=rosbags_typestore()) as reader:
        return [(c.topic, ts, reader.deserialize(raw, c.msgtype))
                for c, ts, raw in reader.messages()]


def _ground_truth(path):
    """A ranked dataset of the bag's frames, keyed by their header stamps (stamp_ns)."""
    from foir360_core.io import ImageRecord, write_dataset
    from foir360_core.synth import render_panorama

    entries = []
    for i in range(N):
        instances = render_panorama(i, height=64).instances
        ranks = np.argsort(np.argsort(-instances.masks.sum((1, 2)), kind="stable")) + 1
        record = ImageRecord(i + 1, f"frame_{i}.png", 128, 64, {"stamp_ns": T0 + i * PERIOD})
        entries.append((record, instances.with_ranks(ranks)))
    return write_dataset(path, entries)


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_offline_replay_writes_a_readable_bag_with_the_original_timestamps(
        bags, tiny_model, tmp_path, storage):
    """MCAP: raw frames (one truncated), 32-row masks, overlay and detections. sqlite3: jpeg
    frames with ground truth, hence full-resolution masks and every metrics profile."""
    from foir360_ros.ranked import msg_to_instances

    bag, topic = bags[storage]
    out = tmp_path / "ranked"
    extra = (["--mask-height", "32", "--overlay", "--detections"] if storage == "mcap"
             else ["--gt", str(_ground_truth(tmp_path / "gt.json"))])
    rc = foir360(["replay", str(bag), "--image-topic", topic, "--out", str(out),
                  "--model", str(tiny_model), "--backend", "torch", "--score-threshold", "0",
                  "--storage", storage, *extra])
    assert rc == 0
    by_topic: dict[str, list] = {}
    for topic_name, ts, msg in _read(out):
        by_topic.setdefault(topic_name, []).append((ts, msg))
    ranked = by_topic.pop("/foir360_ranker/ranked_instances")
    expected = [T0 + i * PERIOD for i in range(N)]
    assert [ts for ts, _ in ranked] == expected
    mask_hw = (32, 64) if storage == "mcap" else (64, 128)
    for ts, msg in ranked:
        assert stamp_ns(msg.header.stamp) == ts
        assert (msg.mask_height, msg.mask_width, msg.image_width) == (*mask_hw, 128)
        instances = msg_to_instances(msg)
        assert instances.masks.shape[1:] == mask_hw and len(instances) >= 1
    report = json.loads((tmp_path / "ranked_report.json").read_text())
    assert report["ranked"] == N and report["mode"] == "offline"
    assert {"decode", "pre", "infer", "post", "encode", "write"} <= report["latency_ms"].keys()
    assert report["throughput_fps"] > 0
    assert report["stability"]["frame_pairs"] == N - 1
    assert report["model"]["model_name"] == "tiny-test"
    if storage == "mcap":
        assert report["frames"] == N + 1 and report["rejected"] == {"truncated": 1}
        assert [ts for ts, _ in by_topic["/foir360_ranker/overlay"]] == expected
        detections = by_topic["/foir360_ranker/detections"]
        assert len(detections[0][1].detections) == len(ranked[0][1].instances)
        assert report["metrics"] is None
    else:
        assert report["frames"] == N and report["rejected"] == {} and not by_topic
        metrics = report["metrics"]
        assert metrics["frames_with_gt"] == N and metrics["gt_frames_unmatched"] == 0
        assert set(metrics["profiles"]) == {"foir360", "assr", "irsr", "seqrank"}
        for summary in metrics["profiles"].values():
            assert summary["n_images"] == N


def test_bad_bags_and_topics_fail_with_a_clear_message(bags, tmp_path):
    bag, _ = bags["mcap"]
    garbage = tmp_path / "garbage.mcap"
    garbage.write_bytes(b"\x89MCAP0\r\n" + b"\x00" * 64)
    cases = [
        ([str(garbage), "--image-topic", "/cam/image"], "cannot read bag"),
        ([str(tmp_path / "nowhere"), "--image-topic", "/cam/image"], "does not exist"),
        ([str(bag), "--image-topic", "/cam/depth"],
         "image topics in it: /cam/image [sensor_msgs/msg/Image], /cam/image/compressed"),
        ([str(bag), "--image-topic", "/cam/image", "--out", str(bags["root"])],
         "already exists"),
    ]
    for args, expected in cases:
        with captured("foir360_ros.replay.cli") as messages:
            argv = ["replay", *args] + ([] if "--out" in args else ["--out", str(tmp_path / "o")])
            assert foir360(argv) == 2
        assert any(expected in m for m in messages), (args, messages)


def test_live_replay_through_a_running_node(bags, tiny_model, tmp_path, monkeypatch):
    domain = domain_id(__name__)
    monkeypatch.setenv("ROS_DOMAIN_ID", str(domain))
    harness = Harness(domain)
    try:
        node = harness.add_ranker(tiny_ranker(tiny_model), "", image_topic="/cam/image",
                                  mask_height=32)
        wait_for(lambda: node.count_publishers("/foir360_ranker/ranked_instances") >= 1, 5,
                 "the node")
        bag, topic = bags["mcap"]
        out = tmp_path / "live"
        # half speed (a frame every 200 ms) leaves the node idle between frames: no drops
        assert foir360(["replay", str(bag), "--image-topic", topic, "--out", str(out),
                        "--live", "--rate", "0.5"]) == 0
    finally:
        harness.close()
    report = json.loads((tmp_path / "live_report.json").read_text())
    live = report["live"]
    assert live["published"] == N + 1 and live["unmatched"] == 0
    # the truncated frame is rejected by the node, so at most N answers come back
    assert N - 1 <= live["received"] <= N
    assert live["dropped"] == live["published"] - live["received"]
    assert 0 < live["e2e_latency_p50_ms"] < 2000
    ranked = [(ts, msg) for name, ts, msg in _read(out)
              if name == "/foir360_ranker/ranked_instances"]
    assert len(ranked) == live["received"]
    for ts, msg in ranked:  # recorded at the bag time of the frame each one answers
        assert stamp_ns(msg.header.stamp) == ts
    assert node.stats.rejected["truncated"] == 1


@pytest.mark.parametrize("cut", ["data", "index"])
def test_a_truncated_mcap_is_replayed_up_to_the_damage(bags, tiny_model, tmp_path, cut):
    """Cut inside the data (about half the frames survive) or in the index (all do)."""
    bag, topic = bags["mcap"]
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    original = next(bag.glob("*.mcap"))
    size = original.stat().st_size
    (truncated / original.name).write_bytes(
        original.read_bytes()[: size // 2 if cut == "data" else size - 30])
    (truncated / "metadata.yaml").write_text((bag / "metadata.yaml").read_text())
    recorded = len(_read(bag))
    with captured("foir360_ros.replay.bags") as messages:
        rc = foir360(["replay", str(truncated), "--image-topic", topic, "--out",
                      str(tmp_path / "out"), "--model", str(tiny_model), "--backend",
                      "torch", "--score-threshold", "0"])
    assert rc == 0
    report = json.loads((tmp_path / "out_report.json").read_text())
    assert len(messages) == 1  # said once, though the bag is opened twice
    warning = messages[0]
    recovered = int(warning.split("recovered ")[1].split()[0])
    assert "is truncated" in warning and f"of {recorded} recorded" in warning
    assert f"({recorded - recovered} lost)" in warning
    if cut == "data":
        assert 0 < report["ranked"] < N and 0 < recovered < recorded
    else:
        assert report["ranked"] == N and recovered == recorded
