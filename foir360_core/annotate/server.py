"""The annotation page's local web server: standard library only, bound to 127.0.0.1.

JSON API (all under ``/api``):

* ``GET  /api/session``                      progress, every panorama's status, the next one
* ``GET  /api/pano/<id>``                    what to show: mode, density, objects, surfaces,
                                             and the ``version`` a later save must quote
* ``GET  /api/pano/<id>/surface/<k>/image``  JPEG of surface k (the rolled ERP or window k)
* ``GET  /api/pano/<id>/surface/<k>/index``  its object-index map, little-endian uint16,
                                             gzip content-encoded (0 = none, j + 1 = object j)
* ``POST /api/pano/<id>/merge``  ``{"windows": [[...], ...]}`` → ``{"order": [...]}``
* ``POST /api/pano/<id>/save``   ``{"version", "mode", "order", "windows"?, "seconds"?}``
* ``POST /api/pano/<id>/skip``   ``{"version"}``

Errors come back as ``{"error": message}`` with 400 (bad request), 403 (not this page),
404 (unknown), 409 (stale version: the panorama was saved from another tab) or 422 (the
panorama cannot be annotated; ``status`` says skipped or rejected).

Other web pages open in the same browser must not drive it (Jupyter's model): the Host
header must name this server (no DNS rebinding); a POST's ``Origin``/``Referer``, when the
browser sends one, must be this server's own origin; every POST carries the per-run token
that the served page embeds (``X-Foir360-Token``), which a page elsewhere cannot read; the
body is read in full before any refusal and every refusal closes the connection, so a body
is never parsed as a second request. Bodies are JSON objects of bounded size, depth and
numbers, and a stalled client is dropped after ``REQUEST_TIMEOUT`` seconds.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import re
import secrets
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

from foir360_core.annotate.session import (
    AnnotationSession,
    ConflictError,
    PayloadError,
    UnrankableError,
)

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20
MAX_DEPTH = 16  # the deepest legitimate body, {"windows": [[...]]}, is 3
MAX_DIGITS = 18  # object indices, versions and ids fit in an int64
REQUEST_TIMEOUT = 30.0  # seconds a client may stall mid-request
TOKEN_HEADER = "X-Foir360-Token"
TOKEN_PLACEHOLDER = b"{{FOIR360_TOKEN}}"
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8"}
_PANO = re.compile(
    r"^/api/pano/(\d{1,18})(?:/(merge|save|skip)|/surface/(\d{1,9})/(image|index))?$")
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class RequestError(ValueError):
    """A request refused before it reaches the session: HTTP status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"number with {len(text)} digits in the "
                           f"body; at most {MAX_DIGITS} are accepted")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise RequestError(HTTPStatus.BAD_REQUEST, f"number {text[:32]} in the body is out "
                           "of range")
    return value


def _no_constant(name: str) -> float:
    raise RequestError(HTTPStatus.BAD_REQUEST, f"{name} is not a JSON number")


