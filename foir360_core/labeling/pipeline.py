"""One panorama → a global importance rank of all its objects (paper seed 000, Stages 1–2).

1. **LVRC** — one object-centred rectilinear view per object: centred on the mask's
   spherical centroid, field of view ``max(min_fov_deg, fov_to_contain(mask) with margin)``.
   An object takes part in a view when at least ``visibility`` of its solid angle lies inside
   the view (the view's own object always does) and it covers ``min_view_pixels`` there.
2. **LIE** — rank the view's top object by ``IMScore`` (Eq. 3) on the PLE-fused saliency of
   the current view, erase it (mask dilated by ``er`` px), re-evaluate, until all of the
   view's objects are ranked; ``topk`` objects per step for the Table 3 variant.
   *exact*: inpaint the erased objects at every step. *fast* (Eq. 4): inpaint all of the
   view's objects once into the null background ``ViewNU`` and, at each step, paste the
   still-unranked objects back over it (``Merge``). The first evaluation is on the plain
   view in both forms; a step never needs saliency when one object is left, so a view of k
   objects costs k − 1 saliency evaluations per model, and the fast form one inpainting call
   (none when k ≤ 2).
   Objects partly inside a view but below the visibility threshold are not ranked there and
   stay as scenery (they are never erased). In the exact form the still-unranked objects are
   hidden from the inpainter and kept as they are, so their colours never bleed into the
   hole left by an erased object (the fast form's ``ViewNU`` has no objects to bleed).
3. **LRC** — the local lists go to :func:`collector.collect` (Algorithm 1), with each
   object's solid angle as the tie-breaking prior. Each list carries the view's first-step
   scores, whose top-1/top-2 gap gives its Eq. 5 vote weight.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol

import cv2
import numpy as np

from foir360_core.geometry import ViewGeometry, erp_to_view, fov_to_contain, lonlat_to_vector
from foir360_core.geometry.erp import solid_angle_weights
from foir360_core.labeling.collector import LocalRanking, collect
from foir360_core.labeling.density import density_score, is_dense
from foir360_core.labeling.inpaint import Inpainter, inpaint_cropped
from foir360_core.labeling.saliency import SaliencyModel
from foir360_core.labeling.scoring import REDUCTIONS, fuse_and_score, minmax
from foir360_core.structures import PanoInstances

_VISIBILITY_SAMPLES = 2048


class LabelingError(ValueError):
    """A panorama cannot be labeled (no objects, masks that do not fit, …); says why."""


@dataclass(frozen=True)
class LabelConfig:
    """Every setting that changes the labels (hashed so resumed runs never mix settings)."""

    mode: str = "fast"
    topk: int = 1
    er: int = 10
    reduction: str = "sum"
    mean_x_lambda: float = 1.0
    view_size: int = 384
    min_fov_deg: float = 90.0
    fov_margin: float = 0.15
    visibility: float = 0.5
    min_view_pixels: int = 16
    decay: float = 0.5
    min_margin: float = 0.05

    def __post_init__(self) -> None:
        if self.mode not in ("fast", "exact"):
            raise ValueError(f"mode must be 'fast' or 'exact', got {self.mode!r}")
        if self.topk < 1:
            raise ValueError(f"topk must be >= 1, got {self.topk}")
        if self.er < 0:
            raise ValueError(f"the expansion rate er must be >= 0 px, got {self.er}")
        if self.reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {self.reduction!r}")
        if not 0.0 <= self.visibility <= 1.0:
            raise ValueError(f"visibility must be in [0, 1], got {self.visibility}")
        if self.view_size < 16:
            raise ValueError(f"view_size must be >= 16 px, got {self.view_size}")

    def to_json(self) -> dict:
        return asdict(self)

    def digest(self, models: Sequence[str] = ()) -> str:
        """Short hash of the settings and model names, for the resume file."""
        text = json.dumps({"config": self.to_json(), "models": list(models)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Counters:
    """Work done, for benchmarks and the output's ``extra``."""

    views: int = 0
    steps: int = 0
    saliency_calls: int = 0
    inpaint_calls: int = 0

    def add(self, other: Counters) -> None:
        for name in ("views", "steps", "saliency_calls", "inpaint_calls"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class ViewRecord:
    """One local view: its object, direction, field of view and local order."""

    target: int
    lon_deg: float
    lat_deg: float
    fov_deg: float
    ranking: LocalRanking

    def to_json(self) -> dict:
        return {"target": self.target, "lon_deg": round(self.lon_deg, 4),
                "lat_deg": round(self.lat_deg, 4), "fov_deg": round(self.fov_deg, 3),
                **self.ranking.to_json()}


@dataclass
class LabelResult:
    """Ranks (1 = most important) and win-rate scores of all objects, with the evidence."""

    ranks: np.ndarray
    scores: np.ndarray
    views: list[ViewRecord]
    density: float
    counters: Counters = field(default_factory=Counters)
    seconds: float = 0.0

    def extra(self) -> dict:
        """What the labeler writes into the image's ``extra`` (for inspection and tools)."""
        return {"density": round(self.density, 6), "dense": is_dense(self.density),
                "local_rankings": [v.to_json() for v in self.views],
                "labeling_stats": {**asdict(self.counters), "seconds": round(self.seconds, 3)}}


class DebugSink(Protocol):
    """Receives the intermediate images of one panorama (see ``labeling.debug``)."""

    def view(self, target: int, image: np.ndarray, masks: np.ndarray,
             objects: Sequence[int]) -> None: ...

    def background(self, target: int, image: np.ndarray) -> None: ...

    def step(self, target: int, step: int, *, image: np.ndarray, saliency: np.ndarray,
             masks: np.ndarray, objects: Sequence[int], picked: Sequence[int]) -> None: ...


class _PanoramaViews:
    """Per-panorama data shared by all views: object samples and mask channel groups.

    Masks are warped four at a time as 0/255 channels of one ``cv2.remap`` (the cached
    remap tables of ``foir360_core.geometry``) and thresholded at one half, which matches
    nearest-neighbour sampling up to sub-pixel corners while overlapping masks stay exact.
    """

    def __init__(self, image: np.ndarray, masks: np.ndarray) -> None:
        self.image = image
        self.masks = masks
        n, height, width = masks.shape
        self.groups: list[np.ndarray] = []
        for start in range(0, n, 4):
            chunk = masks[start : start + 4]
            group = np.zeros((height, width, chunk.shape[0]), dtype=np.uint8)
            for j, mask in enumerate(chunk):
                np.multiply(mask.view(np.uint8), 255, out=group[..., j])
            self.groups.append(group)
        self.samples = [self._samples(m) for m in masks]

    @staticmethod
    def _samples(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Up to ~2k unit vectors of the mask's pixels and their solid angles."""
        rows, cols = np.nonzero(mask)
        step = max(1, rows.size // _VISIBILITY_SAMPLES)
        rows, cols = rows[::step], cols[::step]
        height, width = mask.shape
        lon = (cols + 0.5) / width * 2.0 * np.pi - np.pi
        lat = np.pi / 2.0 - (rows + 0.5) / height * np.pi
        weights = solid_angle_weights(height, width)[rows, 0]
        return lonlat_to_vector(lon, lat), weights

    def visible_fraction(self, geom: ViewGeometry) -> np.ndarray:
        """Share of each object's solid angle inside the view's frustum."""
        basis = geom.basis()
        half_x = (geom.width / 2.0) / geom.focal_px
        half_y = (geom.height / 2.0) / geom.focal_px
        out = np.zeros(len(self.samples))
        for i, (vectors, weights) in enumerate(self.samples):
            if weights.size == 0:
                continue
            cam = vectors @ basis.T
            depth = np.maximum(cam[:, 0], 1e-12)
            inside = ((cam[:, 0] > 1e-9) & (np.abs(cam[:, 1] / depth) < half_x)
                      & (np.abs(cam[:, 2] / depth) < half_y))
            out[i] = weights[inside].sum() / weights.sum()
        return out

    def view_masks(self, objects: Sequence[int], geom: ViewGeometry) -> np.ndarray:
        """(k, h, w) bool view masks of the given objects."""
        out = np.zeros((len(objects), geom.height, geom.width), dtype=bool)
        by_group: dict[int, list[tuple[int, int]]] = {}
        for pos, obj in enumerate(objects):
            by_group.setdefault(obj // 4, []).append((pos, obj % 4))
        for group, members in by_group.items():
            warped = erp_to_view(self.groups[group], geom).reshape(geom.height, geom.width, -1)
            for pos, channel in members:
                out[pos] = warped[..., channel] >= 128
        return out


class PseudoLabeler:
    """Stage 1–2 pseudo-labels for panoramas, with pluggable saliency models and inpainter."""

    def __init__(
        self, saliency: Sequence[SaliencyModel], inpainter: Inpainter,
        config: LabelConfig | None = None,
    ) -> None:
        if not saliency:
            raise ValueError("give at least one saliency model")
        self.saliency = list(saliency)
        self.inpainter = inpainter
        self.config = config or LabelConfig()
        self.counters = Counters()
        kernel_size = 2 * self.config.er + 1
        self._kernel = (cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel_size, kernel_size))
                        if self.config.er > 0 else None)

    @property
    def model_names(self) -> list[str]:
        return [m.name for m in self.saliency] + [f"inpaint:{self.inpainter.name}"]

    def label(
        self, image: np.ndarray, instances: PanoInstances, *, debug: DebugSink | None = None,
    ) -> LabelResult:
        """Rank every object of one panorama; raises :class:`LabelingError` on bad input."""
        start = time.perf_counter()
        masks = instances.masks
        n = len(instances)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise LabelingError(f"image must be RGB uint8 (H, W, 3), got {image.dtype} "
                                f"{image.shape}")
        if n and masks.shape[1:] != image.shape[:2]:
            raise LabelingError(f"masks are {masks.shape[2]}x{masks.shape[1]} but the image is "
                                f"{image.shape[1]}x{image.shape[0]}; masks must be at image size")
        if n == 0:
            raise LabelingError("the panorama has no objects to rank")
        geometry = instances.geometry
        density = density_score(instances)
        if n == 1:
            return LabelResult(np.ones(1, dtype=np.int64), np.ones(1), [], density,
                               seconds=time.perf_counter() - start)
        counters = Counters()
        pano = _PanoramaViews(image, masks)
        views = []
        for target, geom_info in enumerate(geometry):
            if geom_info.area_px == 0:
                continue
            record = self._view(pano, target, geom_info.lon, geom_info.lat,
                                counters=counters, debug=debug)
            views.append(record)
        prior = np.array([g.solid_angle for g in geometry])
        result = collect([v.ranking for v in views], n, prior=prior, decay=self.config.decay,
                         min_margin=self.config.min_margin)
        self.counters.add(counters)
        return LabelResult(result.ranks, result.win_rate, views, density, counters,
                           time.perf_counter() - start)

    def _view(
        self, pano: _PanoramaViews, target: int, lon: float, lat: float, *,
        counters: Counters, debug: DebugSink | None,
    ) -> ViewRecord:
        c = self.config
        fov = max(c.min_fov_deg, fov_to_contain(pano.masks[target], lon, lat, margin=c.fov_margin))
        geom = ViewGeometry(lon, lat, fov, c.view_size, c.view_size)
        fraction = pano.visible_fraction(geom)
        fraction[target] = 1.0
        candidates = [int(i) for i in np.flatnonzero(fraction >= c.visibility)]
        view_masks = pano.view_masks(candidates, geom)
        keep = [k for k, obj in enumerate(candidates)
                if obj == target or view_masks[k].sum() >= c.min_view_pixels]
        objects = [int(candidates[k]) for k in keep]
        view_masks = view_masks[keep]
        view_image = erp_to_view(pano.image, geom)
        counters.views += 1
        if debug is not None:
            debug.view(target, view_image, view_masks, objects)
        order, first_scores = self._erase_and_rank(target, view_image, view_masks, objects,
                                                   counters=counters, debug=debug)
        scores = [first_scores.get(o, 0.0) for o in order] if first_scores else None
        return ViewRecord(target, float(np.degrees(lon)), float(np.degrees(lat)), fov,
                          LocalRanking(order, scores))

    def _evaluate(self, image: np.ndarray, masks: np.ndarray, counters: Counters):
        maps = [minmax(model(image)) for model in self.saliency]
        counters.saliency_calls += len(maps)
        counters.steps += 1
        scores, fused, _ = fuse_and_score(maps, masks, self.config.reduction,
                                          mean_x_lambda=self.config.mean_x_lambda)
        return scores, fused

    def _erase(
        self, image: np.ndarray, mask: np.ndarray, counters: Counters,
        protect: np.ndarray | None = None,
    ) -> np.ndarray:
        """Dilate by ER and inpaint; ``protect`` (still-unranked objects) neither changes nor
        feeds the fill."""
        if self._kernel is not None:
            mask = cv2.dilate(mask.astype(np.uint8), self._kernel).astype(bool)
        counters.inpaint_calls += 1
        return inpaint_cropped(self.inpainter, image, mask, exclude=protect)

    def _erase_and_rank(
        self, target: int, view: np.ndarray, masks: np.ndarray, objects: list[int], *,
        counters: Counters, debug: DebugSink | None,
    ) -> tuple[list[int], dict[int, float]]:
        """LIE: the view's local order, most important first, and first-step scores."""
        c = self.config
        remaining = list(range(len(objects)))  # positions into masks / objects
        order: list[int] = []
        first_scores: dict[int, float] = {}
        current = view
        null_background = None
        step = 0
        while len(remaining) >= 2:
            sub = masks[remaining]
            scores, fused = self._evaluate(current, sub, counters)
            if step == 0:
                first_scores = {objects[p]: float(s) for p, s in zip(remaining, scores,
                                                                       strict=True)}
            ids = np.array([objects[p] for p in remaining])
            ranked = np.lexsort((ids, -scores))[: c.topk]
            picked = [remaining[i] for i in ranked]
            if debug is not None:
                debug.step(target, step, image=current, saliency=fused, masks=sub,
                           objects=[objects[p] for p in remaining],
                           picked=[objects[p] for p in picked])
            order.extend(objects[p] for p in picked)
            remaining = [p for p in remaining if p not in picked]
            step += 1
            if len(remaining) < 2:
                break
            keep = masks[remaining].any(axis=0)
            if c.mode == "exact":
                current = self._erase(current, masks[picked].any(axis=0), counters, keep)
            else:
                if null_background is None:
                    null_background = self._erase(view, masks.any(axis=0), counters)
                    if debug is not None:
                        debug.background(target, null_background)
                current = np.where(keep[..., None], view, null_background)
        order.extend(objects[p] for p in remaining)
        return order, first_scores
