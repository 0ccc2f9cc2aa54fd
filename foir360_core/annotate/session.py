"""One annotator's session: the panoramas of a shard, their status, saving and resuming.

The output file is the foir360 dataset format with ranks, rewritten atomically after every
panorama, so a crash or Ctrl+C loses at most the panorama in progress and a restart with
the same ``--out`` resumes at the first panorama not yet done. The session's own state
(annotator, shard, skipped panoramas) rides in ``info["annotate"]`` of that file.

Concurrency: the server is threaded and a panorama may be open in two browser tabs. Each
panorama carries a version that grows with every save or skip; a save must quote the
version it was opened at, otherwise it is refused (HTTP 409) and nothing is written.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import math
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from foir360_core.annotate.prepare import (
    DEFAULT_DENSE_THRESHOLD,
    DEFAULT_DENSITY_WIDTH,
    PreparedPanorama,
    WindowOptions,
    prepare_panorama,
)
from foir360_core.geometry import ErpShapeError, check_erp_shape
from foir360_core.io import Dataset, DatasetError, ImageRecord, read_image
from foir360_core.io.dataset import annotations_for, write_dataset_json
from foir360_core.io.shards import shard_items
from foir360_core.labeling.collector import LocalRanking, collect_local_ranks
from foir360_core.structures import PanoInstances

log = logging.getLogger(__name__)

PREPARED_CACHE = 4
PENDING, DONE, SKIPPED, REJECTED = "pending", "done", "skipped", "rejected"


class ConflictError(RuntimeError):
    """The panorama changed since the client opened it (another tab saved or skipped it)."""


class PayloadError(ValueError):
    """A save or merge request that is not a complete, valid ranking."""


class UnrankableError(RuntimeError):
    """A panorama that cannot be annotated; ``status`` says whether it is skipped or rejected."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status


def shard_records(records: list[ImageRecord], index: int, count: int) -> list[ImageRecord]:
    """Shard I of N of the panoramas ordered by id (``foir360_core.io.shards``)."""
    return shard_items(sorted(records, key=lambda r: r.id), (index, count))


@dataclass(frozen=True)
class SessionConfig:
    """Everything ``foir360 annotate`` needs; ``images`` None means beside the masks file."""

    masks: Path
    out: Path
    images: Path | None = None
    annotator: str = "anonymous"
    shard: tuple[int, int] = (0, 1)
    dense_threshold: float = DEFAULT_DENSE_THRESHOLD
    density_width: int | None = DEFAULT_DENSITY_WIDTH
    windows: WindowOptions = field(default_factory=WindowOptions)
    redo_skipped: bool = False
    max_width: int = 2048


@dataclass
class _Opened:
    """A prepared panorama kept in the cache, with its encoded pictures."""

    instances: PanoInstances
    prepared: PreparedPanorama
    encoded: dict[tuple[str, int], bytes] = field(default_factory=dict)


