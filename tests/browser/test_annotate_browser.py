"""The annotation page in a real headless chromium: click objects in order, save, check the file.

Click positions are computed here from the masks file (and the view geometry the server
reports for dense windows), not taken from the page, so a page that highlighted or
hit-tested the wrong object would rank the wrong one and fail the file check.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from foir360_core.annotate import AnnotateServer, AnnotationSession, SessionConfig
from foir360_core.geometry import ViewGeometry, erp_to_view
from foir360_core.io import Dataset
from foir360_core.labeling.collector import LocalRanking, collect_local_ranks
from foir360_core.synth import generate_dataset

pytestmark = pytest.mark.browser

HOVER_ALPHA, FREE_ALPHA = 150, 40  # COLORS in app.js


@pytest.fixture
def serve(tmp_path: Path):
    """Start a server on synthetic panoramas; returns (server, masks dataset)."""
    servers = []

    def start(count: int, seed: int, dense_threshold: float, n_objects=None):
        masks_path = generate_dataset(tmp_path / "synth", count, seed=seed, height=128,
                                      n_objects=n_objects)
        config = SessionConfig(masks=masks_path, out=tmp_path / "ranks.json",
                               images=tmp_path / "synth", annotator="tester",
                               dense_threshold=dense_threshold)
        server = AnnotateServer(AnnotationSession(config))
        server.start_background()
        servers.append(server)
        return server, Dataset.load(masks_path)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def pano_info(server: AnnotateServer, image_id: int) -> dict:
    with urllib.request.urlopen(f"{server.url}api/pano/{image_id}", timeout=10) as response:
        return json.loads(response.read())


def click_points(masks: np.ndarray, members: list[int]) -> dict[int, tuple[int, int]]:
    """A pixel deep inside each member where no smaller member lies on top of it."""
    area = {k: int(masks[k].sum()) for k in members}
    points = {}
    for k in members:
        visible = masks[k].copy()
        for j in members:
            if j != k and (area[j], -j) < (area[k], -k):
                visible &= ~masks[j]
        if visible.any():
            dist = cv2.distanceTransform(np.pad(visible, 1).astype(np.uint8), cv2.DIST_L2, 3)
            y, x = np.unravel_index(int(np.argmax(dist[1:-1, 1:-1])), visible.shape)
            points[k] = (int(x), int(y))
    return points


def background_point(masks: np.ndarray) -> tuple[int, int]:
    empty = ~masks.any(axis=0)
    dist = cv2.distanceTransform(np.pad(empty, 1).astype(np.uint8), cv2.DIST_L2, 3)
    y, x = np.unravel_index(int(np.argmax(dist[1:-1, 1:-1])), empty.shape)
    return int(x), int(y)


def to_page(page, point: tuple[int, int], size: tuple[int, int]) -> tuple[float, float]:
    """Surface pixel → page coordinates of the (CSS-scaled) overlay canvas."""
    box = page.locator("#overlay").bounding_box()
    width, height = size
    return (box["x"] + (point[0] + 0.5) * box["width"] / width,
            box["y"] + (point[1] + 0.5) * box["height"] / height)


def overlay_alpha(page, point: tuple[int, int]) -> int:
    return page.evaluate(
        "([x, y]) => document.getElementById('overlay').getContext('2d')"
        ".getImageData(x, y, 1, 1).data[3]", list(point))


def rank_objects(page, order: list[int], points: dict, size: tuple[int, int]) -> None:
    """Click each object (or, if it has no visible pixel, its entry in the list)."""
    for k in order:
        if k in points:
            page.mouse.click(*to_page(page, points[k], size))
        else:
            page.locator(f"#unranked li[data-object='{k}']").click()


def shown_order(page, selector: str) -> list[int]:
    return page.locator(f"{selector} li").evaluate_all("els => els.map(e => +e.dataset.object)")


def wait_pano(page, image_id: int) -> None:
    page.wait_for_selector(f"body[data-state=ranking][data-pano='{image_id}']")


def test_sparse_ranking_skip_and_a_second_tab(serve, context) -> None:
    server, masks_ds = serve(count=3, seed=11, dense_threshold=1e9, n_objects=(4, 6))
    page = context.new_page()
    page.goto(server.url)
    wait_pano(page, 1)
    assert page.locator("#progress").inner_text().startswith("Panorama 1 of 3")
    assert page.locator("#mode").inner_text().startswith("sparse")

    info = pano_info(server, 1)
    masks = np.roll(masks_ds.instances(1).masks, info["roll_columns"], axis=2)
    n = masks.shape[0]
    size = (info["surfaces"][0]["width"], info["surfaces"][0]["height"])
    if not masks.any(axis=(0, 1)).all():  # a free column exists: nothing may straddle the seam
        assert not any(m[:, 0].any() and m[:, -1].any() for m in masks)
    points = click_points(masks, list(range(n)))

    # Hovering lights up exactly that object's mask.
    first, second = points[0], points[1]
    page.mouse.move(*to_page(page, first, size))
    assert overlay_alpha(page, first) == HOVER_ALPHA
    assert overlay_alpha(page, second) == FREE_ALPHA
    assert "click to rank #1" in page.locator("#hint").inner_text()

    # A click outside every object changes nothing and says why.
    page.mouse.click(*to_page(page, background_point(masks), size))
    assert "No object there" in page.locator("#message").inner_text()
    assert shown_order(page, "#order") == []

    # Undo and reset.
    rank_objects(page, [1, 0], points, size)
    assert shown_order(page, "#order") == [1, 0]
    page.locator("#undo").click()
    assert shown_order(page, "#order") == [1]
    page.locator("#reset").click()
    assert shown_order(page, "#order") == []

    intended = [int(k) for k in np.random.default_rng(5).permutation(n)]
    rank_objects(page, intended[:-1], points, size)
    assert page.locator("#save").is_disabled()  # every object must be ranked first
    rank_objects(page, intended[-1:], points, size)
    assert shown_order(page, "#order") == intended
    page.locator("#save").click()
    wait_pano(page, 2)
    assert page.locator("#progress").inner_text().startswith("Panorama 2 of 3 · done 1")
    saved = Dataset.load(server.session.config.out).instances(1)
    assert [int(np.flatnonzero(saved.ranks == r + 1)[0]) for r in range(n)] == intended

    page.locator("#skip").click()
    wait_pano(page, 3)

    # Two tabs on panorama 3: the first save wins, the second is refused with 409.
    other = context.new_page()
    other.goto(server.url)
    wait_pano(other, 3)
    info = pano_info(server, 3)
    masks = np.roll(masks_ds.instances(3).masks, info["roll_columns"], axis=2)
    size = (info["surfaces"][0]["width"], info["surfaces"][0]["height"])
    points = click_points(masks, list(range(masks.shape[0])))
    order_a = list(range(masks.shape[0]))
    rank_objects(page, order_a, points, size)
    rank_objects(other, order_a[::-1], points, size)
    page.locator("#save").click()
    page.wait_for_selector("body[data-state=finished]")
    other.locator("#save").click()
    other.wait_for_selector("body[data-state=conflict]")
    assert "another tab" in other.locator("#message").inner_text()

    out = Dataset.load(server.session.config.out)
    assert [r.id for r in out.images] == [1, 3]
    assert out.instances(3).ranks.tolist() == list(range(1, masks.shape[0] + 1))
    assert list(out.info["annotate"]["skipped"]) == ["2"]


def test_dense_windows_merge_into_the_confirmed_global_order(serve, context) -> None:
    server, masks_ds = serve(count=1, seed=4, dense_threshold=0.0, n_objects=10)
    page = context.new_page()
    page.goto(server.url)
    wait_pano(page, 1)
    assert page.locator("#mode").inner_text().startswith("dense")
    info = pano_info(server, 1)
    instances = masks_ds.instances(1)
    n = len(instances)
    truth = [int(k) for k in np.random.default_rng(8).permutation(n)]
    clicked = []
    for w, surface in enumerate(info["surfaces"]):
        assert page.locator("#window-pos").inner_text().startswith(
            f"Window {w + 1} of {len(info['surfaces'])}")
        view = surface["view"]
        geom = ViewGeometry(np.radians(view["lon_deg"]), np.radians(view["lat_deg"]),
                            view["fov_deg"], surface["width"], surface["height"])
        members = surface["objects"]
        view_masks = erp_to_view(instances.masks, geom, masks=True)
        points = click_points(view_masks, members)
        local = sorted(members, key=truth.index)
        rank_objects(page, local, points, (surface["width"], surface["height"]))
        assert shown_order(page, "#order") == local
        clicked.append(local)
        if w < len(info["surfaces"]) - 1:
            assert page.locator("#merge").is_disabled()
            page.locator("#next-window").click()
    page.locator("#merge").click()
    page.wait_for_selector("body[data-state=merged]")
    merged = shown_order(page, "#merged-order")
    prior = [g.solid_angle for g in instances.geometry]
    expected = np.argsort(collect_local_ranks([LocalRanking(objects=c) for c in clicked], n,
                                              prior=prior)).tolist()
    assert merged == expected
    for local in clicked:  # the merged order keeps every window's order
        assert [k for k in merged if k in local] == local

    # The annotator corrects the merged order: move the last object up one place.
    page.locator("#merged-order li").nth(n - 1).locator("button", has_text="▲").click()
    final = [*merged[:-2], merged[-1], merged[-2]]
    assert shown_order(page, "#merged-order") == final
    page.locator("#confirm").click()
    page.wait_for_selector("body[data-state=finished]")

    out = Dataset.load(server.session.config.out)
    ranks = out.instances(1).ranks
    assert [int(np.flatnonzero(ranks == r + 1)[0]) for r in range(n)] == final
    meta = out.record(1).extra["annotation"]
    assert meta["mode"] == "dense" and meta["merged_order"] == merged and meta["adjusted"]
    assert [w["order"] for w in meta["windows"]] == clicked


HOSTILE_PAGE = """<!doctype html><html><body>
<form id="f" method="POST" enctype="text/plain" action="TARGETapi/pano/1/save">
<textarea id="t"></textarea></form>
<script>
// A whole `skip` request hidden in a text/plain form body: a server that leaves a refused
// body unread on a kept-alive connection parses it as a second request.
const t = document.getElementById("t");
t.name = SMUGGLED_NAME;
t.value = 'b\\r\\n\\r\\n{"version":0}';
const skip = (init) =>
  fetch("TARGETapi/pano/2/skip", { method: "POST", body: '{"version":0}', ...init });
