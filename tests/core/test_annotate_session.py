"""Annotation session and server: saving, resuming, shards, bad input, concurrent tabs, HTTP."""

from __future__ import annotations

import gzip
import http.client
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from foir360_core.annotate import AnnotateServer, AnnotationSession, SessionConfig
from foir360_core.annotate.prepare import WindowOptions
from foir360_core.annotate.server import TOKEN_HEADER
from foir360_core.annotate.session import (
    ConflictError,
    PayloadError,
    UnrankableError,
    shard_records,
)
from foir360_core.io import Dataset, ImageRecord, write_dataset, write_image
from foir360_core.io.shards import parse_shard
from foir360_core.labeling.collector import LocalRanking, collect_local_ranks
from foir360_core.structures import PanoInstances

H, W = 64, 128


def box(y: int, x: int, h: int, w: int) -> np.ndarray:
    mask = np.zeros((H, W), dtype=bool)
    mask[y : y + h, np.arange(x, x + w) % W] = True
    return mask


def scene(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A noisy panorama with n disjoint boxes spread along the horizon."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    masks = np.stack([box(24 + 3 * (i % 3), 4 + i * (W // max(n, 1)), 8, 8) for i in range(n)]) \
        if n else np.zeros((0, H, W), bool)
    return image, masks


def make_dataset(root: Path, scenes: list[tuple[np.ndarray, np.ndarray]]) -> Path:
    """Images under root/images, masks in root/masks.json (ids 1..len(scenes))."""
    entries = []
    for i, (image, masks) in enumerate(scenes, start=1):
        name = f"pano_{i:03d}.png"
        write_image(root / "images" / name, image)
        entries.append((ImageRecord(i, name, W, H), PanoInstances(masks)))
    return write_dataset(root / "masks.json", entries,
                         categories=[{"id": 0, "name": "thing", "supercategory": "object"}])


def session_for(root: Path, **kwargs) -> AnnotationSession:
    config = SessionConfig(masks=root / "masks.json", out=root / "out" / "ranks.json",
                           images=root / "images", annotator="ann", **kwargs)
    return AnnotationSession(config)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    make_dataset(tmp_path, [scene(1, 3), scene(2, 4), scene(3, 2)])
    return tmp_path


def sparse(session: AnnotationSession, image_id: int) -> dict:
    """Open a panorama the way the page does; return the payload skeleton."""
    opened = session.open(image_id)
    assert opened.prepared.mode == "sparse"
    return {"version": session.version(image_id), "mode": "sparse"}


def test_save_writes_a_dataset_with_the_clicked_ranks(root: Path) -> None:
    session = session_for(root, dense_threshold=1e9)
    result = session.save(1, {**sparse(session, 1), "order": [2, 0, 1], "seconds": 12.5})
    assert result["next"] == 2
    out = Dataset.load(root / "out" / "ranks.json")
    assert [r.id for r in out.images] == [1]
    ranks = out.instances(1).ranks
    assert ranks.tolist() == [2, 3, 1]  # object 2 clicked first → rank 1
    assert out.read_image(1).shape == (H, W, 3)  # file_name resolves from the output folder
    meta = out.record(1).extra["annotation"]
    assert meta["annotator"] == "ann" and meta["mode"] == "sparse" and meta["seconds"] == 12.5
    # Masks are the input masks, unchanged.
    np.testing.assert_array_equal(out.instances(1).masks, Dataset.load(root / "masks.json")
                                  .instances(1).masks)


def test_incomplete_or_invalid_rankings_are_refused_and_nothing_is_written(root: Path) -> None:
    session = session_for(root, dense_threshold=1e9)
    base = sparse(session, 1)
    for order, match in [([2, 0], "not ranked: \\[1\\]"), ([2, 0, 0], "not ranked: \\[1\\]"),
                         ([0, 1, 2, 5], "unknown: \\[5\\]"), ("0,1,2", "list of object")]:
        with pytest.raises(PayloadError, match=match):
            session.save(1, {**base, "order": order})
    with pytest.raises(PayloadError, match="sparse mode"):
        session.save(1, {**base, "mode": "dense", "order": [0, 1, 2]})
    assert not (root / "out" / "ranks.json").exists()
    assert session.version(1) == base["version"]


def test_second_tab_with_a_stale_version_gets_a_conflict(root: Path) -> None:
    session = session_for(root, dense_threshold=1e9)
    tab_a = sparse(session, 1)
    tab_b = sparse(session, 1)  # same panorama opened in another tab
    session.save(1, {**tab_a, "order": [0, 1, 2]})
    written = (root / "out" / "ranks.json").read_bytes()
    with pytest.raises(ConflictError, match="another tab"):
        session.save(1, {**tab_b, "order": [2, 1, 0]})
    with pytest.raises(ConflictError):
        session.skip(1, {"version": tab_b["version"]})
    assert (root / "out" / "ranks.json").read_bytes() == written
    # Reopening gives the new version, and a deliberate re-ranking is accepted.
    session.save(1, {**sparse(session, 1), "order": [2, 1, 0]})
    assert Dataset.load(root / "out" / "ranks.json").instances(1).ranks.tolist() == [3, 2, 1]


def test_resume_picks_up_done_and_skipped_panoramas(root: Path) -> None:
    first = session_for(root, dense_threshold=1e9)
    first.save(1, {**sparse(first, 1), "order": [0, 1, 2]})
    first.skip(2, {"version": first.version(2)})
    again = session_for(root, dense_threshold=1e9)
    summary = again.summary()
    assert (summary["done"], summary["skipped"], summary["pending"]) == (1, 1, 1)
    assert summary["next"] == 3
    assert again.version(1) == 1  # a stale tab from the previous run cannot overwrite
    again.save(3, {**sparse(again, 3), "order": [1, 0]})
    out = Dataset.load(root / "out" / "ranks.json")
    assert [r.id for r in out.images] == [1, 3]
    assert out.instances(1).ranks.tolist() == [1, 2, 3]
    redo = session_for(root, dense_threshold=1e9, redo_skipped=True)
    assert redo.summary()["next"] == 2


def test_resume_reranks_a_panorama_whose_masks_changed(root: Path) -> None:
    first = session_for(root, dense_threshold=1e9)
    first.save(1, {**sparse(first, 1), "order": [0, 1, 2]})
    make_dataset(root, [scene(1, 4), scene(2, 4), scene(3, 2)])  # panorama 1 gets new masks
    assert session_for(root, dense_threshold=1e9).summary()["next"] == 1


def test_unrankable_panoramas_are_reported_and_the_session_goes_on(tmp_path: Path) -> None:
    image, masks = scene(5, 3)
    make_dataset(tmp_path, [scene(4, 3), (image, masks), scene(6, 0)])
    write_image(tmp_path / "images" / "pano_001.png", image[::2, ::2])  # wrong size on disk
    (tmp_path / "images" / "pano_002.png").write_bytes(b"not a png")
    session = session_for(tmp_path)
    with pytest.raises(UnrankableError, match="masks are 128x64 but the image is 64x32"):
        session.open(1)
    with pytest.raises(UnrankableError, match="cannot decode"):
        session.open(2)
    with pytest.raises(UnrankableError, match="no objects") as empty:
        session.open(3)
    assert empty.value.status == "skipped"
    summary = session.summary()
    assert (summary["rejected"], summary["skipped"], summary["next"]) == (2, 1, None)
    # The empty panorama's skip is persisted; the rejections are retried next run.
    again = session_for(tmp_path)
    assert again.summary()["skipped"] == 1 and again.summary()["next"] == 1


def test_shards_are_disjoint_and_cover_everything() -> None:
    records = [ImageRecord(i, f"{i}.png", W, H) for i in (5, 1, 4, 2, 3, 7, 6)]
    shards = [shard_records(records, i, 3) for i in (0, 1, 2)]
    ids = [r.id for shard in shards for r in shard]
    assert sorted(ids) == list(range(1, 8)) and len(ids) == 7
    assert [r.id for r in shards[0]] == [1, 4, 7]
    assert parse_shard("2/3") == (2, 3) and parse_shard(" 0 / 1 ") == (0, 1)
    for bad in ("3/3", "4/3", "x", "1-3", "-1/3"):
        with pytest.raises(ValueError, match="shard"):
            parse_shard(bad)


def test_two_annotators_on_shards_merge_into_one_file(root: Path) -> None:
    from foir360_core.annotate import merge_annotations

    files = []
    for index in (0, 1):
        config = SessionConfig(masks=root / "masks.json", out=root / f"shard{index}.json",
                               images=root / "images", annotator=f"a{index}",
                               shard=(index, 2), dense_threshold=1e9)
        session = AnnotationSession(config)
        for record in session.items:
            n = len(session.open(record.id).instances)
            session.save(record.id, {**sparse(session, record.id), "order": list(range(n))})
        files.append(config.out)
    assert [len(Dataset.load(f).images) for f in files] == [2, 1]
    report = merge_annotations(files, root / "merged.json")
    assert (report.images, report.shared, report.mean_tau) == (3, 0, None)
    merged = Dataset.load(root / "merged.json")
    assert [r.id for r in merged.images] == [1, 2, 3]
    assert all(merged.has_ranks(r.id) for r in merged.images)


def dense_session(root: Path) -> AnnotationSession:
    windows = WindowOptions(count=6, width=64, height=48)
    return session_for(root, dense_threshold=0.0, windows=windows)


def test_dense_windows_merge_with_the_collector_and_record_adjustments(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    image = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    masks = np.stack([box(28, 2 + 10 * i, 6, 6) for i in range(12)])
    make_dataset(tmp_path, [(image, masks)])
    session = dense_session(tmp_path)
    prepared = session.open(1).prepared
    assert prepared.mode == "dense" and prepared.components == 1
    truth = list(rng.permutation(12))  # the annotator's mind: most → least important
    windows = [sorted(s.objects, key=truth.index) for s in prepared.surfaces]
    merged = session.merge(1, windows)
    prior = [g.solid_angle for g in session.open(1).instances.geometry]
    expected = collect_local_ranks([LocalRanking(objects=w) for w in windows], 12, prior=prior)
    assert merged == np.argsort(expected).tolist()
    # The merged order keeps every window's order (windows of 3-4 objects cannot tell the
    # whole truth, which is why the page asks the annotator to confirm it).
    for window in windows:
        assert [k for k in merged if k in window] == window
    with pytest.raises(PayloadError, match="window 1"):
        session.merge(1, [windows[0][:-1], *windows[1:]])
    adjusted = [merged[1], merged[0], *merged[2:]]
    session.save(1, {"version": 0, "mode": "dense", "windows": windows, "order": adjusted})
    out = Dataset.load(tmp_path / "out" / "ranks.json")
    meta = out.record(1).extra["annotation"]
    assert meta["merged_order"] == merged and meta["adjusted"] is True
    assert [w["order"] for w in meta["windows"]] == windows
    ranks = out.instances(1).ranks
    assert [int(np.flatnonzero(ranks == r + 1)[0]) for r in range(12)] == adjusted


# ----------------------------------------------------------------------------- HTTP


@pytest.fixture
def server(root: Path):
    srv = AnnotateServer(session_for(root, dense_threshold=1e9))
    srv.start_background()
    yield srv
    srv.shutdown()
    srv.server_close()


def request(srv: AnnotateServer, method: str, path: str, body: dict | None = None,
            headers: dict | None = None) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.server_address[1], timeout=10)
    data = None if body is None else json.dumps(body).encode()
    sent = {"Content-Type": "application/json", TOKEN_HEADER: srv.token} if body is not None \
        else {}
    conn.request(method, path, body=data, headers={**sent, **(headers or {})})
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), raw


