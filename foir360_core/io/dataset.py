"""The foir360 dataset format: COCO instance JSON plus an importance rank per annotation.

Layout (any COCO tool still opens it)::

    {
      "info": {"foir360_format": "1.0", "rank_convention": "1 = most important", ...},
      "categories": [{"id": 1, "name": "box", "supercategory": "object"}, ...],
      "images": [{"id": 1, "file_name": "pano_0001.png", "width": 2048, "height": 1024,
                  ...optional extras: "density", "stamp_ns", "seed",
                  "track_ids": [7, 3, ...]}],              # identity of each annotation, in order
      "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0,
                       "segmentation": {"size": [H, W], "counts": "<COCO RLE>"},
                       "area": 1234, "bbox": [x, y, w, h],
                       "erp_bbox": [x, y, w, h],          # seam-aware: x + w may exceed W
                       "importance_rank": 1,              # optional; 1 = most important
                       "importance_score": 0.93,          # optional; higher = more important
                       "score": 0.71}]                    # optional; the segmenter's confidence
    }

``bbox`` is the plain COCO box (it spans the whole width for a seam-crossing object);
``erp_bbox`` is the compact seam-aware one. ``track_ids`` (sequences, e.g. ``foir360 synth
--sequence``) gives the image's annotations, in their order, an identity kept across images;
it lives on the image so that tools that rewrite annotations (``foir360 label``) keep it.
Within an image either every annotation has an ``importance_rank`` (a permutation of 1..N)
or none has. ``file_name`` is relative to
the JSON file's folder unless absolute.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from foir360_core.errors import UserError
from foir360_core.geometry import ErpShapeError, check_erp_shape
from foir360_core.io.atomic import atomic_path
from foir360_core.io.images import read_image
from foir360_core.structures import PanoInstances, RankError

FORMAT_VERSION = "1.0"
DEFAULT_CATEGORY = {"id": 1, "name": "object", "supercategory": "object"}


class DatasetError(UserError, ValueError):
    """A dataset file is malformed; the message names the file, the record and the fix."""


@dataclass
class ImageRecord:
    """One panorama entry of the ``images`` list; ``extra`` keeps any other keys."""

    id: int
    file_name: str
    width: int
    height: int
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"id": self.id, "file_name": self.file_name, "width": self.width,
                "height": self.height, **self.extra}

    @classmethod
    def from_json(cls, entry: dict) -> ImageRecord:
        core = {"id", "file_name", "width", "height"}
        missing = core - entry.keys()
        if missing:
            raise DatasetError(f"image entry {entry!r} lacks {sorted(missing)}")
        return cls(int(entry["id"]), str(entry["file_name"]), int(entry["width"]),
                   int(entry["height"]), {k: v for k, v in entry.items() if k not in core})


class Dataset:
    """A loaded dataset file; images are read lazily, masks decoded per image on demand."""

    def __init__(self, path: Path, data: dict, *, strict_erp: bool = True) -> None:
        self.path = path
        self.info: dict = data.get("info", {})
        # Image file names are relative to the file's folder, or to info.image_root (itself
        # relative to that folder) when a writer names images from another folder.
        self.root = path.parent / str(self.info.get("image_root", ""))
        self.categories: list[dict] = data.get("categories") or [DEFAULT_CATEGORY]
        self.images: list[ImageRecord] = [ImageRecord.from_json(e) for e in data.get("images", [])]
        self._by_id: dict[int, ImageRecord] = {}
        for record in self.images:
            if record.id in self._by_id:
                raise DatasetError(f"{path}: duplicate image id {record.id}")
            self._by_id[record.id] = record
            self._check_shape(record, strict_erp)
        self._annotations: dict[int, list[dict]] = defaultdict(list)
        seen: set[int] = set()
        for ann in data.get("annotations", []):
            self._check_annotation(ann, seen)
            self._annotations[int(ann["image_id"])].append(ann)

    def _check_shape(self, record: ImageRecord, strict: bool) -> None:
        try:
            check_erp_shape(record.height, record.width, strict=strict)
        except ErpShapeError as err:
            where = f"{self.path}: image {record.id} ({record.file_name})"
            raise DatasetError(f"{where}: {err}") from err

    def _check_annotation(self, ann: dict, seen: set[int]) -> None:
        ann_id = ann.get("id")
        if ann_id in seen:
            raise DatasetError(f"{self.path}: duplicate annotation id {ann_id}")
        seen.add(ann_id)
        record = self._by_id.get(int(ann.get("image_id", -1)))
        if record is None:
            raise DatasetError(
                f"{self.path}: annotation {ann_id} refers to image_id {ann.get('image_id')}, "
                "which is not in 'images'"
            )
        size = list(ann.get("segmentation", {}).get("size", []))
        if size != [record.height, record.width]:
            raise DatasetError(
                f"{self.path}: annotation {ann_id} has a mask of size {size} but image "
                f"{record.id} is {record.height}x{record.width}; re-encode the mask at image size"
            )

    @classmethod
    def load(cls, path: str | Path, *, strict_erp: bool = True) -> Dataset:
        """Read and validate a dataset JSON file."""
        path = Path(path)
        if not path.is_file():
            raise DatasetError(f"dataset file not found: {path}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise DatasetError(f"{path} is not valid JSON: {err}") from err
        if not isinstance(data, dict) or "images" not in data:
            raise DatasetError(f"{path}: expected a COCO-style object with an 'images' list")
        return cls(path, data, strict_erp=strict_erp)

    def __len__(self) -> int:
        return len(self.images)

    def record(self, image_id: int) -> ImageRecord:
        try:
            return self._by_id[image_id]
        except KeyError:
            raise DatasetError(f"{self.path}: no image with id {image_id}") from None

    def image_path(self, image_id: int) -> Path:
        name = Path(self.record(image_id).file_name)
        return name if name.is_absolute() else self.root / name

    def read_image(self, image_id: int) -> np.ndarray:
        """The panorama as RGB uint8, checked against the recorded size."""
        record = self.record(image_id)
        image = read_image(self.image_path(image_id))
        if image.shape[:2] != (record.height, record.width):
            raise DatasetError(
                f"{self.path}: image {image_id} file is {image.shape[1]}x{image.shape[0]} but the "
                f"dataset says {record.width}x{record.height}"
            )
        return image

    def annotations(self, image_id: int) -> list[dict]:
        return list(self._annotations.get(image_id, []))

    def has_ranks(self, image_id: int) -> bool:
        anns = self._annotations.get(image_id, [])
        return bool(anns) and all("importance_rank" in a for a in anns)

    def track_ids(self, image_id: int) -> np.ndarray | None:
        """Ground-truth track id of each annotation (in order), or None when not given."""
        ids = self.record(image_id).extra.get("track_ids")
        if ids is None:
            return None
        count = len(self._annotations.get(image_id, []))
        if len(ids) != count:
            raise DatasetError(
                f"{self.path}: image {image_id} has {len(ids)} track_ids for {count} annotations; "
                "give one id per annotation, in annotation order")
        return np.asarray(ids, dtype=np.int64)

    def instances(self, image_id: int) -> PanoInstances:
        """Decode the masks, classes, ranks and scores of one panorama."""
        record = self.record(image_id)
        anns = self._annotations.get(image_id, [])
        with_rank = sum("importance_rank" in a for a in anns)
        if 0 < with_rank < len(anns):
            raise DatasetError(
                f"{self.path}: image {image_id} ranks {with_rank} of {len(anns)} annotations; "
                "rank every object or none"
            )
        ranks = [a["importance_rank"] for a in anns] if with_rank else None
        scores = [a["importance_score"] for a in anns] if anns and all(
            "importance_score" in a for a in anns) else None
        confidences = [a["score"] for a in anns] if anns and all(
            "score" in a for a in anns) else None
        try:
            return PanoInstances.from_rle(
                [a["segmentation"] for a in anns], record.height, record.width,
                class_ids=np.array([a.get("category_id", 1) for a in anns], dtype=np.int64),
                ranks=ranks, scores=scores, class_scores=confidences,
            )
        except RankError as err:
            raise DatasetError(f"{self.path}: image {image_id}: {err}") from err


def annotations_for(
    record: ImageRecord, instances: PanoInstances, first_id: int
) -> list[dict]:
    """COCO annotation dicts for one panorama's instances, ids from ``first_id``."""
    anns = []
    for i, (rle, geom) in enumerate(zip(instances.to_rle(), instances.geometry, strict=True)):
        cols = np.flatnonzero(instances.masks[i].any(axis=0))  # no per-pixel index arrays
        _, y, _, h = geom.bbox_xywh  # the seam-aware box spans the same rows
        plain = [int(cols[0]), y, int(cols[-1] - cols[0] + 1), h] if cols.size else [0, 0, 0, 0]
        ann = {"id": first_id + i, "image_id": record.id,
               "category_id": int(instances.class_ids[i]), "iscrowd": 0,
               "segmentation": rle, "area": geom.area_px, "bbox": plain,
               "erp_bbox": list(geom.bbox_xywh)}
        if instances.ranks is not None:
            ann["importance_rank"] = int(instances.ranks[i])
        if instances.scores is not None:
            ann["importance_score"] = float(instances.scores[i])
        if instances.class_scores is not None:
            ann["score"] = round(float(instances.class_scores[i]), 4)
        anns.append(ann)
    return anns


