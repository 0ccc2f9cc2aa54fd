"""``--segmenter SPEC``: one string names any segmenter.

* ``coco-centernet`` (default): the shipped COCO-80 detector, masks from its boxes;
* ``hf:<model id or folder>``: a Hugging Face transformers universal-segmentation model
  (Mask2Former, OneFormer, MaskFormer), instance or panoptic;
* ``MODEL.onnx`` or ``SPEC.yaml``: an ONNX export with one of the documented output
  contracts (:mod:`foir360_core.onnx.spec`);
* ``oracle:MASKS.json``: the true masks of a dataset file drawn into each view (tests).
"""

from __future__ import annotations

from pathlib import Path

from foir360_core.segmentation.base import SegmenterSpecError, ViewSegmenter

DEFAULT_SEGMENTER = "coco-centernet"
SPEC_HELP = ("coco-centernet (default), hf:<model id or folder>, a .onnx file, a .yaml adapter "
             "spec, or oracle:MASKS.json")


def build_segmenter(spec: str, *, threads: int | None = 1,
                    score_threshold: float | None = None) -> ViewSegmenter:
    """The segmenter ``spec`` names; :class:`SegmenterSpecError` (one line, with the fix)."""
    spec = spec.strip()
    if spec == "coco-centernet":
        try:
            from foir360_core.segmentation.detector import build_centernet_segmenter

            return build_centernet_segmenter(threads=threads, score_threshold=score_threshold)
        except (ImportError, FileNotFoundError) as err:
            raise SegmenterSpecError(
                f"coco-centernet is not usable here ({err}); reinstall foir360 (the detector "
                f"ships in the package) or choose another --segmenter: {SPEC_HELP}") from err
    if spec.startswith("oracle:"):
        from foir360_core.segmentation.oracle import OracleSegmenter

        return OracleSegmenter(spec.split(":", 1)[1])
    if spec.startswith("hf:"):
        from foir360_core.segmentation.hf import HfSegmenter

        return HfSegmenter(spec.split(":", 1)[1], threads=threads,
                           score_threshold=score_threshold)
    suffix = Path(spec).suffix.lower()
    if suffix in (".onnx", ".yaml", ".yml"):
        from foir360_core.segmentation.onnx_models import OnnxViewSegmenter

        return OnnxViewSegmenter.from_spec(spec, threads=threads,
                                           score_threshold=score_threshold)
    raise SegmenterSpecError(f"unknown segmenter {spec!r}; use {SPEC_HELP}")


def segmenter_fingerprint(segmenter: ViewSegmenter) -> str:
    """What identifies the segmenter's behaviour in the resume digest."""
    return str(getattr(segmenter, "fingerprint", segmenter.name))