def test_server_serves_the_page_and_a_panorama(server: AnnotateServer) -> None:
    status, headers, page = request(server, "GET", "/")
    assert status == 200 and b"app.js" in page and headers["Content-Type"].startswith("text/html")
    assert request(server, "GET", "/static/app.js")[0] == 200
    assert request(server, "GET", "/static/../session.py")[0] == 404
    status, _, raw = request(server, "GET", "/api/session")
    summary = json.loads(raw)
    assert status == 200 and summary["total"] == 3 and summary["next"] == 1
    status, _, raw = request(server, "GET", "/api/pano/1")
    pano = json.loads(raw)
    assert status == 200 and pano["mode"] == "sparse" and pano["n_objects"] == 3
    surface = pano["surfaces"][0]
    status, headers, jpeg = request(server, "GET", surface["image"])
    picture = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert status == 200 and picture.shape == (H, W, 3)
    status, headers, packed = request(server, "GET", surface["index_map"])
    assert headers["Content-Encoding"] == "gzip"
    index = np.frombuffer(gzip.decompress(packed), "<u2").reshape(H, W)
    masks = Dataset.load(server.session.config.masks).instances(1).masks
    rolled = np.roll(masks, pano["roll_columns"], axis=2)
    for k in range(3):
        np.testing.assert_array_equal(index == k + 1, rolled[k])
    for k, (x, y) in pano["surfaces"][0]["labels"].items():
        assert index[y, x] == int(k) + 1


