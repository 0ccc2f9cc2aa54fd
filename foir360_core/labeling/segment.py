"""Instance masks for the pipeline: from a dataset file (the normal case) or an ONNX segmenter.

360Rank-style data ships its masks, so the labeler usually reads them with
``foir360_core.io.Dataset``. For raw panoramas, :class:`OnnxSegmenter` runs a user-exported
instance-segmentation network (MaskDINO, Mask2Former, YOLO-seg … exported to ONNX) on the
whole ERP image and returns :class:`PanoInstances` at image size. No weights are downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from foir360_core.labeling.saliency import image_to_tensor
from foir360_core.onnx import onnx_session, pick_name
from foir360_core.structures import PanoInstances


@runtime_checkable
class Segmenter(Protocol):
    """Finds the object instances of a panorama."""

    name: str

    def __call__(self, image_rgb: np.ndarray) -> PanoInstances:
        """RGB uint8 (H, W, 3) → instances with (N, H, W) masks (no ranks)."""
        ...


@dataclass(frozen=True)
class OnnxSegmenterConfig:
    """Tensor names and post-processing of a user's ONNX instance segmenter.

    Outputs: ``masks`` (N, h, w) or (1, N, h, w) probabilities (or logits with
    ``mask_logits``), ``scores`` (N,) or (1, N), optional ``labels`` (N,) or (1, N) class ids.
    Masks are resized to the panorama and thresholded at ``mask_threshold``; detections
    under ``score_threshold`` or with empty masks are dropped. ``class_offset`` is added to
    the labels (e.g. 1 for 0-based networks and 1-based dataset categories).
    """

    path: str
    input_name: str | None = None
    masks_output: str = "masks"
    scores_output: str = "scores"
    labels_output: str | None = "labels"
    input_size: tuple[int, int] = (512, 1024)
    channel_order: str = "RGB"
    scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    score_threshold: float = 0.5
    mask_threshold: float = 0.5
    mask_logits: bool = False
    class_offset: int = 1
    name: str = "onnx_segmenter"


class OnnxSegmenter:
    """Adapter for a user-supplied ONNX instance-segmentation model."""

    def __init__(self, config: OnnxSegmenterConfig, threads: int = 1) -> None:
        self.config = config
        self.name = config.name
        self._session = onnx_session(config.path, threads)
        self._input = pick_name([i.name for i in self._session.get_inputs()],
                                config.input_name, "input", config.path)
        outputs = [o.name for o in self._session.get_outputs()]
        self._outputs = [pick_name(outputs, config.masks_output, "output", config.path),
                         pick_name(outputs, config.scores_output, "output", config.path)]
        if config.labels_output is not None:
            self._outputs.append(pick_name(outputs, config.labels_output, "output", config.path))

    def __call__(self, image_rgb: np.ndarray) -> PanoInstances:
        c = self.config
        height, width = image_rgb.shape[:2]
        x = image_to_tensor(image_rgb, c.input_size, channel_order=c.channel_order,
                            layout="NCHW", scale=c.scale, mean=c.mean, std=c.std)
        results = self._session.run(self._outputs, {self._input: x})
        masks = np.asarray(results[0], dtype=np.float32)
        if masks.ndim == 4 and masks.shape[0] == 1:
            masks = masks[0]
        scores = np.asarray(results[1], dtype=np.float64).reshape(-1)
        labels = (np.asarray(results[2]).reshape(-1).astype(np.int64) if len(results) > 2
                  else np.zeros(scores.size, dtype=np.int64))
        if masks.ndim != 3 or masks.shape[0] != scores.size or labels.size != scores.size:
            raise ValueError(f"{c.path}: masks {masks.shape}, scores {scores.shape} and labels "
                             f"{labels.shape} do not describe the same N detections")
        if c.mask_logits:
            masks = 1.0 / (1.0 + np.exp(-masks))
        keep = np.flatnonzero(scores >= c.score_threshold)
        full = [cv2.resize(masks[i], (width, height), interpolation=cv2.INTER_LINEAR)
                >= c.mask_threshold for i in keep]
        nonempty = [k for k, m in enumerate(full) if m.any()]
        stack = (np.stack([full[k] for k in nonempty]) if nonempty
                 else np.zeros((0, height, width), dtype=bool))
        chosen = keep[nonempty]
        return PanoInstances(masks=stack, class_ids=labels[chosen] + c.class_offset,
                             class_scores=scores[chosen])
