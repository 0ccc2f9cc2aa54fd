"""Dataset evaluation: per-image metrics for one or more profiles in a single pass.

Each image's masks are indexed once (boxes, areas, GT × prediction intersections) and
shared by every profile; each profile then paints its own rank maps and applies its own
rules. A bad sample never stops the run: it is named in ``problems`` and either skipped
(GT without ranks) or scored as an empty prediction (unusable prediction), which is what
the references do with a missing prediction.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from foir360_core.geometry import solid_angle_weights
from foir360_core.metrics import seqrank as sq
from foir360_core.metrics.mae import adaptive_mae, irsr_mae_sets, rank_map_mae
from foir360_core.metrics.masks import MaskSet
from foir360_core.metrics.profiles import Profile, get_profile
from foir360_core.metrics.rankmap import paint_masks, ranks_from_scores_with_ties
from foir360_core.metrics.sor import (
    float32_iou,
    gt_values,
    kendall_rule,
    normalised_sor,
    predicted_values,
    sa_sor_from_iou,
    sor_pairs,
    spearman_rule,
    value_histograms,
    weighted_iou,
)
from foir360_core.structures import PanoInstances

ALL_PROFILES = ("foir360", "assr", "irsr", "seqrank")
Row = dict[str, Any]


@dataclass
class EvaluationReport:
    """Dataset numbers (``summary``), one row per image (``per_image``) and named problems.

    ``summary`` (assr family): ``sor`` = (mean ρ over used images + 1) / 2, ``images_used``,
    ``sa_sor`` = mean over counted images (not normalised) and ``sa_sor_images``, ``mae`` and
    ``adaptive_mae`` = means over all images, ``n_images``; ``mae_irsr`` in ``irsr``; extras
    ``kendall_tau`` and ``*_sphere``. Seqrank: ``sor``, ``sa_sor``, ``mae`` as its
    ``aggregate`` prints them (NaN → 0, 4 decimals), ``*_nan_images`` = images counted as 0.
    A value is None when no image qualifies. ``per_image`` rows carry ``image``, ``n_gt``,
    ``n_pred`` and the per-image values (``rho`` = Spearman ρ or None when not used,
    ``sor`` = (ρ + 1) / 2 for plotting, ``sor_objects`` = GT objects that entered ρ).

    ``seconds`` is the time spent in this profile's own rules; ``shared_seconds`` the mask
    indexing and intersections that every profile shares.
    """

    profile: Profile
    summary: dict[str, float | int | None]
    per_image: list[Row]
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    shared_seconds: float = 0.0


class _Image:
    """One GT/prediction pair with the quantities several profiles share, computed once."""

    def __init__(self, name: str, gt: PanoInstances, pred: PanoInstances | None,
                 need_weights: bool) -> None:
        self.name = name
        self.need_weights = need_weights
        self.gt = MaskSet.build(gt.masks)
        self.gt_ranks = np.asarray(gt.ranks, dtype=np.int64)
        if pred is None or not len(pred):
            self.pred = MaskSet.build(np.zeros((0, *self.gt.shape), dtype=bool))
            self.pred_scores = np.zeros(0)
        else:
            self.pred = MaskSet.build(pred.masks)
            # A prediction's own ranks are its final order; scores only when it has none.
            self.pred_scores = (-pred.ranks.astype(np.float64) if pred.ranks is not None
                                else np.asarray(pred.scores, dtype=np.float64))
        self.pred_ranks = ranks_from_scores_with_ties(self.pred_scores)
        self.inter = self.gt.intersections(self.pred)
        self._cache: dict[Any, Any] = {}

    def cached(self, key: Any, compute) -> Any:
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    @property
    def row_weights(self) -> np.ndarray:
        return self.cached("w", lambda: solid_angle_weights(*self.gt.shape))

    def weighted(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(weighted intersections, weighted GT areas, weighted prediction areas)."""
        return self.cached("weighted", lambda: (
            self.gt.intersections(self.pred, self.row_weights),
            self.gt.weighted_areas(self.row_weights),
            self.pred.weighted_areas(self.row_weights),
        ))

    def pred_map(self, scheme: str) -> np.ndarray:
        return self.cached(("pred_map", scheme),
                           lambda: paint_masks(self.pred, self.pred_ranks, scheme))

    def histograms(self, scheme: str) -> tuple[np.ndarray, np.ndarray | None]:
        """(N, 256) gray counts of the GT masks on this scheme's prediction map, and the
        solid-angle-weighted sums when any profile reports the sphere-weighted extras."""
        return self.cached(("hist", scheme), lambda: value_histograms(
            self.gt, self.pred_map(scheme), self.row_weights if self.need_weights else None))

    def salient(self, top_k: int | None) -> np.ndarray:
        """Indices of the GT objects a profile treats as salient (annotation order kept)."""
        if top_k is None:
            return np.arange(len(self.gt))
        return np.flatnonzero(self.gt_ranks <= top_k)  # GT ranks are a permutation of 1..N

    def gt_map(self, scheme: str, top_k: int | None) -> np.ndarray:
        sel = self.salient(top_k)
        return self.cached(("gt_map", scheme, top_k), lambda: paint_masks(
            self.gt.subset(sel), self.gt_ranks[sel], scheme))

    def map_errors(self, scheme: str, top_k: int | None, extras: bool) -> dict[str, float]:
        """Rank-map MAE and adaptive MAE (and their sphere-weighted extras); profiles that
        paint the same maps (``foir360`` and ``irsr``) share them."""
        def compute() -> dict[str, float]:
            gt_map, pred_map = self.gt_map(scheme, top_k), self.pred_map(scheme)
            errors = {"mae": rank_map_mae(gt_map, pred_map),
                      "adaptive_mae": adaptive_mae(gt_map, pred_map)}
            if extras:
                errors["mae_sphere"] = rank_map_mae(gt_map, pred_map,
                                                    row_weights=self.row_weights)
                errors["adaptive_mae_sphere"] = adaptive_mae(gt_map, pred_map,
                                                             row_weights=self.row_weights)
            return errors
        return self.cached(("map_errors", scheme, top_k, extras), compute)