def test_server_saves_and_answers_conflicts_and_errors(server: AnnotateServer) -> None:
    pano = json.loads(request(server, "GET", "/api/pano/1")[2])
    body = {"version": pano["version"], "mode": "sparse", "order": [1, 2, 0]}
    status, _, raw = request(server, "POST", "/api/pano/1/save", body)
    assert status == 200 and json.loads(raw)["next"] == 2
    status, _, raw = request(server, "POST", "/api/pano/1/save", body)  # the second tab
    assert status == 409 and "another tab" in json.loads(raw)["error"]
    status, _, raw = request(server, "POST", "/api/pano/2/save",
                             {"version": 0, "mode": "sparse", "order": [0]})
    assert status == 400 and "every object" in json.loads(raw)["error"]
    assert request(server, "GET", "/api/pano/99")[0] == 404
    assert request(server, "GET", "/api/pano/1/surface/5/image")[0] == 404
    assert request(server, "POST", "/api/pano/2/merge", {"windows": []})[0] == 400
    status, _, _ = request(server, "POST", "/api/pano/2/save", None,
                           headers={"Content-Type": "text/plain", TOKEN_HEADER: server.token})
    assert status == 415
    status, _, _ = request(server, "GET", "/api/session", headers={"Host": "evil.example"})
    assert status == 403
    assert Dataset.load(server.session.config.out).instances(1).ranks.tolist() == [3, 1, 2]


