"""``hf:<model id or folder>``: Hugging Face transformers universal segmentation per view.

Mask2Former, MaskFormer and OneFormer checkpoints (``AutoModelForUniversalSegmentation``
and the checkpoint's own image processor), loaded from a local folder or downloaded from
the Hub by id (``HF_HOME`` caches it). A model id or folder whose name contains
``panoptic`` is post-processed as panoptic, anything else as instance segmentation. Runs
on CUDA when PyTorch sees a GPU. Needs ``pip install "foir360[hf]"``.
"""

from __future__ import annotations

import numpy as np

from foir360_core.segmentation.base import SegmenterSpecError, ViewContext, ViewInstances

SCORE_THRESHOLD = 0.5


class HfSegmenter:
    """A transformers universal-segmentation model run on each view."""

    def __init__(self, source: str, *, threads: int | None = 1,
                 score_threshold: float | None = None) -> None:
        try:
            import torch
            import transformers
        except ImportError as err:
            raise SegmenterSpecError(f"hf: segmenters need PyTorch and transformers ({err}); "
                                     "install them with: pip install 'foir360[hf]'") from err
        self.torch = torch
        if threads:
            self.torch.set_num_threads(int(threads))
        try:
            self.processor = transformers.AutoImageProcessor.from_pretrained(source)
            model = transformers.AutoModelForUniversalSegmentation.from_pretrained(source)
        except (OSError, ValueError, KeyError) as err:
            raise SegmenterSpecError(
                f"hf:{source}: cannot load a universal-segmentation model ({err}); give a "
                "Mask2Former/MaskFormer/OneFormer model id or a folder saved with "
                "save_pretrained()") from err
        self.device = "cuda" if self.torch.cuda.is_available() else "cpu"
        self.model = model.eval().to(self.device)
        labels = model.config.id2label
        self.class_names = tuple(str(labels[i]) for i in range(len(labels)))
        self.task = "panoptic" if "panoptic" in source.lower() else "instance"
        self.score_threshold = SCORE_THRESHOLD if score_threshold is None else score_threshold
        self.name = f"hf:{source}"
        self.fingerprint = f"{self.name}:{self.task}:{self.score_threshold}"

    def segment(self, view_rgb: np.ndarray, context: ViewContext) -> ViewInstances:
        height, width = view_rgb.shape[:2]
        extra = {"task_inputs": [self.task]} if self.model.config.model_type == "oneformer" \
            else {}
        inputs = self.processor(images=view_rgb, return_tensors="pt", **extra).to(self.device)
        with self.torch.inference_mode():
            outputs = self.model(**inputs)
        post = getattr(self.processor, f"post_process_{self.task}_segmentation")
        result = post(outputs, threshold=self.score_threshold, target_sizes=[(height, width)])[0]
        segmentation = result["segmentation"].cpu().numpy()
        infos = [s for s in result["segments_info"] if (segmentation == s["id"]).any()]
        if not infos:
            return ViewInstances.empty(height, width)
        masks = np.stack([segmentation == s["id"] for s in infos])
        return ViewInstances(masks, [s["score"] for s in infos], [s["label_id"] for s in infos])
