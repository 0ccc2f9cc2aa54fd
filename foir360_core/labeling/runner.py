"""Batch pseudo-labeling of a dataset: resumable, shardable, multi-process, robust to bad input.

Progress lives next to the output in ``<out>.progress/``, one JSON line per finished
panorama in ``shard-I-of-N.jsonl`` (``all.jsonl`` unsharded), flushed and fsynced as soon as
the panorama is done. A re-run with the same settings skips every panorama already labeled
there (by any shard) and redoes failed ones, so an interrupted job loses at most the
panoramas in flight. A sharded run writes ``<out stem>.shard-I-of-N.json``; an unsharded
run over the same ``--out`` afterwards collects all shards' work into ``<out>``, labeling
whatever is still missing.

Bad input never stops the run: a corrupt image, masks of the wrong size, a panorama with no
objects, … is reported with the reason, counted, and left out of the output.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from foir360_core.errors import UserError
from foir360_core.geometry import ErpShapeError, check_erp_shape
from foir360_core.io import Dataset, DatasetError, ImageRecord, write_dataset
from foir360_core.io.progress import JsonlProgress
from foir360_core.io.shards import shard_items
from foir360_core.labeling.debug import PngDebugWriter
from foir360_core.labeling.inpaint import build_inpainter
from foir360_core.labeling.pipeline import Counters, LabelConfig, LabelingError, PseudoLabeler
from foir360_core.labeling.saliency import build_saliency

log = logging.getLogger(__name__)


class LabelRunError(UserError, RuntimeError):
    """The whole run cannot start (no masks file, different settings in the progress files)."""


@dataclass(frozen=True)
class RunOptions:
    """Everything ``foir360 label`` needs."""

    masks: Path
    out: Path
    images: Path | None = None
    saliency: tuple[str, ...] = ("spectral", "fine_grained")
    inpaint: str = "patchmatch"
    config: LabelConfig = field(default_factory=LabelConfig)
    workers: int = 1
    shard: tuple[int, int] = (0, 1)
    debug_dir: Path | None = None
    debug_count: int = 1
    progress_bar: bool = True


@dataclass
class RunSummary:
    """What a run did; ``failed`` maps image id → reason."""

    labeled: int = 0
    already_done: int = 0
    trivial: int = 0
    empty: int = 0
    failed: dict[int, str] = field(default_factory=dict)
    counters: Counters = field(default_factory=Counters)
    output: Path | None = None


def load_masks(path: Path, images_root: Path | None = None) -> tuple[Dataset, dict[int, str]]:
    """Load the masks file; images whose annotations cannot be used are returned as failures.

    ``Dataset.load`` rejects a whole file for one bad annotation; a labeling run should
    instead label everything else, so each image is checked here and the bad ones are
    set aside with a reason.
    """
    if not path.is_file():
        raise LabelRunError(f"masks file not found: {path}")
    if path.stat().st_size == 0:
        raise LabelRunError(f"masks file {path} is empty; give a COCO-style JSON with 'images' "
                            "and 'annotations' (e.g. from `foir360 synth`)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise LabelRunError(f"masks file {path} is not valid JSON: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise LabelRunError(f"masks file {path}: expected a COCO-style object with an 'images' "
                            "list")
    if not data["images"]:
        raise LabelRunError(f"masks file {path} lists no images; nothing to label")
    bad: dict[int, str] = {}
    sizes: dict[int, tuple[int, int]] = {}
    images = []
    names: dict[int, list[str]] = {}
    for entry in data["images"]:
        try:
            record = ImageRecord.from_json(entry)
        except (DatasetError, TypeError, ValueError) as err:
            log.warning("%s: skipping an unusable image entry: %s", path, err)
            continue
        names.setdefault(record.id, []).append(record.file_name)
        if len(names[record.id]) > 1:  # its annotations cannot tell the images apart
            bad[record.id] = (f"image id {record.id} is used by {len(names[record.id])} "
                              f"entries ({', '.join(names[record.id])}); give each image its "
                              "own id")
            continue
        try:
            check_erp_shape(record.height, record.width)
        except ErpShapeError as err:
            bad[record.id] = str(err)
        sizes[record.id] = (record.height, record.width)
        images.append(entry)
    annotations, seen_ids, orphans = [], set(), 0
    for ann in data.get("annotations", []):
        image_id = ann.get("image_id")
        if image_id not in sizes:
            orphans += 1
            continue
        size = list(ann.get("segmentation", {}).get("size", [])) if isinstance(
            ann.get("segmentation"), dict) else []
        if size != list(sizes[image_id]):
            bad.setdefault(image_id, f"annotation {ann.get('id')} has a mask of size {size} but "
                           f"the image is {sizes[image_id][0]}x{sizes[image_id][1]} (HxW); "
                           "re-encode the masks at image size")
        elif ann.get("id") in seen_ids:
            bad.setdefault(image_id, f"annotation id {ann.get('id')} is used twice")
        seen_ids.add(ann.get("id"))
        annotations.append(ann)
    if orphans:
        log.warning("%s: %d annotations refer to images not in 'images'; ignored", path, orphans)
    good = [a for a in annotations if a["image_id"] not in bad]
    clean = {**data, "images": images, "annotations": good}
    dataset = Dataset(path, clean, strict_erp=False)
    if images_root is not None:
        dataset.root = images_root
    return dataset, bad


def shard_ids(dataset: Dataset, shard: tuple[int, int]) -> list[int]:
    """Image ids of shard I of N: every N-th image in file order, starting at I."""
    try:
        return [r.id for r in shard_items(dataset.images, shard)]
    except ValueError as err:
        raise LabelRunError(str(err)) from None


class ProgressStore(JsonlProgress):
    """Label progress: each line carries the settings digest, which must match this run's."""

    def __init__(self, out: Path, shard: tuple[int, int], digest: str) -> None:
        super().__init__(out, shard)
        self.digest = digest

    def finished(self) -> dict[int, dict]:
        """Every panorama labeled so far by any shard (latest line wins)."""
        done: dict[int, dict] = {}
        for file, entry in self.entries():
            if entry.get("digest") != self.digest:
                raise LabelRunError(
                    f"{file} was written with different labeling settings; use the same "
                    f"options as before, another --out, or delete {self.directory}")
            if entry.get("status") == "ok":
                done[int(entry["image_id"])] = entry
        return done

    def append(self, entry: dict) -> None:
        super().append({**entry, "digest": self.digest})


