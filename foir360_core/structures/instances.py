"""``PanoInstances``: every object of one panorama, with its importance rank.

Ranks follow the package-wide convention: 1 = most important, unique, 1..N. Scores are
"higher = more important" and optional. Derived geometry (spherical centre, seam-aware
box, extent, solid angle) is computed on demand from the masks and cached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from foir360_core.geometry import MaskGeometry, mask_geometry
from foir360_core.structures.rle import decode_rle, encode_masks


class RankError(ValueError):
    """Ranks are not a permutation of 1..N."""


def check_ranks(ranks: np.ndarray) -> None:
    """Raise ``RankError`` unless ``ranks`` is exactly a permutation of 1..N."""
    ranks = np.asarray(ranks)
    expected = np.arange(1, ranks.size + 1)
    if not np.array_equal(np.sort(ranks), expected):
        values, counts = np.unique(ranks, return_counts=True)
        dupes = values[counts > 1].tolist()
        missing = sorted(set(expected.tolist()) - set(values.tolist()))
        raise RankError(
            f"ranks must be unique and cover 1..{ranks.size} (1 = most important); "
            f"duplicates {dupes}, missing {missing}"
        )


def ranks_from_scores(scores: np.ndarray) -> np.ndarray:
    """Unique ranks from scores (higher = more important); ties go to the lower index."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    ranks = np.empty(order.size, dtype=np.int64)
    ranks[order] = np.arange(1, order.size + 1)
    return ranks


@dataclass
class PanoInstances:
    """Instances of one ERP panorama of ``height`` × ``width`` pixels.

    ``masks`` is (N, H, W) bool. ``ranks`` (N,) int or None when unranked. ``scores`` (N,)
    float importance (higher = more important) or None. ``class_ids`` (N,) int.
    """

    masks: np.ndarray
    class_ids: np.ndarray = field(default=None)  # type: ignore[assignment]
    ranks: np.ndarray | None = None
    scores: np.ndarray | None = None
    class_scores: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.masks = np.asarray(self.masks, dtype=bool)
        if self.masks.ndim != 3:
            raise ValueError(f"masks must be (N, H, W), got shape {self.masks.shape}")
        n = self.masks.shape[0]
        if self.class_ids is None:
            self.class_ids = np.zeros(n, dtype=np.int64)
        self.class_ids = np.asarray(self.class_ids, dtype=np.int64).reshape(-1)
        for name in ("ranks", "scores", "class_scores"):
            value = getattr(self, name)
            if value is not None:
                dtype = np.int64 if name == "ranks" else np.float64
                setattr(self, name, np.asarray(value, dtype=dtype).reshape(-1))
        for name in ("class_ids", "ranks", "scores", "class_scores"):
            value = getattr(self, name)
            if value is not None and value.size != n:
                raise ValueError(f"{name} has {value.size} entries for {n} masks")
        if self.ranks is not None:
            check_ranks(self.ranks)

    def __len__(self) -> int:
        return int(self.masks.shape[0])

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) of the panorama the masks live on."""
        return int(self.masks.shape[1]), int(self.masks.shape[2])

    @cached_property
    def geometry(self) -> list[MaskGeometry]:
        """Spherical centre, seam-aware box, extent and solid angle of each mask."""
        return mask_geometry(self.masks) if len(self) else []

    def with_ranks(self, ranks: np.ndarray, scores: np.ndarray | None = None) -> PanoInstances:
        """A copy carrying new ranks (and optionally scores)."""
        return PanoInstances(
            masks=self.masks,
            class_ids=self.class_ids,
            ranks=ranks,
            scores=self.scores if scores is None else scores,
            class_scores=self.class_scores,
        )

    def sorted_by_rank(self) -> PanoInstances:
        """A copy ordered rank 1 first (requires ranks)."""
        if self.ranks is None:
            raise RankError("these instances carry no ranks")
        order = np.argsort(self.ranks, kind="stable")
        return self.subset(order)

    def subset(self, index: np.ndarray) -> PanoInstances:
        """A copy of the selected instances; ranks are re-compacted to 1..k in order."""
        index = np.asarray(index)
        ranks = None
        if self.ranks is not None:
            ranks = np.argsort(np.argsort(self.ranks[index], kind="stable"), kind="stable") + 1
        return PanoInstances(
            masks=self.masks[index],
            class_ids=self.class_ids[index],
            ranks=ranks,
            scores=None if self.scores is None else self.scores[index],
            class_scores=None if self.class_scores is None else self.class_scores[index],
        )

    def to_rle(self) -> list[dict]:
        """COCO RLE of each mask (lossless)."""
        return encode_masks(self.masks)

    @classmethod
    def from_rle(cls, rles: list[dict], height: int, width: int, **fields) -> PanoInstances:
        """Rebuild from COCO RLEs; an empty list gives an empty (0, H, W) container."""
        masks = decode_rle(rles) if rles else np.zeros((0, height, width), dtype=bool)
        if masks.shape[1:] != (height, width):
            raise ValueError(f"RLE size {masks.shape[1:]} does not match image {height}x{width}")
        return cls(masks=masks, **fields)
