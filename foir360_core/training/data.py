"""Training data: ranked panoramas from a ``foir360 label`` dataset, with ERP-exact augmentation.

Images go through ``models.preprocess.prepare_input`` (the runtime's own preprocessing),
masks are resized to the network input. Augmentations respect the sphere:

* yaw roll: a circular shift of the columns *is* a rotation of the camera about its
  vertical axis, so it is exact (no resampling) and every object keeps its rank;
* horizontal flip: mirrors azimuth (lon → −lon), also exact for an ERP image;
* a mild brightness/contrast jitter.

Augmentation randomness comes from ``(seed, epoch, index)``, so a resumed run or another
worker count sees the same samples. Unreadable or unranked images are skipped, counted and
logged; they never stop a run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from foir360_core.geometry.rotation import tilt_image, tilt_maps
from foir360_core.io import Dataset, DatasetError
from foir360_core.models.preprocess import prepare_input

log = logging.getLogger(__name__)

# (input tensor, masks, class indices, ranks) of one panorama at network input size
Loaded = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass
class Sample:
    """One training panorama at network input size."""

    image: torch.Tensor  # (3, h, w) float32, normalised
    masks: torch.Tensor  # (n, h, w) float32 0/1
    classes: torch.Tensor  # (n,) int64, 0..C-1
    ranks: torch.Tensor  # (n,) int64, 1 = most important, unique
    image_id: int


def class_index_map(dataset: Dataset, class_names: list[str]) -> dict[int, int]:
    """Dataset category id → model class index (everything → 0 for a class-agnostic model)."""
    if len(class_names) == 1:
        return {int(c["id"]): 0 for c in dataset.categories}
    mapping = {}
    for cat in dataset.categories:
        if cat["name"] not in class_names:
            raise DatasetError(
                f"{dataset.path}: category {cat['name']!r} is not in model.class_names "
                f"{class_names}; add it to the config or use one class"
            )
        mapping[int(cat["id"])] = class_names.index(cat["name"])
    return mapping


def resize_masks(masks: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """(n, H, W) bool → (n, h, w) bool by area coverage ≥ 0.5 (no thin-object aliasing)."""
    h, w = hw
    if masks.shape[1:] == (h, w):
        return masks.astype(bool)
    out = np.empty((masks.shape[0], h, w), dtype=bool)
    for i, m in enumerate(masks):
        out[i] = cv2.resize(m.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) >= 0.5
    return out


def target_instances(masks: np.ndarray, min_fraction: float) -> np.ndarray:
    """Indices of the (n, h, w) input-size masks that are targets: non-empty and covering at
    least ``min_fraction`` of the pixels.

    Most teacher objects of a real panorama are a few pixels at network input size (people
    far away, book spines); their masks fall between mask-logit cells, so asking the model
    for them teaches it noise and scores every validation run on objects it cannot see.
    """
    pixels = masks.shape[-2] * masks.shape[-1]
    areas = masks.reshape(len(masks), pixels).sum(1)
    return np.flatnonzero(areas >= max(1.0, min_fraction * pixels))


def split_ids(dataset: Dataset, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Deterministic train/val split of the ranked images."""
    ids = sorted(r.id for r in dataset.images)
    if len(ids) < 2 or val_fraction <= 0:
        return ids, []
    order = np.random.default_rng(seed).permutation(len(ids))
    n_val = min(len(ids) - 1, max(1, round(val_fraction * len(ids))))
    val = sorted(ids[i] for i in order[:n_val])
    return sorted(set(ids) - set(val)), val