window.attack = () => Promise.allSettled([
  skip({ mode: "no-cors" }),
  skip({ headers: { "Content-Type": "application/json" } }),
  skip({ headers: { "Content-Type": "application/json", "X-Foir360-Token": "guess" } }),
  fetch("TARGET").then((r) => r.text()),  // reading the page would reveal the token
]).then((results) => results.map((r) => r.status));
</script></body></html>"""


@pytest.fixture
def hostile_origin():
    """A second local web server (another origin: another port) serving an attacker's page."""
    pages: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd, pages
    httpd.shutdown()
    httpd.server_close()


def test_a_page_from_another_origin_cannot_write_annotations(serve, context,
                                                               hostile_origin) -> None:
    server, _ = serve(count=2, seed=11, dense_threshold=1e9, n_objects=(3, 4))
    httpd, pages = hostile_origin
    host = f"127.0.0.1:{server.server_address[1]}"
    smuggled = ("POST /api/pano/1/skip HTTP/1.1\r\nHost: " + host +
                "\r\nContent-Type: application/json\r\nContent-Length: 13\r\nX-Pad: a")
    pages["/evil.html"] = (HOSTILE_PAGE.replace("TARGET", server.url)
                           .replace("SMUGGLED_NAME", json.dumps(smuggled)).encode())
    page = context.new_page()
    page.goto(f"http://127.0.0.1:{httpd.server_address[1]}/evil.html")
    # Fetches: a no-cors post is sent (and refused); JSON or a token header needs a CORS
    # preflight the server never grants, and the page (with its token) cannot be read.
    assert page.evaluate("attack()") == ["fulfilled", "rejected", "rejected", "rejected"]
    page.evaluate("document.getElementById('f').submit()")
    page.wait_for_url(f"{server.url}api/pano/1/save")  # the form was posted
    time.sleep(0.5)  # time for a server that kept the connection to read the smuggled request
    assert server.session.summary()["skipped"] == 0 and server.session.summary()["done"] == 0
    assert not server.session.config.out.exists()
    # The annotator's own page still writes (it quotes the token).
    own = context.new_page()
    own.goto(server.url)
    wait_pano(own, 1)
    own.locator("#skip").click()
    wait_pano(own, 2)
    assert server.session.summary()["skipped"] == 1
