"""Combine several annotators' rank files into one and measure how far they agree.

Each input is an output of ``foir360 annotate`` (the dataset format with ranks), usually
one per annotator or shard. A panorama ranked in one file is copied; one ranked in
several is merged with the local rank collector (Algorithm 1), each annotator's full order
being one equally weighted local list, ties going to the lower mean rank. Agreement is
Kendall's τ (``scipy.stats.kendalltau``) between two annotators' ranks of the same
objects, per panorama with at least two objects, averaged per annotator pair and overall.

Two files may only be compared on a panorama whose masks are identical in both (same
masks file); otherwise the later file's ranking is left out with a warning.
"""

from __future__ import annotations

import itertools
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

from foir360_core.io import Dataset, ImageRecord, write_dataset
from foir360_core.labeling.collector import LocalRanking, collect_local_ranks
from foir360_core.structures import PanoInstances

log = logging.getLogger(__name__)


@dataclass
class PairAgreement:
    """Kendall's τ between two annotators over the panoramas both ranked."""

    first: str
    second: str
    taus: dict[int, float] = field(default_factory=dict)

    @property
    def mean_tau(self) -> float | None:
        return float(np.mean(list(self.taus.values()))) if self.taus else None


@dataclass
class MergeReport:
    """What ``merge_annotations`` did: counts, agreement and every problem it set aside."""

    annotators: list[str]
    images: int = 0
    shared: int = 0
    pairs: list[PairAgreement] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def mean_tau(self) -> float | None:
        """Mean τ over every (pair, panorama) comparison; None when nothing overlapped."""
        taus = [t for pair in self.pairs for t in pair.taus.values()]
        return float(np.mean(taus)) if taus else None

    def to_json(self) -> dict:
        return {
            "annotators": self.annotators, "images": self.images, "shared": self.shared,
            "mean_kendall_tau": self.mean_tau,
            "pairs": [{"first": p.first, "second": p.second, "images": len(p.taus),
                       "mean_kendall_tau": p.mean_tau,
                       "per_image": {str(k): v for k, v in p.taus.items()}} for p in self.pairs],
            "warnings": self.warnings,
        }

    def lines(self) -> list[str]:
        """Human-readable summary for the command line."""
        out = [f"merged {self.images} panoramas from {len(self.annotators)} files "
               f"({', '.join(self.annotators)}); {self.shared} ranked by more than one"]
        for pair in self.pairs:
            tau = "n/a (no shared panorama with 2+ objects)" if pair.mean_tau is None \
                else f"{pair.mean_tau:.3f} over {len(pair.taus)} panoramas"
            out.append(f"  Kendall's tau {pair.first} vs {pair.second}: {tau}")
        if self.mean_tau is not None:
            out.append(f"  mean Kendall's tau: {self.mean_tau:.3f}")
        out.extend(f"  warning: {w}" for w in self.warnings)
        return out


def _annotator_names(datasets: list[Dataset]) -> list[str]:
    """The annotator recorded in each file, else the file's stem; made unique."""
    names: list[str] = []
    for ds in datasets:
        name = str(ds.info.get("annotate", {}).get("annotator") or ds.path.stem)
        names.append(name if name not in names else f"{name} ({ds.path.name})")
    return names


def _merged_ranks(rank_sets: list[np.ndarray]) -> np.ndarray:
    """Algorithm 1 over whole-panorama orders; ties to the lower mean rank."""
    lists = [LocalRanking(objects=np.argsort(r, kind="stable").tolist()) for r in rank_sets]
    prior = -np.mean(np.stack(rank_sets), axis=0)
    return collect_local_ranks(lists, rank_sets[0].size, prior=prior)


def merge_annotations(paths: list[str | Path], out: str | Path) -> MergeReport:
    """Merge annotators' files into ``out`` (dataset format with ranks); report agreement."""
    if len(paths) < 1:
        raise ValueError("annotate-merge needs at least one input file")
    out = Path(out)
    datasets = [Dataset.load(p, strict_erp=False) for p in paths]
    names = _annotator_names(datasets)
    report = MergeReport(annotators=names)
    pairs = {(a, b): PairAgreement(names[a], names[b])
             for a, b in itertools.combinations(range(len(datasets)), 2)}
    ids = [{r.id for r in ds.images} for ds in datasets]
    entries: list[tuple[ImageRecord, PanoInstances]] = []
    for image_id in sorted(set().union(*ids)):
        holders = [i for i, ds in enumerate(datasets)
                   if image_id in ids[i] and ds.has_ranks(image_id)]
        if not holders:
            continue
        base = holders[0]
        same = [i for i in holders if _same_masks(datasets[base], datasets[i], image_id)]
        for i in sorted(set(holders) - set(same)):
            report.warnings.append(
                f"panorama {image_id}: {names[i]}'s masks differ from {names[base]}'s; "
                f"{names[i]}'s ranking is left out")
        instances = datasets[base].instances(image_id)
        rank_sets = [datasets[i].instances(image_id).ranks for i in same]
        for a, b in itertools.combinations(same, 2):
            if instances.masks.shape[0] >= 2:
                pairs[(a, b)].taus[image_id] = float(kendalltau(rank_sets[same.index(a)],
                                                                rank_sets[same.index(b)]).statistic)
        ranks = rank_sets[0] if len(same) == 1 else _merged_ranks(rank_sets)
        report.shared += len(same) > 1
        entries.append((_record(datasets, same, image_id, names, out), instances.with_ranks(ranks)))
    report.pairs = list(pairs.values())
    report.images = len(entries)
    write_dataset(out, entries, categories=datasets[0].categories,
                  info={"annotate_merge": report.to_json()})
    return report


def _same_masks(first: Dataset, second: Dataset, image_id: int) -> bool:
    seg_a = [a["segmentation"] for a in first.annotations(image_id)]
    seg_b = [a["segmentation"] for a in second.annotations(image_id)]
    return seg_a == seg_b


def _record(datasets: list[Dataset], holders: list[int], image_id: int, names: list[str],
            out: Path) -> ImageRecord:
    """The merged panorama's entry: image path rebased onto the output's folder, and
    each annotator's own ``annotation`` record kept under ``annotations``."""
    base = datasets[holders[0]]
    record = base.record(image_id)
    path = base.image_path(image_id).resolve()
    try:
        file_name = os.path.relpath(path, out.resolve().parent)
    except ValueError:  # another drive on Windows
        file_name = str(path)
    extra = {k: v for k, v in record.extra.items() if k != "annotation"}
    extra["annotations"] = [
        {"annotator": names[i], **datasets[i].record(image_id).extra.get("annotation", {})}
        for i in holders]
    return ImageRecord(record.id, file_name, record.width, record.height, extra)