def write_dataset(
    path: str | Path,
    entries: Iterable[tuple[ImageRecord, PanoInstances]],
    *,
    categories: list[dict] | None = None,
    info: dict | None = None,
) -> Path:
    """Encode instances and write a dataset JSON atomically."""
    images, annotations = [], []
    for record, instances in entries:
        if instances.image_size != (record.height, record.width):
            raise DatasetError(
                f"image {record.id}: masks are {instances.image_size} but the record says "
                f"{record.height}x{record.width}"
            )
        images.append(record.to_json())
        annotations.extend(annotations_for(record, instances, len(annotations) + 1))
    return write_dataset_json(path, images, annotations, categories=categories, info=info)


def write_dataset_json(
    path: str | Path,
    images: list[dict],
    annotations: list[dict],
    *,
    categories: list[dict] | None = None,
    info: dict | None = None,
) -> Path:
    """Write already-encoded image and annotation dicts in the dataset layout, atomically.

    For writers that keep encoded annotations between saves (the annotation tool), so
    masks are not re-encoded on every write; a crash never leaves a half-written file.
    """
    path = Path(path)
    data = {
        "info": {"foir360_format": FORMAT_VERSION, "rank_convention": "1 = most important",
                 **(info or {})},
        "licenses": [],
        "categories": categories or [DEFAULT_CATEGORY],
        "images": images,
        "annotations": annotations,
    }
    atomic_write_text(path, json.dumps(data, separators=(",", ":")))
    return path


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 text so that readers never see a half-written file."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
