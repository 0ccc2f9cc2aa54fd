"""The annotation server at the socket level: what another local page or a broken client can do.

Each request is written byte by byte on a raw socket, the way a hostile page's form post or a
stalled client reaches the server, and the session's state and output file are checked after.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from foir360_core.annotate import AnnotateServer
from foir360_core.annotate.server import TOKEN_HEADER, AnnotateHandler
from foir360_core.io import Dataset
from tests.core.test_annotate_session import make_dataset, scene, session_for


@pytest.fixture
def server(tmp_path: Path):
    make_dataset(tmp_path, [scene(1, 3), scene(2, 4)])
    srv = AnnotateServer(session_for(tmp_path, dense_threshold=1e9))
    srv.start_background()
    yield srv
    srv.shutdown()
    srv.server_close()


def exchange(srv: AnnotateServer, raw: bytes, timeout: float = 10.0) -> bytes:
    """Send raw bytes, then read until the server closes the connection (or times out)."""
    with socket.create_connection(("127.0.0.1", srv.server_address[1]), timeout=timeout) as sock:
        sock.sendall(raw)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def post(srv: AnnotateServer, path: str, body: bytes, *, token: str | None = "server",
         content_type: str = "application/json", extra: str = "",
         length: str | None = None, keep_alive: bool = False) -> bytes:
    host = f"127.0.0.1:{srv.server_address[1]}"
    token_line = "" if token is None else \
        f"{TOKEN_HEADER}: {srv.token if token == 'server' else token}\r\n"
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body) if length is None else length}\r\n{token_line}{extra}"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n")
    return head.encode() + body


def statuses(received: bytes) -> list[int]:
    return [int(line.split()[1]) for line in received.split(b"\r\n")
            if line.startswith(b"HTTP/1.1 ")]


def smuggled_skip(srv: AnnotateServer) -> bytes:
    """A complete, valid `skip` request (token included) to hide in another's body."""
    host = f"127.0.0.1:{srv.server_address[1]}"
    inner = b'{"version":0}'
    return (f"POST /api/pano/1/skip HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: application/json\r\n{TOKEN_HEADER}: {srv.token}\r\n"
            f"Content-Length: {len(inner)}\r\n\r\n").encode() + inner


def error_of(received: bytes) -> str:
    return json.loads(received.split(b"\r\n\r\n", 1)[1])["error"]


def test_a_refused_body_is_never_read_as_a_second_request(server: AnnotateServer) -> None:
    """The form-post smuggling: a text/plain body holding a whole `skip` request."""
    smuggled = smuggled_skip(server)
    refusals = [post(server, "/api/pano/1/save", smuggled, keep_alive=True,
                     content_type="text/plain"),
                post(server, "/api/pano/1/save", smuggled, keep_alive=True, token=None),
                post(server, "/api/nowhere", smuggled, keep_alive=True),
                post(server, "/api/pano/1/save", b"[" + smuggled, keep_alive=True)]
    for refused in refusals:
        assert len(statuses(exchange(server, refused))) == 1
    assert server.session.summary()["skipped"] == 0
    assert not server.session.config.out.exists()


def test_a_get_with_a_body_is_refused_and_closed(server: AnnotateServer) -> None:
    host = f"127.0.0.1:{server.server_address[1]}"
    smuggled = smuggled_skip(server)
    get = (f"GET /api/session HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(smuggled)}"
           "\r\n\r\n").encode() + smuggled
    assert statuses(exchange(server, get)) == [400]
    assert server.session.summary()["skipped"] == 0


def test_writes_need_this_runs_token_and_this_pages_origin(server: AnnotateServer) -> None:
    skip = b'{"version":0}'
    assert statuses(exchange(server, post(server, "/api/pano/1/skip", skip, token=None))) == [403]
    refused = exchange(server, post(server, "/api/pano/1/skip", skip, token="guessed"))
    assert statuses(refused) == [403] and TOKEN_HEADER in error_of(refused)
    other = exchange(server, post(server, "/api/pano/1/skip", skip,
                                  extra="Origin: http://127.0.0.1:1\r\n"))
    assert statuses(other) == [403] and "http://127.0.0.1:1" in error_of(other)
    referred = exchange(server, post(server, "/api/pano/1/skip", skip,
                                     extra="Referer: http://evil.example/page\r\n"))
    assert statuses(referred) == [403]
    assert server.session.summary()["skipped"] == 0
    own = f"Origin: http://127.0.0.1:{server.server_address[1]}\r\n"
    assert statuses(exchange(server, post(server, "/api/pano/1/skip", skip, extra=own)))[0] == 200
    assert server.session.summary()["skipped"] == 1


def test_the_served_page_embeds_the_token(server: AnnotateServer) -> None:
    host = f"127.0.0.1:{server.server_address[1]}"
    page = exchange(server, f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                    .encode())
    assert f'content="{server.token}"'.encode() in page
    second = AnnotateServer(server.session)
    second.server_close()
    assert second.token != server.token  # one per run


@pytest.mark.parametrize("length", ["abc", "-5", "1e3", "99999999999999999999999"])
def test_a_bad_content_length_is_a_400(server: AnnotateServer, length: str) -> None:
    received = exchange(server, post(server, "/api/pano/1/skip", b'{"version":0}',
                                     length=length))
    assert statuses(received) == [400] and "Content-Length" in error_of(received)


@pytest.mark.parametrize("body, problem", [
    (b'{"version":0,"mode":"sparse","order":[1,2,0],"seconds":1e999}', "out of range"),
    (b'{"version":0,"mode":"sparse","order":[1,2,0],"seconds":NaN}', "not a JSON number"),
    (b'{"version":' + b"7" * 4300 + b"}", "digits"),
    (b'{"order":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested deeper"),
    (b"\xff\xfe", "UTF-8"),
])
def test_malformed_bodies_are_400s_and_write_nothing(server: AnnotateServer, body: bytes,
                                                     problem: str) -> None:
    received = exchange(server, post(server, "/api/pano/1/save", body))
    assert statuses(received) == [400] and problem in error_of(received)
    assert not server.session.config.out.exists()
    good = b'{"version":0,"mode":"sparse","order":[1,2,0],"seconds":12.5}'
    assert statuses(exchange(server, post(server, "/api/pano/1/save", good)))[0] == 200
    saved = json.loads(server.session.config.out.read_text())  # strict JSON: no Infinity
    assert Dataset.load(server.session.config.out).record(1).extra["annotation"]["seconds"] \
        == 12.5 and saved["images"]


def test_a_huge_panorama_id_is_a_404_not_a_dead_handler(server: AnnotateServer) -> None:
    host = f"127.0.0.1:{server.server_address[1]}"
    huge = "9" * 5000  # int() refuses more than 4,300 digits
    got = exchange(server, f"GET /api/pano/{huge} HTTP/1.1\r\nHost: {host}\r\n"
                   "Connection: close\r\n\r\n".encode())
    assert statuses(got) == [404]
    assert statuses(exchange(server, post(server, f"/api/pano/{huge}/skip", b"{}"))) == [404]


def test_a_stalled_client_is_dropped(server: AnnotateServer, monkeypatch) -> None:
    monkeypatch.setattr(AnnotateHandler, "timeout", 0.5)
    host = f"127.0.0.1:{server.server_address[1]}"
    half = f"POST /api/pano/1/skip HTTP/1.1\r\nHost: {host}\r\nContent-Length: 50\r\n\r\n{{"
    assert exchange(server, half.encode(), timeout=5.0) == b""  # closed, not waiting forever