def _assr_family_row(image: _Image, profile: Profile) -> Row:
    sel = image.salient(profile.gt_top_k)
    ranks = image.gt_ranks[sel]
    errors = image.map_errors(profile.scheme, profile.gt_top_k, profile.extras)
    counts, sums = image.histograms(profile.scheme)
    pred_vals = predicted_values(counts[sel], image.gt.areas[sel], profile.coverage)
    pairs = sor_pairs(gt_values(ranks), pred_vals)
    rho = spearman_rule(pairs)
    iou = float32_iou(image.inter[sel], image.gt.areas[sel], image.pred.areas)
    row: Row = {
        "n_salient": int(sel.size),
        "sor_objects": int(pairs.gt.size),
        "rho": rho,
        "sor": None if rho is None else (rho + 1.0) / 2.0,
        "sa_sor": sa_sor_from_iou(iou, ranks, image.pred_scores, profile.iou),
        "mae": errors["mae"],
        "adaptive_mae": errors["adaptive_mae"],
    }
    if profile.irsr_mae:
        row["mae_irsr"] = irsr_mae_sets(image.gt.subset(sel), ranks, image.pred,
                                        image.pred_scores)
    if profile.extras:
        row["kendall_tau"] = kendall_rule(pairs)
        inter_w, gt_area_w, pred_area_w = image.weighted()
        pred_vals_w = predicted_values(sums[sel], gt_area_w[sel], profile.coverage)
        row["rho_sphere"] = spearman_rule(sor_pairs(gt_values(ranks), pred_vals_w))
        row["sa_sor_sphere"] = sa_sor_from_iou(
            weighted_iou(inter_w[sel], gt_area_w[sel], pred_area_w), ranks,
            image.pred_scores, profile.iou)
        row["mae_sphere"] = errors["mae_sphere"]
        row["adaptive_mae_sphere"] = errors["adaptive_mae_sphere"]
    return row


def _seqrank_row(image: _Image, profile: Profile) -> Row | None:
    if not len(image.gt):
        return None  # the reference returns no metrics for an image without GT objects
    gt_order = np.argsort(image.gt_ranks, kind="stable")
    pred_order = sq.predicted_order(image.pred_scores)
    iou = sq.seqrank_iou(image.inter[np.ix_(gt_order, pred_order)],
                         image.gt.areas[gt_order], image.pred.areas[pred_order])
    return {
        "sor": sq.sor_from_iou(iou, profile.iou),
        "sa_sor": sq.sa_sor_from_iou(iou, profile.iou),
        "mae": sq.mae_sets(image.gt, image.pred),
    }