def test_server_reports_unrankable_panoramas_as_422(tmp_path: Path) -> None:
    make_dataset(tmp_path, [scene(1, 0), scene(2, 2)])
    srv = AnnotateServer(session_for(tmp_path, dense_threshold=1e9))
    srv.start_background()
    try:
        status, _, raw = request(srv, "GET", "/api/pano/1")
        assert status == 422 and json.loads(raw)["status"] == "skipped"
        assert json.loads(request(srv, "GET", "/api/session")[2])["next"] == 2
    finally:
        srv.shutdown()
        srv.server_close()


# ----------------------------------------------------------------------------- CLI


def test_cli_serves_until_interrupted_and_rejects_bad_arguments(root: Path) -> None:
    import signal
    import subprocess
    import sys

    from foir360_core.cli.main import main

    assert main(["annotate", str(root / "nowhere"), "--masks", str(root / "masks.json"),
                 "--out", str(root / "r.json")]) == 2
    with pytest.raises(SystemExit) as bad_shard:  # argparse: usage + message, exit 2
        main(["annotate", str(root / "images"), "--masks", str(root / "masks.json"),
              "--out", str(root / "r.json"), "--shard", "3/2"])
    assert bad_shard.value.code == 2
    # Started as from a background shell, which ignores SIGINT (the child inherits SIG_IGN):
    # Ctrl+C must still stop it.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "foir360_core", "annotate", str(root / "images"),
             "--masks", str(root / "masks.json"), "--out", str(root / "r.json"),
             "--annotator", "cli"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            cwd=Path(__file__).resolve().parents[2])
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
        url = lines[1].split()[1]
        assert url.startswith("http://127.0.0.1:")
        conn = http.client.HTTPConnection(url.removeprefix("http://").rstrip("/"), timeout=10)
        conn.request("GET", "/api/session")
        summary = json.loads(conn.getresponse().read())
        assert summary["annotator"] == "cli" and summary["total"] == 3
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()  # fail, never hang the test run
            out = proc.communicate()[0] + "\n(still running 20 s after SIGINT)"
    assert proc.returncode == 0 and "stopped: 0 of 3 panoramas ranked" in out, out
