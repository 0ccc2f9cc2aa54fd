"""``foir360 segment``: instance masks for a collection of panoramas, resumable and shardable.

Images are found in the given files and folders (sorted, so image ids are the same in
every shard), segmented panoramically (:mod:`~foir360_core.segmentation.panoramic`) and
written in the dataset format (COCO + RLE, ``erp_bbox``, ``score`` per instance, category
names from the segmenter). Progress is kept per panorama (:mod:`.progress`); a re-run
skips every panorama whose file and settings are unchanged. A sharded run writes
``<out stem>.shard-I-of-N.json``; an unsharded run afterwards collects all shards' work.

Bad input never stops the run: an unreadable, empty or non-2:1 image is named with the
reason, counted and left out; the rest is segmented.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from foir360_core.geometry import ErpShapeError
from foir360_core.io import ImageRecord, read_image, write_image
from foir360_core.io.dataset import annotations_for, write_dataset_json
from foir360_core.io.shards import shard_items
from foir360_core.segmentation.panoramic import MergeSettings, PanoramicSegmenter
from foir360_core.segmentation.progress import SegmentProgress, image_digest, settings_digest
from foir360_core.segmentation.registry import (
    DEFAULT_SEGMENTER,
    build_segmenter,
    segmenter_fingerprint,
)

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


class SegmentRunError(RuntimeError):
    """The run cannot start (no images, unusable output path)."""


@dataclass(frozen=True)
class SegmentOptions:
    """Everything ``foir360 segment`` needs."""

    images: tuple[Path, ...]
    out: Path
    segmenter: str = DEFAULT_SEGMENTER
    settings: MergeSettings = field(default_factory=MergeSettings)
    score_threshold: float | None = None
    threads: int | None = 1
    workers: int = 1
    shard: tuple[int, int] = (0, 1)
    debug_dir: Path | None = None
    debug_count: int = 1
    preview: Callable | None = None  # (image, result, title) -> RGB overlay, for --preview
    progress_bar: bool = True

    @property
    def preview_dir(self) -> Path:
        return self.out.with_name(f"{self.out.stem}.previews")


@dataclass
class SegmentSummary:
    """What a run did; ``failed`` maps image file → reason."""

    segmented: int = 0
    already_done: int = 0
    instances: int = 0
    seconds: float = 0.0
    failed: dict[str, str] = field(default_factory=dict)
    output: Path | None = None


def find_images(paths: Sequence[Path]) -> list[Path]:
    """Image files among ``paths`` (files, or folders searched recursively), sorted."""
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(p for p in path.rglob("*")
                         if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            found.add(path)
        else:
            raise SegmentRunError(f"{path} does not exist; give image files or folders")
    if not found:
        raise SegmentRunError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in "
                              f"{', '.join(map(str, paths))}")
    return sorted(p.resolve() for p in found)


class _Worker:
    """Segments single panoramas; built once per process."""

    def __init__(self, options: SegmentOptions) -> None:
        segmenter = build_segmenter(options.segmenter, threads=options.threads,
                                    score_threshold=options.score_threshold)
        self.panoramic = PanoramicSegmenter(segmenter, options.settings)
        self.options = options
        self.digest = settings_digest({
            "segmenter": segmenter_fingerprint(segmenter),
            "classes": list(segmenter.class_names),
            "merge": options.settings.to_json(),
        })

    def __call__(self, job: tuple[int, Path, bool]) -> dict:
        image_id, path, debug = job
        entry = {"file": str(path), "image_id": image_id}
        try:
            digest = image_digest(path, self.digest)
            image = read_image(path)
            result = self.panoramic(image, path, keep_views=debug)
        except (OSError, ValueError, ErpShapeError) as err:
            return {**entry, "status": "failed", "message": str(err)}
        except Exception as err:  # a long job must survive one pathological panorama
            log.debug("%s failed", path, exc_info=True)
            return {**entry, "status": "failed",
                    "message": f"unexpected {type(err).__name__}: {err}"}
        height, width = image.shape[:2]
        record = ImageRecord(image_id, path.name, width, height)
        anns = [{k: v for k, v in a.items() if k not in ("id", "image_id")}
                for a in annotations_for(record, result.instances, 1)]
        self._pictures(path, image, result, debug)
        return {**entry, "status": "ok", "digest": digest, "width": width, "height": height,
                "seconds": {k: round(v, 3) for k, v in result.seconds.items()},
                "annotations": anns}

    def _pictures(self, path: Path, image, result, debug: bool) -> None:
        from foir360_core.segmentation.drawing import write_view_debug

        if debug and self.options.debug_dir is not None:
            write_view_debug(self.options.debug_dir / path.stem, result)
        if self.options.preview is not None:
            title = f"{path.name} | {len(result.instances)} instances | {self.options.segmenter}"
            write_image(self.options.preview_dir / f"{path.stem}.png",
                        self.options.preview(image, result, title))


_WORKER: _Worker | None = None


def _init_worker(options: SegmentOptions) -> None:
    global _WORKER  # noqa: PLW0603 - one segmenter per worker process, built once
    import cv2

    cv2.setNumThreads(1)
    _WORKER = _Worker(options)


def _work(job: tuple[int, Path, bool]) -> dict:
    assert _WORKER is not None
    return _WORKER(job)


def _results(options: SegmentOptions, jobs: list, local: _Worker) -> Iterator[dict]:
    if options.workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield local(job)
        return
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Pool(options.workers, _init_worker, (options,)) as pool:
        yield from pool.imap_unordered(_work, jobs)


def output_path(out: Path, shard: tuple[int, int]) -> Path:
    index, count = shard
    if count == 1:
        return out
    return out.with_name(f"{out.stem}.shard-{index}-of-{count}{out.suffix or '.json'}")


def run_segmentation(options: SegmentOptions) -> SegmentSummary:
    """Segment every panorama of this shard not done yet, then write the dataset file."""
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    images = find_images(options.images)
    ids = {path: i + 1 for i, path in enumerate(images)}
    mine = shard_items(images, options.shard)
    local = _Worker(options)  # fails fast on a bad segmenter spec, before any work
    progress = SegmentProgress(options.out, options.shard)
    finished = progress.finished()
    summary = SegmentSummary()
    todo = []
    for path in mine:
        entry = finished.get(str(path))
        if entry is not None and entry.get("digest") == _digest_or_none(path, local.digest):
            summary.already_done += 1
        else:
            todo.append(path)
            finished.pop(str(path), None)
    debug = set(todo[: options.debug_count]) if options.debug_dir else set()
    jobs = [(ids[p], p, p in debug) for p in todo]
    with logging_redirect_tqdm(), tqdm(total=len(jobs), unit="pano", desc="segmenting",
                                       disable=not options.progress_bar) as bar:
        for entry in _results(options, jobs, local):
            if entry["status"] == "ok":
                progress.append(entry)
                finished[entry["file"]] = entry
                summary.segmented += 1
                summary.instances += len(entry["annotations"])
                summary.seconds += sum(entry["seconds"].values())
            else:
                summary.failed[entry["file"]] = entry["message"]
                log.warning("skipped %s: %s", entry["file"], entry["message"])
            bar.update(1)
    scope = mine if options.shard[1] > 1 else images
    entries = [finished[str(p)] for p in scope if str(p) in finished]
    summary.output = write_masks(output_path(options.out, options.shard), entries, ids, local,
                                 options)
    return summary


def _digest_or_none(path: Path, settings: str) -> str | None:
    try:
        return image_digest(path, settings)
    except OSError:
        return None


def write_masks(path: Path, entries: list[dict], ids: dict[Path, int], worker: _Worker,
                options: SegmentOptions) -> Path:
    """The dataset file from finished progress entries (no mask is decoded or re-encoded)."""
    images, annotations = [], []
    for entry in sorted(entries, key=lambda e: ids.get(Path(e["file"]), 0)):
        image_id = ids[Path(entry["file"])]
        name = os.path.relpath(entry["file"], path.parent.resolve())
        images.append(ImageRecord(image_id, name, entry["width"], entry["height"],
                                  {"segment_seconds": entry["seconds"]}).to_json())
        for ann in entry["annotations"]:
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, **ann})
    names = worker.panoramic.class_names
    categories = [{"id": i + 1, "name": n, "supercategory": "object"}
                  for i, n in enumerate(names)]
    info = {"description": "instance masks from foir360 segment (no importance ranks)",
            "segmentation": {"segmenter": options.segmenter,
                             "name": worker.panoramic.segmenter.name,
                             **options.settings.to_json(), "digest": worker.digest}}
    return write_dataset_json(path, images, annotations, categories=categories, info=info)