class _Worker:
    """Labels single panoramas by id; built once per process."""

    def __init__(self, dataset: Dataset, labeler: PseudoLabeler, options: RunOptions,
                 debug_ids: frozenset[int]) -> None:
        self.dataset = dataset
        self.labeler = labeler
        self.debug_dir = options.debug_dir
        self.debug_ids = debug_ids

    @classmethod
    def build(cls, options: RunOptions, debug_ids: frozenset[int]) -> _Worker:
        """A worker for a pool process: one OpenCV thread, its own dataset and models."""
        import cv2

        cv2.setNumThreads(1)
        dataset, _ = load_masks(options.masks, options.images)
        return cls(dataset, build_labeler(options), options, debug_ids)

    def __call__(self, image_id: int) -> dict:
        try:
            instances = self.dataset.instances(image_id)
            if len(instances) == 0:
                return {"image_id": image_id, "status": "empty",
                        "message": "no objects in the masks file for this panorama"}
            image = self.dataset.read_image(image_id)
            debug = (PngDebugWriter(self.debug_dir / f"image_{image_id}")
                     if self.debug_dir is not None and image_id in self.debug_ids else None)
            result = self.labeler.label(image, instances, debug=debug)
        except (LabelingError, DatasetError, OSError, ValueError) as err:
            return {"image_id": image_id, "status": "failed", "message": str(err)}
        except Exception as err:  # a long job must survive one pathological panorama
            log.debug("image %s failed", image_id, exc_info=True)
            return {"image_id": image_id, "status": "failed",
                    "message": f"unexpected {type(err).__name__}: {err}"}
        entry = {"image_id": image_id, "status": "ok", "n_objects": len(instances),
                 "input": input_digest(self.dataset, image_id),
                 "ranks": result.ranks.tolist(),
                 "scores": [round(float(s), 6) for s in result.scores], "extra": result.extra()}
        if len(instances) == 1:
            entry["message"] = "only one object: ranked 1 without saliency"
        return entry


_WORKER: _Worker | None = None


def _init_worker(options: RunOptions, debug_ids: frozenset[int]) -> None:
    global _WORKER  # noqa: PLW0603 - one labeler per worker process, built once
    _WORKER = _Worker.build(options, debug_ids)


def _work(image_id: int) -> dict:
    assert _WORKER is not None
    return _WORKER(image_id)


def _results(
    options: RunOptions, todo: list[int], debug_ids: frozenset[int], local: _Worker,
) -> Iterator[dict]:
    """Label ``todo`` in this process or a pool; yields results as they finish."""
    if options.workers <= 1 or len(todo) <= 1:
        for image_id in todo:
            yield local(image_id)
        return
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Pool(options.workers, _init_worker, (options, debug_ids)) as pool:
        yield from pool.imap_unordered(_work, todo)


def build_labeler(options: RunOptions) -> PseudoLabeler:
    """The labeler for these options (fails fast on unknown or missing models)."""
    return PseudoLabeler([build_saliency(s) for s in options.saliency],
                         build_inpainter(options.inpaint), options.config)