def _nesting_depth(text: str) -> int:
    """Deepest bracket nesting outside strings (checked before parsing, which recurses)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_JSON_STRING.sub('""', text)):
        depth += 1 if match.group() in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def parse_body(raw: bytes) -> dict:
    """A POST body as a JSON object with bounded depth and finite, bounded numbers.

    ``json.loads`` alone accepts ``1e999`` (infinity, later written as ``Infinity``),
    4,300-digit integers (``ValueError`` outside ``JSONDecodeError``) and nesting deep
    enough to raise ``RecursionError``; each is a 400 here.
    """
    try:
        text = raw.decode("utf-8") or "{}"
    except UnicodeDecodeError as err:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"body is not UTF-8: {err}") from None
    if _nesting_depth(text) > MAX_DEPTH:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"body nested deeper than {MAX_DEPTH}")
    try:
        body = json.loads(text, parse_int=_bounded_int, parse_float=_finite_float,
                          parse_constant=_no_constant)
    except json.JSONDecodeError as err:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"body is not valid JSON: {err}") from None
    if not isinstance(body, dict):
        raise RequestError(HTTPStatus.BAD_REQUEST, "body must be a JSON object")
    return body


def pano_json(session: AnnotationSession, image_id: int) -> dict:
    """Everything the page needs to show and rank one panorama (pictures come separately)."""
    opened = session.open(image_id)
    prepared = opened.prepared
    record = session.dataset.record(image_id)
    areas = opened.instances.masks.sum(axis=(1, 2))
    surfaces = []
    for k, surface in enumerate(prepared.surfaces):
        height, width = surface.index_map.shape
        view = None
        if surface.geometry is not None:
            geom = surface.geometry
            view = {"lon_deg": math.degrees(geom.lon), "lat_deg": math.degrees(geom.lat),
                    "fov_deg": geom.fov_deg}
        surfaces.append({
            "index": k, "width": width, "height": height, "objects": list(surface.objects),
            "labels": {str(o): list(p) for o, p in surface.label_points.items()},
            "image": f"/api/pano/{image_id}/surface/{k}/image",
            "index_map": f"/api/pano/{image_id}/surface/{k}/index",
            "view": view,
        })
    return {
        "id": image_id, "file_name": record.file_name, "width": record.width,
        "height": record.height, "position": session.position(image_id),
        "total": len(session.items), "version": session.version(image_id),
        "mode": prepared.mode, "density": prepared.density,
        "dense_threshold": prepared.dense_threshold, "n_objects": prepared.n_objects,
        "yaw_deg": prepared.yaw_deg, "roll_columns": prepared.roll_columns,
        "components": prepared.components, "unseen": list(prepared.unseen),
        "objects": [{"index": k, "category": session.category_name(c), "area_px": int(a)}
                    for k, (c, a) in enumerate(zip(opened.instances.class_ids, areas,
                                                   strict=True))],
        "surfaces": surfaces,
    }


class AnnotateHandler(BaseHTTPRequestHandler):
    """Routes requests to the session; one instance per request (threaded server)."""

    server: AnnotateServer
    protocol_version = "HTTP/1.1"
    timeout = REQUEST_TIMEOUT

    def log_message(self, format: str, *args) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    # ----------------------------------------------------------------- plumbing

    def _send(self, status: int, body: bytes, content_type: str, *, gzip: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        if gzip:
            self.send_header("Content-Encoding", "gzip")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: dict) -> None:
        self._send(status, json.dumps(payload).encode("utf-8"), "application/json")

    def _error(self, code: int, message: str, **extra) -> None:
        """Refuse; the connection closes so nothing left on it is read as a request."""
        self.close_connection = True
        self._json(code, {"error": message, **extra})

    def _origins(self) -> set[str]:
        port = self.server.server_address[1]
        return {f"http://127.0.0.1:{port}", f"http://localhost:{port}"}

    def _host_ok(self) -> bool:
        """Only this server's own address: a page elsewhere cannot reach it by DNS rebinding."""
        return "http://" + self.headers.get("Host", "") in self._origins()

    def _read_body(self) -> bytes:
        """The whole body, read before anything is refused (else it would follow as a
        request of its own); a length that cannot be read in full closes the connection."""
        if self.headers.get("Transfer-Encoding"):
            raise RequestError(HTTPStatus.LENGTH_REQUIRED,
                               "chunked bodies are not accepted; send Content-Length")
        declared = self.headers.get("Content-Length", "0").strip() or "0"
        if not declared.isdigit() or len(declared) > MAX_DIGITS:
            raise RequestError(HTTPStatus.BAD_REQUEST,
                               f"Content-Length {declared[:32]!r} is not a byte count")
        if int(declared) > MAX_BODY:
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY} bytes")
        return self.rfile.read(int(declared))

    def _check_write(self) -> None:
        """A state-changing request must come from the page this server served."""
        if not self._host_ok():
            raise RequestError(HTTPStatus.FORBIDDEN, "unexpected Host header")
        origin = self.headers.get("Origin")
        referer = self.headers.get("Referer")
        if origin is not None and origin not in self._origins():
            raise RequestError(HTTPStatus.FORBIDDEN, f"requests from {origin[:100]} are refused")
        if origin is None and referer is not None and not any(
                referer.startswith(o + "/") for o in self._origins()):
            raise RequestError(HTTPStatus.FORBIDDEN, "requests from other pages are refused")
        token = self.headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(token.encode("utf-8", "replace"),
                                   self.server.token.encode()):
            raise RequestError(HTTPStatus.FORBIDDEN, f"missing or wrong {TOKEN_HEADER}: "
                               "reload the annotation page")
        if not self.headers.get("Content-Type", "").startswith("application/json"):
            raise RequestError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                               "POST bodies must be application/json")

    # ----------------------------------------------------------------- routes

    def do_GET(self) -> None:
        if not self._host_ok():
            self._error(HTTPStatus.FORBIDDEN, "unexpected Host header")
            return
        if self.headers.get("Transfer-Encoding") or \
                self.headers.get("Content-Length", "0").strip() not in ("", "0"):
            self._error(HTTPStatus.BAD_REQUEST, "a GET request carries no body")
            return
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            self._static("index.html")
        elif path.startswith("/static/"):
            self._static(path.removeprefix("/static/"))
        elif path == "/api/session":
            self._json(HTTPStatus.OK, self.server.session.summary())
        else:
            self._pano("GET", path)

    def do_POST(self) -> None:
        try:
            raw = self._read_body()
        except RequestError as err:
            self._error(err.status, str(err))
            return
        try:
            self._check_write()
            body = parse_body(raw)
        except RequestError as err:
            self._error(err.status, str(err))
            return
        self._pano("POST", self.path.split("?", 1)[0], body)

    def _static(self, name: str) -> None:
        suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
        if "/" in name or suffix not in STATIC_TYPES:
            self._error(HTTPStatus.NOT_FOUND, f"no such file: {name}")
            return
        resource = resources.files("foir360_core.annotate").joinpath("static", name)
        if not resource.is_file():
            self._error(HTTPStatus.NOT_FOUND, f"no such file: {name}")
            return
        data = resource.read_bytes()
        if name == "index.html":  # the page quotes this run's token on every write
            data = data.replace(TOKEN_PLACEHOLDER, self.server.token.encode())
        self._send(HTTPStatus.OK, data, STATIC_TYPES[suffix])

    def _pano(self, method: str, path: str, body: dict | None = None) -> None:
        match = _PANO.match(path)
        if match is None:
            self._error(HTTPStatus.NOT_FOUND, f"no such endpoint: {method} {path[:100]}")
            return
        image_id, action, surface, kind = match.groups()
        session = self.server.session
        try:
            if method == "GET" and action is None and surface is None:
                self._json(HTTPStatus.OK, pano_json(session, int(image_id)))
            elif method == "GET" and surface is not None:
                data = session.surface_bytes(int(image_id), int(surface), kind)
                if kind == "image":
                    self._send(HTTPStatus.OK, data, "image/jpeg")
                else:
                    self._send(HTTPStatus.OK, data, "application/octet-stream", gzip=True)
            elif method == "POST" and action is not None and body is not None:
                self._action(int(image_id), action, body)
            else:
                self._error(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} not allowed on {path}")
        except KeyError as err:
            self._error(HTTPStatus.NOT_FOUND, str(err.args[0] if err.args else err))
        except UnrankableError as err:
            self._error(HTTPStatus.UNPROCESSABLE_ENTITY, str(err), status=err.status)
        except ConflictError as err:
            self._error(HTTPStatus.CONFLICT, str(err))
        except PayloadError as err:
            self._error(HTTPStatus.BAD_REQUEST, str(err))
        except OSError as err:
            log.error("writing the output failed: %s", err)
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR,
                        f"could not write the output file: {err}; nothing was saved")

    def _action(self, image_id: int, action: str, body: dict) -> None:
        session = self.server.session
        if action == "merge":
            self._json(HTTPStatus.OK, {"order": session.merge(image_id, body.get("windows"))})
        else:
            result = (session.save if action == "save" else session.skip)(image_id, body)
            session.prefetch(result["next"])
            self._json(HTTPStatus.OK, result)


class AnnotateServer(ThreadingHTTPServer):
    """A threaded HTTP server holding one annotation session; loopback only."""

    daemon_threads = True

    def __init__(self, session: AnnotationSession, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), AnnotateHandler)
        self.session = session
        self.token = secrets.token_urlsafe(32)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"

    def start_background(self) -> threading.Thread:
        """Serve from a daemon thread (tests, notebooks); stop with ``shutdown()``."""
        thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                  name="foir360-annotate", daemon=True)
        thread.start()
        return thread