def _used(values: Iterable[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def _mean(values: list[float]) -> float | None:
    """Plain ``sum / len`` like the references' final averages; None when nothing counts."""
    return sum(values) / len(values) if values else None


def _assr_family_summary(rows: list[Row], profile: Profile) -> dict[str, float | int | None]:
    rhos = _used(r["rho"] for r in rows)
    sa = _used(r["sa_sor"] for r in rows)
    summary: dict[str, float | int | None] = {
        "sor": normalised_sor(rhos),
        "images_used": len(rhos),
        "sa_sor": _mean(sa),
        "sa_sor_images": len(sa),
        "mae": _mean([r["mae"] for r in rows]),
        "adaptive_mae": _mean([r["adaptive_mae"] for r in rows]),
        "n_images": len(rows),
    }
    if profile.irsr_mae:
        summary["mae_irsr"] = _mean([r["mae_irsr"] for r in rows])
    if profile.extras:
        taus = _used(r["kendall_tau"] for r in rows)
        rhos_w = _used(r["rho_sphere"] for r in rows)
        summary.update({
            "kendall_tau": _mean(taus),
            "sor_sphere": normalised_sor(rhos_w),
            "images_used_sphere": len(rhos_w),
            "sa_sor_sphere": _mean(_used(r["sa_sor_sphere"] for r in rows)),
            "mae_sphere": _mean([r["mae_sphere"] for r in rows]),
            "adaptive_mae_sphere": _mean([r["adaptive_mae_sphere"] for r in rows]),
        })
    return summary


def _seqrank_summary(rows: list[Row]) -> dict[str, float | int | None]:
    return {
        "sor": sq.seqrank_aggregate([r["sor"] for r in rows]) if rows else None,
        "images_used": None,
        "sa_sor": sq.seqrank_aggregate([r["sa_sor"] for r in rows]) if rows else None,
        "mae": sq.seqrank_aggregate([r["mae"] for r in rows]) if rows else None,
        "adaptive_mae": None,
        "n_images": len(rows),
        "sor_nan_images": sum(math.isnan(r["sor"]) for r in rows),
        "sa_sor_nan_images": sum(math.isnan(r["sa_sor"]) for r in rows),
    }


def _prediction_problem(pred: Any, gt: PanoInstances) -> str | None:
    """Why a prediction cannot be scored as given (None when it can)."""
    if not isinstance(pred, PanoInstances):
        return f"prediction is {type(pred).__name__}, not PanoInstances"
    if not len(pred):
        return None
    if pred.image_size != gt.image_size:
        return (f"predicted masks are {pred.image_size} but the GT is {gt.image_size} "
                "(predict at image size)")
    if pred.ranks is None and pred.scores is None:
        return "prediction has masks but neither ranks nor scores"
    if pred.ranks is None and not np.all(np.isfinite(pred.scores)):
        return "prediction scores are not all finite"
    return None


def _check_sample(name: str, gt: Any, pred: Any, problems: list[str]
                  ) -> tuple[PanoInstances | None, PanoInstances | None]:
    """Validate one sample; returns (None, _) to skip it, or (gt, pred-or-None-for-empty)."""
    if isinstance(gt, PanoInstances) and not len(gt) and gt.ranks is None:
        # no objects (a dataset cannot mark them ranked): still scored, MAE counts every image
        gt = gt.with_ranks(np.zeros(0, dtype=np.int64))
    if not isinstance(gt, PanoInstances) or gt.ranks is None:
        problems.append(f"{name}: the GT carries no importance ranks; image skipped")
        return None, None
    if pred is None:
        return gt, None
    problem = _prediction_problem(pred, gt)
    if problem is not None:
        problems.append(f"{name}: {problem}; scored as an empty prediction")
        return gt, None
    return gt, pred


def _unpack(index: int, sample: Sequence[Any]) -> tuple[str, Any, Any]:
    if len(sample) == 3:
        return str(sample[0]), sample[1], sample[2]
    if len(sample) == 2:
        return str(index), sample[0], sample[1]
    raise ValueError(f"sample {index}: expected (gt, pred) or (name, gt, pred), "
                     f"got {len(sample)} items")


def evaluate_many(
    samples: Iterable[Sequence[Any]],
    profiles: Sequence[str | Profile] = ALL_PROFILES,
    *,
    coverage: float | None = None,
    iou: float | None = None,
    progress: bool = False,
    total: int | None = None,
) -> dict[str, EvaluationReport]:
    """Evaluate every profile over ``samples`` in one pass; reports keyed by profile name.

    ``samples`` yields ``(gt, pred)`` or ``(name, gt, pred)``: ``gt`` a ``PanoInstances``
    with ranks, ``pred`` one with ranks or scores, or None for an empty prediction. It may
    be a generator, so a large set is never held in memory. A prediction's ranks, when it
    has them, define its order (its scores otherwise; tied scores stay tied, as in the
    references). ``coverage`` / ``iou`` override every profile's thresholds.
    """
    chosen = [get_profile(p, coverage=coverage, iou=iou) for p in profiles]
    names = [p.name for p in chosen]
    if len(set(names)) != len(names):
        raise ValueError(f"profile names must be distinct, got {names}")
    need_weights = any(p.extras for p in chosen)
    rows: dict[str, list[Row]] = {p.name: [] for p in chosen}
    seconds = dict.fromkeys(names, 0.0)
    problems: list[str] = []
    shared = 0.0
    iterator: Iterable[Sequence[Any]] = samples
    if progress:
        from tqdm import tqdm

        iterator = tqdm(samples, total=total, desc="evaluating", unit="image")
    for index, sample in enumerate(iterator):
        name, gt, pred = _unpack(index, sample)
        gt, pred = _check_sample(name, gt, pred, problems)
        if gt is None:
            continue
        start = time.perf_counter()
        image = _Image(name, gt, pred, need_weights)
        shared += time.perf_counter() - start
        for profile in chosen:
            start = time.perf_counter()
            row = (_assr_family_row(image, profile) if profile.family == "assr"
                   else _seqrank_row(image, profile))
            seconds[profile.name] += time.perf_counter() - start
            if row is not None:
                rows[profile.name].append(
                    {"image": name, "n_gt": len(image.gt), "n_pred": len(image.pred), **row})
    reports = {}
    for profile in chosen:
        profile_rows = rows[profile.name]
        summary = (_assr_family_summary(profile_rows, profile) if profile.family == "assr"
                   else _seqrank_summary(profile_rows))
        reports[profile.name] = EvaluationReport(profile, summary, profile_rows, problems,
                                                 seconds[profile.name], shared)
    return reports


def evaluate(
    samples: Iterable[Sequence[Any]],
    profile: str | Profile = "foir360",
    *,
    coverage: float | None = None,
    iou: float | None = None,
    progress: bool = False,
    total: int | None = None,
) -> EvaluationReport:
    """Evaluate one profile (see ``evaluate_many`` for ``samples``)."""
    chosen = get_profile(profile, coverage=coverage, iou=iou)
    return evaluate_many(samples, [chosen], progress=progress, total=total)[chosen.name]


EXTRA_KEYS = ("kendall_tau", "sor_sphere", "images_used_sphere", "sa_sor_sphere", "mae_sphere",
              "adaptive_mae_sphere")


def _format(value: float | int | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def summary_table(reports: dict[str, EvaluationReport]) -> str:
    """Plain-text table: one column per profile, reference metrics first, extras below."""
    keys: list[str] = []
    for report in reports.values():
        keys.extend(k for k in report.summary if k not in keys)
    main = [k for k in keys if k not in EXTRA_KEYS]
    extra = [k for k in keys if k in EXTRA_KEYS]
    width = max(len(k) for k in keys)
    header = f"{'metric':<{width}}  " + "  ".join(f"{name:>10}" for name in reports)
    lines = [header, "-" * len(header)]

    def add(rows: list[str]) -> None:
        for key in rows:
            cells = "  ".join(f"{_format(r.summary.get(key)):>10}" for r in reports.values())
            lines.append(f"{key:<{width}}  {cells}")

    add(main)
    if extra:
        lines.append("extra metrics (not in the reference evaluators):")
        add(extra)
    thresholds = "; ".join(
        f"{name}: coverage {r.profile.coverage}, IoU {r.profile.iou}" if r.profile.family == "assr"
        else f"{name}: IoU > {r.profile.iou}" for name, r in reports.items())
    lines.append(f"thresholds: {thresholds}")
    return "\n".join(lines)
