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

Errors come back as ``{"error": message}`` with 400 (bad request), 404 (unknown), 409
(stale version: the panorama was saved from another tab) or 422 (the panorama cannot be
annotated; ``status`` says skipped or rejected). The Host header must name this server
and POSTs must be JSON, so other web pages open in the same browser cannot drive it.
"""

from __future__ import annotations

import json
import logging
import math
import re
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
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8"}
_PANO = re.compile(r"^/api/pano/(\d+)(?:/(merge|save|skip)|/surface/(\d+)/(image|index))?$")


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
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: dict) -> None:
        self._send(status, json.dumps(payload).encode("utf-8"), "application/json")

    def _error(self, code: int, message: str, **extra) -> None:
        self._json(code, {"error": message, **extra})

    def _host_ok(self) -> bool:
        """Only this server's own address: a page elsewhere cannot reach it by DNS rebinding."""
        port = self.server.server_address[1]
        return self.headers.get("Host", "") in {f"127.0.0.1:{port}", f"localhost:{port}"}

    def _body(self) -> dict | None:
        if not self.headers.get("Content-Type", "").startswith("application/json"):
            self._error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "POST bodies must be application/json")
            return None
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY} bytes")
            return None
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            self._error(HTTPStatus.BAD_REQUEST, f"body is not valid JSON: {err}")
            return None
        if not isinstance(body, dict):
            self._error(HTTPStatus.BAD_REQUEST, "body must be a JSON object")
            return None
        return body

    # ----------------------------------------------------------------- routes

    def do_GET(self) -> None:
        if not self._host_ok():
            self._error(HTTPStatus.FORBIDDEN, "unexpected Host header")
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
        if not self._host_ok():
            self._error(HTTPStatus.FORBIDDEN, "unexpected Host header")
            return
        self._pano("POST", self.path.split("?", 1)[0])

    def _static(self, name: str) -> None:
        suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
        if "/" in name or suffix not in STATIC_TYPES:
            self._error(HTTPStatus.NOT_FOUND, f"no such file: {name}")
            return
        resource = resources.files("foir360_core.annotate").joinpath("static", name)
        if not resource.is_file():
            self._error(HTTPStatus.NOT_FOUND, f"no such file: {name}")
            return
        self._send(HTTPStatus.OK, resource.read_bytes(), STATIC_TYPES[suffix])

    def _pano(self, method: str, path: str) -> None:
        match = _PANO.match(path)
        if match is None:
            self._error(HTTPStatus.NOT_FOUND, f"no such endpoint: {method} {path}")
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
            elif method == "POST" and action is not None:
                self._action(int(image_id), action)
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

    def _action(self, image_id: int, action: str) -> None:
        body = self._body()
        if body is None:
            return
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

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"

    def start_background(self) -> threading.Thread:
        """Serve from a daemon thread (tests, notebooks); stop with ``shutdown()``."""
        thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                  name="foir360-annotate", daemon=True)
        thread.start()
        return thread