class RankedPanoramas(torch.utils.data.Dataset):
    """Torch dataset over the ranked images of a dataset file."""

    def __init__(
        self,
        dataset: Dataset,
        image_ids: list[int],
        *,
        input_size: tuple[int, int],
        class_names: list[str],
        augment: dict | None = None,
        seed: int = 0,
        cache: bool = False,
        min_object_fraction: float = 0.0,
    ) -> None:
        self.dataset = dataset
        self.cache = cache
        self.min_object_fraction = float(min_object_fraction)
        self._cache: dict[int, Loaded] = {}
        self._without_targets: set[int] = set()  # remembered: warned about once, never read
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.augment = augment or {}
        self.seed = seed
        self.epoch = 0
        self.class_map = class_index_map(dataset, class_names)
        self.ids = [i for i in image_ids if dataset.has_ranks(i)]
        self.skipped = len(image_ids) - len(self.ids)
        if self.skipped:
            log.warning(
                "%s: %d of %d images carry no importance ranks and are skipped (run "
                "`foir360 label` on them first)",
                dataset.path,
                self.skipped,
                len(image_ids),
            )

    def __len__(self) -> int:
        return len(self.ids)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int) -> Sample | None:
        loaded = self._load(self.ids[index])
        if loaded is None:
            return None
        x, masks, classes, ranks = loaded
        x, masks = self._augment(x, masks, index)
        return Sample(
            image=torch.from_numpy(np.ascontiguousarray(x)),
            masks=torch.from_numpy(np.ascontiguousarray(masks)).float(),
            classes=torch.from_numpy(classes),
            ranks=torch.from_numpy(ranks),
            image_id=int(self.ids[index]),
        )

    def _load(self, image_id: int) -> Loaded | None:
        """Input tensor, masks, classes and ranks at input size; kept in memory with ``cache``.

        Decoding a 2048×1024 photo and its full-size masks costs more than a CPU training
        step at 256×512, so a small real dataset is decoded once, not once per epoch.
        """
        if image_id in self._cache:
            return self._cache[image_id]
        if image_id in self._without_targets:
            return None
        try:
            inst = self.dataset.instances(image_id)
            masks = resize_masks(inst.masks, self.input_size)
            keep = target_instances(masks, self.min_object_fraction)
            if not keep.size:  # decided from the masks: the photo is never decoded
                self._without_targets.add(image_id)
                log.warning("skipping image %s for this run: no object reaches "
                            "data.min_object_fraction=%g of the input", image_id,
                            self.min_object_fraction)
                return None
            image = self.dataset.read_image(image_id)
        except (DatasetError, OSError, ValueError) as exc:
            log.warning("skipping image %s: %s", image_id, exc)
            return None
        x = prepare_input(image, self.input_size)[0]
        if keep.size < len(masks):
            inst = inst.subset(keep)  # re-compacts ranks to 1..k
            masks = masks[keep]
        classes = np.array([self.class_map.get(int(c), 0) for c in inst.class_ids], np.int64)
        loaded = (x, masks, classes, np.asarray(inst.ranks, np.int64))
        if self.cache:
            self._cache[image_id] = loaded
        return loaded

    def _augment(
        self, x: np.ndarray, masks: np.ndarray, index: int
    ) -> tuple[np.ndarray, np.ndarray]:
        if not self.augment:
            return x, masks
        rng = np.random.default_rng([self.seed, self.epoch, index])
        if self.augment.get("yaw_roll"):
            shift = int(rng.integers(x.shape[-1]))
            x, masks = np.roll(x, shift, axis=-1), np.roll(masks, shift, axis=-1)
        if rng.random() < float(self.augment.get("hflip", 0.0)):
            x, masks = x[..., ::-1], masks[..., ::-1]
        tilt = float(self.augment.get("tilt_degrees", 0.0))
        if tilt > 0:
            x, masks = _tilt(x, masks, *rng.uniform(-tilt, tilt, size=2))
        jitter = float(self.augment.get("color_jitter", 0.0))
        if jitter > 0:
            gain = 1.0 + rng.uniform(-jitter, jitter)
            bias = rng.uniform(-jitter, jitter)
            x = (x * gain + bias).astype(np.float32)
        return x, masks


def _tilt(x: np.ndarray, masks: np.ndarray, pitch: float, roll: float
          ) -> tuple[np.ndarray, np.ndarray]:
    """Rotate the sphere by ``pitch`` and ``roll`` degrees: image bilinear, masks nearest."""
    maps = tilt_maps(x.shape[1], x.shape[2], pitch, roll)
    image = tilt_image(np.ascontiguousarray(x.transpose(1, 2, 0)), maps).transpose(2, 0, 1)
    planes = [tilt_image(m.astype(np.uint8), maps, nearest=True) for m in masks]
    tilted = np.stack(planes).astype(bool) if planes else masks
    keep = tilted.reshape(len(tilted), -1).any(1)
    if not keep.all():  # an object rotated out of sight would leave a rank gap: keep the old
        return x, masks
    return np.ascontiguousarray(image), tilted


def collate(batch: list[Sample | None]) -> tuple[torch.Tensor, list[Sample]] | None:
    """Stack images; keep per-image targets as a list. Drops unreadable samples."""
    samples = [s for s in batch if s is not None]
    if not samples:
        return None
    return torch.stack([s.image for s in samples]), samples
