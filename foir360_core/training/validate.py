"""Validation pass: the runtime's own pre/post-processing, then the project's metrics.

Each validation panorama is preprocessed with ``prepare_input``, run through the model in
eval mode and turned into ranked instances with ``outputs_to_instances`` (exactly what
the runtime does). Predictions and ground truth are compared at the network input size
(ground-truth masks are area-resized; objects that vanish are dropped and ranks
re-compacted), which keeps validation fast at any dataset resolution.

Reported: instance recall (ground-truth objects matched by a prediction with mask IoU ≥
0.5, one-to-one via the Hungarian algorithm) and, per metrics profile (``foir360``,
``assr``, ...), the summaries of ``foir360_core.metrics.evaluate_many``.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from tqdm import tqdm

from foir360_core.io import Dataset, DatasetError
from foir360_core.metrics.matching import one_to_one_matches
from foir360_core.models.panorank import PanoRank
from foir360_core.models.postprocess import outputs_to_instances
from foir360_core.models.preprocess import prepare_input
from foir360_core.settings import POSTPROCESS_KEYS, RankerSettings, settings_from_mapping
from foir360_core.structures import PanoInstances
from foir360_core.training.data import resize_masks, target_instances

log = logging.getLogger(__name__)


def mask_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, H, W) × (m, H, W) bool → (n, m) IoU."""
    fa = a.reshape(len(a), -1).astype(np.float32)
    fb = b.reshape(len(b), -1).astype(np.float32)
    inter = fa @ fb.T
    union = fa.sum(1)[:, None] + fb.sum(1)[None] - inter
    return inter / np.maximum(union, 1.0)


def matched_count(gt: PanoInstances, pred: PanoInstances, iou: float = 0.5) -> int:
    """Ground-truth objects matched one-to-one by a prediction with IoU ≥ ``iou``."""
    if len(gt) == 0 or len(pred) == 0:
        return 0
    rows, _ = one_to_one_matches(mask_iou(gt.masks, pred.masks), iou)
    return len(rows)


def predict(
    model: PanoRank, image: np.ndarray, val_cfg: dict, device: torch.device
) -> PanoInstances:
    """Ranked instances at the model's input size for one RGB uint8 panorama."""
    x = torch.from_numpy(prepare_input(image, model.input_size)).to(device)
    with torch.no_grad():
        out = model(x, rank=True)
    outputs = {name: out[name][0].float().cpu().numpy() for name in model.output_names}
    return outputs_to_instances(
        outputs,
        rank_head=model.rank_type,
        out_size=model.input_size,
        **validation_settings(val_cfg).postprocess(),
    )


def validation_settings(val_cfg: dict) -> RankerSettings:
    """The ``RankerSettings`` the ``val`` section asks for (missing keys: the defaults)."""
    return settings_from_mapping(
        RankerSettings, {k: val_cfg[k] for k in POSTPROCESS_KEYS if k in val_cfg}, "val")


def ground_truth(dataset: Dataset, image_id: int, hw: tuple[int, int],
                 min_fraction: float = 0.0) -> PanoInstances:
    """Ranked ground truth resized to ``hw``; objects under ``min_fraction`` of the pixels
    (and vanished ones) dropped, ranks re-compacted (``data.target_instances``)."""
    inst = dataset.instances(image_id)
    masks = resize_masks(inst.masks, hw)
    keep = target_instances(masks, min_fraction)
    small = PanoInstances(masks=masks, class_ids=inst.class_ids, ranks=inst.ranks)
    return small.subset(keep)


def validate(
    model: PanoRank,
    dataset: Dataset,
    image_ids: list[int],
    val_cfg: dict,
    device: torch.device,
    *,
    progress: bool = True,
    min_fraction: float = 0.0,
) -> dict[str, float]:
    """Run the validation pass; returns flat ``name: value`` figures for logs.

    The targets are the teacher objects of at least ``min_fraction`` of the input's pixels,
    the same ones training asks for (``data.min_object_fraction``)."""
    was_training = model.training
    model.eval()
    samples: list[tuple[PanoInstances, PanoInstances]] = []
    gt_total = matched = rejected = 0
    limit = val_cfg.get("max_images")
    ids = image_ids[: int(limit)] if limit else image_ids
    for image_id in tqdm(ids, desc="validate", disable=not progress, leave=False):
        try:
            image = dataset.read_image(image_id)
            gt = ground_truth(dataset, image_id, model.input_size, min_fraction)
        except (DatasetError, OSError, ValueError) as exc:
            rejected += 1
            log.warning("validation skips image %s: %s", image_id, exc)
            continue
        if gt.ranks is None or len(gt) == 0:
            rejected += 1
            continue
        try:
            pred = predict(model, image, val_cfg, device)
        except ValueError as exc:  # a bad prediction costs one image, never the run
            rejected += 1
            log.warning("validation could not score image %s: %s", image_id, exc)
            continue
        gt_total += len(gt)
        matched += matched_count(gt, pred)
        samples.append((gt, pred))
    model.train(was_training)
    figures: dict[str, float] = {
        "val_images": float(len(samples)),
        "val_rejected": float(rejected),
        "instance_recall": matched / gt_total if gt_total else 0.0,
    }
    figures.update(_metric_figures(samples, list(val_cfg.get("profiles") or [])))
    return figures


def _metric_figures(samples: list, profiles: list[str]) -> dict[str, float]:
    """Every profile's numeric summary, from one shared pass over the masks."""
    if not samples or not profiles:
        return {}
    from foir360_core.metrics import evaluate_many

    figures = {}
    for profile, report in evaluate_many(samples, profiles).items():
        for key, value in report.summary.items():
            if isinstance(value, int | float):
                figures[f"{profile}/{key}"] = float(value)
    return figures