class AnnotationSession:
    """State of one ``foir360 annotate`` run; all public methods are thread-safe."""

    def __init__(self, config: SessionConfig) -> None:
        self.config = config
        self.dataset = Dataset.load(config.masks, strict_erp=False)
        self.items = shard_records(self.dataset.images, *config.shard)
        self._position = {r.id: i for i, r in enumerate(self.items)}
        self._status = {r.id: PENDING for r in self.items}
        self._reason: dict[int, str] = {}
        self._version = {r.id: 0 for r in self.items}
        self._saved: dict[int, tuple[dict, list[dict]]] = {}
        self._foreign: list[tuple[dict, list[dict]]] = []
        self._cache: OrderedDict[int, _Opened] = OrderedDict()
        self._lock = threading.Lock()
        self._prepare_lock = threading.Lock()
        self._categories = {int(c["id"]): str(c.get("name", c["id"]))
                            for c in self.dataset.categories}
        self._resume()

    # ----------------------------------------------------------------- resume / write

    def _resume(self) -> None:
        """Pick up an existing output file: its ranked panoramas are done, skips stay skipped."""
        out = self.config.out
        if not out.exists():
            return
        try:
            data = json.loads(out.read_text(encoding="utf-8"))
            images = data["images"]
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise DatasetError(
                f"{out} exists but is not a foir360 dataset ({err}); "
                "move it away or pick another --out"
            ) from err
        by_image: dict[int, list[dict]] = {}
        for ann in data.get("annotations", []):
            by_image.setdefault(int(ann["image_id"]), []).append(ann)
        for entry in images:
            image_id = int(entry["id"])
            anns = by_image.get(image_id, [])
            if image_id not in self._status:
                self._foreign.append((entry, anns))
                continue
            if self._same_objects(image_id, anns):
                self._saved[image_id] = (entry, anns)
                self._status[image_id] = DONE
                self._version[image_id] = 1
            else:
                log.warning("%s: image %s's objects differ from %s now; it will be ranked again",
                            out, image_id, self.config.masks)
        state = data.get("info", {}).get("annotate", {})
        if not self.config.redo_skipped:
            for key, reason in state.get("skipped", {}).items():
                if self._status.get(int(key)) == PENDING:
                    self._status[int(key)] = SKIPPED
                    self._reason[int(key)] = str(reason)
        if state.get("annotator") not in (None, self.config.annotator):
            log.warning("%s was started by annotator %r; continuing as %r",
                        out, state.get("annotator"), self.config.annotator)
        log.info("resuming %s: %d of %d panoramas already done", out,
                 sum(s == DONE for s in self._status.values()), len(self.items))

    def _same_objects(self, image_id: int, saved: list[dict]) -> bool:
        """A saved ranking still applies when the masks file holds the same masks."""
        if not saved or not all("importance_rank" in a for a in saved):
            return False
        current = self.dataset.annotations(image_id)
        return [a["segmentation"] for a in current] == [a["segmentation"] for a in saved]

    def _write(self) -> None:
        """Rewrite the output atomically from the per-panorama annotation lists.

        ``write_dataset`` would re-encode every saved mask on each save (about half a
        second per 2048x1024 panorama), so the annotation dicts are computed once per
        panorama with ``annotations_for`` and only renumbered here.
        """
        entries = [self._saved[r.id] for r in self.items if r.id in self._saved]
        images, annotations = [], []
        for image, anns in [*entries, *self._foreign]:
            images.append(image)
            for ann in anns:
                annotations.append({**ann, "id": len(annotations) + 1})
        shard_i, shard_n = self.config.shard
        info = {
            "annotate": {
                "tool": "foir360 annotate",
                "annotator": self.config.annotator,
                "shard": f"{shard_i}/{shard_n}",
                "masks": str(self.config.masks),
                "dense_threshold": self.config.dense_threshold,
                "density_width": self.config.density_width,
                "skipped": {str(k): self._reason.get(k, "") for k, s in self._status.items()
                            if s == SKIPPED},
            },
        }
        write_dataset_json(self.config.out, images, annotations,
                           categories=self.dataset.categories, info=info)

    # ----------------------------------------------------------------- queries

    def summary(self) -> dict:
        """Progress for the page: counts, each panorama's status, the next one to rank."""
        with self._lock:
            counts = {s: 0 for s in (PENDING, DONE, SKIPPED, REJECTED)}
            for status in self._status.values():
                counts[status] += 1
            shard_i, shard_n = self.config.shard
            return {
                "annotator": self.config.annotator,
                "shard": f"{shard_i}/{shard_n}",
                "out": str(self.config.out),
                "total": len(self.items),
                **counts,
                "next": self._next_pending(),
                "items": [{"id": r.id, "file_name": r.file_name, "status": self._status[r.id],
                           "reason": self._reason.get(r.id, "")} for r in self.items],
            }

    def _next_pending(self) -> int | None:
        return next((r.id for r in self.items if self._status[r.id] == PENDING), None)

    def position(self, image_id: int) -> int:
        """0-based place of a panorama in this shard; ``KeyError`` when it is not in it."""
        if image_id not in self._position:
            raise KeyError(f"panorama {image_id} is not in this session's shard")
        return self._position[image_id]

    def version(self, image_id: int) -> int:
        with self._lock:
            return self._version[image_id]

    def category_name(self, class_id: int) -> str:
        return self._categories.get(int(class_id), str(class_id))

    # ----------------------------------------------------------------- opening

    def image_path(self, record: ImageRecord) -> Path:
        """Where a panorama's file is: under ``images`` by its relative name or its bare name."""
        if self.config.images is None:
            return self.dataset.image_path(record.id)
        name = Path(record.file_name)
        candidate = name if name.is_absolute() else self.config.images / name
        if not candidate.is_file() and (self.config.images / name.name).is_file():
            return self.config.images / name.name
        return candidate

    def open(self, image_id: int) -> _Opened:
        """Prepare a panorama (cached). Raises ``UnrankableError`` and records why."""
        self.position(image_id)
        with self._prepare_lock:
            if image_id in self._cache:
                self._cache.move_to_end(image_id)
                return self._cache[image_id]
            try:
                opened = self._load(image_id)
            except UnrankableError as err:
                self._mark(image_id, err.status, str(err))
                raise
            self._cache[image_id] = opened
            while len(self._cache) > PREPARED_CACHE:
                self._cache.popitem(last=False)
            return opened

    def prefetch(self, image_id: int | None) -> None:
        """Prepare a panorama in the background (the next one, while the annotator saves),
        so the page does not wait for the sub-windows of a large dense panorama."""
        if image_id is None:
            return

        def work() -> None:
            # A panorama that cannot be ranked is recorded by open(); the page asks later.
            with contextlib.suppress(UnrankableError):
                self.open(image_id)

        threading.Thread(target=work, name=f"prefetch-{image_id}", daemon=True).start()

    def _load(self, image_id: int) -> _Opened:
        record = self.dataset.record(image_id)
        path = self.image_path(record)
        try:
            check_erp_shape(record.height, record.width, strict=True)
            image = read_image(path)
            anns = self.dataset.instances(image_id)
        except (OSError, ValueError, ErpShapeError, DatasetError) as err:
            raise UnrankableError(f"{record.file_name}: {err}", REJECTED) from err
        instances = PanoInstances(anns.masks, class_ids=anns.class_ids)
        if len(instances) == 0:
            raise UnrankableError(f"{record.file_name}: no objects in the masks file; "
                                   "nothing to rank", SKIPPED)
        try:
            prepared = prepare_panorama(
                image, instances, dense_threshold=self.config.dense_threshold,
                windows=self.config.windows, max_width=self.config.max_width,
                density_width=self.config.density_width,
            )
        except ValueError as err:
            raise UnrankableError(f"{record.file_name}: {err}", REJECTED) from err
        return _Opened(instances, prepared)

    def _mark(self, image_id: int, status: str, reason: str) -> None:
        """Record a panorama that cannot be ranked; skips persist, rejections are retried
        on the next run (the user may fix the file meanwhile)."""
        log.warning("panorama %s %s: %s", image_id, status, reason)
        with self._lock:
            if self._status[image_id] == DONE:
                return
            self._status[image_id] = status
            self._reason[image_id] = reason
            self._version[image_id] += 1
            if status == SKIPPED:
                self._write()

    def surface_bytes(self, image_id: int, surface: int, kind: str) -> bytes:
        """JPEG of a surface's picture (``kind="image"``) or its gzipped little-endian
        uint16 index map (``kind="index"``), encoded once per cached panorama."""
        opened = self.open(image_id)
        surfaces = opened.prepared.surfaces
        if not 0 <= surface < len(surfaces):
            raise KeyError(f"panorama {image_id} has {len(surfaces)} surfaces, not {surface + 1}")
        key = (kind, surface)
        if key not in opened.encoded:
            if kind == "image":
                bgr = cv2.cvtColor(surfaces[surface].image, cv2.COLOR_RGB2BGR)
                ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 92])
                if not ok:
                    raise RuntimeError("JPEG encoding failed")
                opened.encoded[key] = buf.tobytes()
            elif kind == "index":
                raw = surfaces[surface].index_map.astype("<u2").tobytes()
                opened.encoded[key] = gzip.compress(raw, compresslevel=6)
            else:
                raise KeyError(f"unknown surface file {kind!r}")
        return opened.encoded[key]

    # ----------------------------------------------------------------- ranking

    def merge(self, image_id: int, windows: object) -> list[int]:
        """Global order (most → least important) of a dense panorama's window rankings."""
        opened = self.open(image_id)
        return self._merged_order(opened, self._window_lists(opened.prepared, windows))

    @staticmethod
    def _check_order(order: object, expected: tuple[int, ...] | range, what: str) -> list[int]:
        """A full ranking of exactly the expected objects, or a ``PayloadError`` naming the gap."""
        if not isinstance(order, list) or not all(
            isinstance(k, int) and not isinstance(k, bool) for k in order
        ):
            raise PayloadError(f"{what}: expected a list of object indices")
        want = set(expected)
        missing = sorted(want - set(order))
        extra = sorted(set(order) - want)
        if missing or extra or len(order) != len(want):
            raise PayloadError(
                f"{what}: every object must be ranked exactly once before saving "
                f"(not ranked: {missing}, unknown: {extra}, "
                f"{len(order) - len(set(order))} repeated)"
            )
        return list(order)

    def _window_lists(self, prepared: PreparedPanorama, windows: object) -> list[list[int]]:
        if prepared.mode != "dense":
            raise PayloadError("this panorama is sparse: it has no sub-windows to merge")
        if not isinstance(windows, list) or len(windows) != len(prepared.surfaces):
            raise PayloadError(f"expected the rankings of all {len(prepared.surfaces)} windows")
        return [self._check_order(w, s.objects, f"window {i + 1}")
                for i, (w, s) in enumerate(zip(windows, prepared.surfaces, strict=True))]

    @staticmethod
    def _merged_order(opened: _Opened, lists: list[list[int]]) -> list[int]:
        """Algorithm 1 over the windows: every local list is one equally weighted vote set.

        Ties the votes cannot break go to the larger object (solid angle), as in the
        pseudo-label pipeline; the annotator sees and may correct the merged order.
        """
        prior = [g.solid_angle for g in opened.instances.geometry]
        ranks = collect_local_ranks([LocalRanking(objects=lst) for lst in lists],
                                    opened.prepared.n_objects, prior=prior)
        return [int(k) for k in np.argsort(np.asarray(ranks), kind="stable")]

    def save(self, image_id: int, payload: dict) -> dict:
        """Validate a finished ranking, store it and rewrite the output file.

        Raises ``ConflictError`` when the quoted version is stale and ``PayloadError``
        when the ranking is incomplete; in both cases nothing changes.
        """
        opened = self.open(image_id)
        prepared = opened.prepared
        if payload.get("mode") != prepared.mode:
            raise PayloadError(f"this panorama is annotated in {prepared.mode} mode, "
                               f"not {payload.get('mode')!r}")
        order = self._check_order(payload.get("order"), range(prepared.n_objects), "ranking")
        meta: dict = {"annotator": self.config.annotator, "mode": prepared.mode,
                      "density": round(prepared.density, 4),
                      "dense_threshold": prepared.dense_threshold}
        if prepared.mode == "sparse":
            meta["yaw_roll_deg"] = round(prepared.yaw_deg, 6)
        else:
            lists = self._window_lists(prepared, payload.get("windows"))
            merged = self._merged_order(opened, lists)
            meta["windows"] = [
                {"lon_deg": round(float(np.degrees(s.geometry.lon)), 4),
                 "lat_deg": round(float(np.degrees(s.geometry.lat)), 4),
                 "fov_deg": round(s.geometry.fov_deg, 4), "order": lst}
                for s, lst in zip(prepared.surfaces, lists, strict=True)]
            meta["merged_order"] = merged
            meta["adjusted"] = order != merged
        seconds = payload.get("seconds")
        if isinstance(seconds, int | float) and 0 <= seconds < math.inf:
            meta["seconds"] = round(float(seconds), 1)
        meta["saved_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        ranks = np.empty(prepared.n_objects, dtype=np.int64)
        ranks[order] = np.arange(1, prepared.n_objects + 1)
        record = self.dataset.record(image_id)
        out_record = ImageRecord(record.id, self._relative_name(record), record.width,
                                 record.height, {**record.extra, "annotation": meta})
        anns = annotations_for(out_record, opened.instances.with_ranks(ranks), 1)
        with self._lock:
            self._check_version(image_id, payload.get("version"))
            previous = (self._status[image_id], self._saved.get(image_id))
            self._saved[image_id] = (out_record.to_json(), anns)
            self._status[image_id] = DONE
            self._reason.pop(image_id, None)
            try:
                self._write()
            except OSError:
                self._status[image_id] = previous[0]
                if previous[1] is None:
                    del self._saved[image_id]
                else:
                    self._saved[image_id] = previous[1]
                raise
            self._version[image_id] += 1
            return {"saved": image_id, "version": self._version[image_id],
                    "next": self._next_pending()}

    def skip(self, image_id: int, payload: dict) -> dict:
        """Leave a panorama unranked; it is recorded as skipped and not offered again
        (unless ``--redo-skipped``). A panorama already saved keeps its ranks."""
        self.position(image_id)
        with self._lock:
            self._check_version(image_id, payload.get("version"))
            if self._status[image_id] != DONE:
                self._status[image_id] = SKIPPED
                self._reason[image_id] = f"skipped by {self.config.annotator}"
                self._write()
            self._version[image_id] += 1
            return {"skipped": image_id, "version": self._version[image_id],
                    "next": self._next_pending()}

    def _check_version(self, image_id: int, version: object) -> None:
        current = self._version[image_id]
        if version != current:
            raise ConflictError(
                f"panorama {image_id} changed since this page opened it (version {version}, "
                f"now {current}): it was saved or skipped in another tab; reload to continue"
            )

    def _relative_name(self, record: ImageRecord) -> str:
        """The image path as the output file should name it: relative to the output's folder."""
        path = self.image_path(record).resolve()
        try:
            return os.path.relpath(path, self.config.out.resolve().parent)
        except ValueError:  # another drive on Windows
            return str(path)