def output_path(options: RunOptions) -> Path:
    index, count = options.shard
    if count == 1:
        return options.out
    return options.out.with_name(f"{options.out.stem}.shard-{index}-of-{count}"
                                 f"{options.out.suffix or '.json'}")


def run_labeling(options: RunOptions) -> RunSummary:
    """Label every panorama of this shard not labeled yet, then write the output dataset."""
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    dataset, bad = load_masks(options.masks, options.images)
    labeler = build_labeler(options)
    digest = options.config.digest(labeler.model_names)
    store = ProgressStore(options.out, options.shard, digest)
    finished = _still_valid(store.finished(), dataset)
    mine = shard_ids(dataset, options.shard)
    summary = RunSummary()
    summary.already_done = sum(1 for i in mine if i in finished)
    todo = [i for i in mine if i not in finished and i not in bad]
    for image_id in (i for i in mine if i in bad):
        summary.failed[image_id] = bad[image_id]
        log.warning("image %s (%s): %s", image_id, dataset.record(image_id).file_name,
                    bad[image_id])
    debug_ids = frozenset(todo[: options.debug_count] if options.debug_dir else [])
    with logging_redirect_tqdm(), tqdm(total=len(todo), unit="pano", desc="labeling",
                                       disable=not options.progress_bar) as bar:
        local = _Worker(dataset, labeler, options, debug_ids)
        for entry in _results(options, todo, debug_ids, local):
            _account(entry, dataset, summary)
            if entry["status"] == "ok":
                store.append(entry)
                finished[entry["image_id"]] = entry
            bar.update(1)
    ids = set(mine) if options.shard[1] > 1 else {r.id for r in dataset.images}
    summary.output = write_labels(output_path(options), dataset,
                                  {i: e for i, e in finished.items() if i in ids}, options,
                                  digest)
    return summary


def input_digest(dataset: Dataset, image_id: int) -> str:
    """Digest of what a panorama's labels depend on: its image file and its annotations.

    The object count alone misses changed masks or a replaced picture, which would hand
    the old ranks to the wrong objects on resume.
    """
    digest = hashlib.blake2b(digest_size=16)
    try:
        digest.update(dataset.image_path(image_id).read_bytes())
    except OSError as err:
        digest.update(f"unreadable: {err}".encode())
    objects = [{"segmentation": a.get("segmentation"), "category_id": a.get("category_id")}
               for a in dataset.annotations(image_id)]
    digest.update(json.dumps(objects, sort_keys=True).encode())
    return digest.hexdigest()


def _still_valid(finished: dict[int, dict], dataset: Dataset) -> dict[int, dict]:
    """Drop finished entries whose panorama (image or masks) changed; they are redone."""
    valid = {}
    for image_id, entry in finished.items():
        try:
            current = input_digest(dataset, image_id)
        except DatasetError:
            continue  # no longer in the masks file
        if entry.get("input") == current:
            valid[image_id] = entry
        else:
            why = ("the progress file predates input digests" if "input" not in entry
                   else "its image or masks changed since it was labeled")
            log.warning("image %s: %s; labeling it again", image_id, why)
    return valid


def _account(entry: dict, dataset: Dataset, summary: RunSummary) -> None:
    image_id = entry["image_id"]
    name = dataset.record(image_id).file_name
    status = entry["status"]
    if status == "ok":
        summary.labeled += 1
        stats = entry["extra"]["labeling_stats"]
        summary.counters.add(Counters(**{k: stats[k] for k in
                                         ("views", "steps", "saliency_calls", "inpaint_calls")}))
        if "message" in entry:
            summary.trivial += 1
            log.info("image %s (%s): %s", image_id, name, entry["message"])
    elif status == "empty":
        summary.empty += 1
        log.warning("image %s (%s): %s; left out of the output", image_id, name,
                    entry["message"])
    else:
        summary.failed[image_id] = entry["message"]
        log.warning("image %s (%s): %s", image_id, name, entry["message"])


def write_labels(
    path: Path, dataset: Dataset, finished: dict[int, dict], options: RunOptions, digest: str,
) -> Path:
    """The output dataset: masks from the input, ranks and scores from the labeler."""

    def entries():
        for record in dataset.images:
            entry = finished.get(record.id)
            if entry is None:
                continue
            instances = dataset.instances(record.id)
            labeled = instances.with_ranks(np.asarray(entry["ranks"]),
                                           np.asarray(entry["scores"]))
            file_name = os.path.relpath(dataset.image_path(record.id), path.parent)
            yield ImageRecord(record.id, file_name, record.width, record.height,
                              {**record.extra, **entry["extra"]}), labeled

    info = {**dataset.info, "labeling": {"method": "FOIR-360 weak supervision (seed 000)",
                                         "saliency": list(options.saliency),
                                         "inpaint": options.inpaint,
                                         "config": options.config.to_json(), "digest": digest}}
    return write_dataset(path, entries(), categories=dataset.categories, info=info)
