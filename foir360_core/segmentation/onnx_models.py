"""ONNX instance segmenters with the documented output contracts (:mod:`foir360_core.onnx.spec`):
YOLO-seg (detections + prototype masks), Mask R-CNN (boxes, labels, scores, masks) and
Mask2Former (class and mask logits per query). Each runs on one rectilinear view."""

from __future__ import annotations

import cv2
import numpy as np

from foir360_core.onnx import onnx_session, pick_name
from foir360_core.onnx.spec import OnnxSpec, SpecError, image_to_tensor, load_spec
from foir360_core.segmentation.base import SegmenterSpecError, ViewContext, ViewInstances

ROLES = {"yolo-seg": ("detections", "protos"),
         "maskrcnn": ("labels", "scores", "masks"),
         "mask2former": ("class_logits", "mask_logits")}
NMS_IOU = 0.5


def coco_names() -> tuple[str, ...]:
    from foir360_core.segmentation.centernet import COCO_NAMES

    return tuple(COCO_NAMES)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


def infer_format(outputs: list) -> str:
    """The contract of a bare ``.onnx`` file, from its output names and ranks."""
    names = {o.name for o in outputs}
    if {"labels", "scores", "masks"} <= names:
        return "maskrcnn"
    if len(outputs) == 2:
        ranks = sorted(outputs, key=lambda o: len(o.shape))
        if [len(o.shape) for o in ranks] == [3, 4]:
            q3, q4 = ranks[0].shape[1], ranks[1].shape[1]
            return "mask2former" if q3 == q4 else "yolo-seg"
    raise SpecError("cannot tell the output contract of this .onnx file; write a .yaml spec "
                    "with output.format (see the adapter spec schema in the README)")


class OnnxViewSegmenter:
    """A user's ONNX instance segmenter run on each view."""

    def __init__(self, spec: OnnxSpec, threads: int | None = 1,
                 score_threshold: float | None = None) -> None:
        self.spec = spec
        self.name = spec.name
        self.score_threshold = spec.score_threshold if score_threshold is None \
            else score_threshold
        self._session = onnx_session(spec.model, threads)
        where = str(spec.model)
        self._input = pick_name([i.name for i in self._session.get_inputs()], spec.input.name,
                                "input", where)
        outputs = self._session.get_outputs()
        self.format = spec.output.format or infer_format(outputs)
        available = [o.name for o in outputs]
        self._roles = {}
        for role in ROLES[self.format]:
            wanted = spec.output.names.get(role, role if role in available else None)
            if wanted is None and self.format != "maskrcnn":
                wanted = self._by_rank(outputs, role)
            self._roles[role] = pick_name(available, wanted, f"{role} output", where)
        if self.format == "maskrcnn" and ("boxes" in available or "boxes" in spec.output.names):
            self._roles["boxes"] = spec.output.names.get("boxes", "boxes")
        self.class_names = coco_names() if spec.classes == "coco" else tuple(spec.classes)
        self.fingerprint = f"onnx:{spec.describe()}:{self.score_threshold}"

    def _by_rank(self, outputs, role: str) -> str | None:
        """yolo-seg / mask2former: the 3-D tensor is the first role, the 4-D one the second."""
        rank = 3 if role in ("detections", "class_logits") else 4
        found = [o.name for o in outputs if len(o.shape) == rank]
        return found[0] if len(found) == 1 else None

    @classmethod
    def from_spec(cls, spec: str, *, threads: int | None = 1,
                  score_threshold: float | None = None) -> OnnxViewSegmenter:
        try:
            return cls(load_spec(spec, "segmenter"), threads, score_threshold)
        except (SpecError, FileNotFoundError) as err:
            raise SegmenterSpecError(str(err)) from err
        except ValueError as err:  # onnx_session / pick_name
            raise SegmenterSpecError(f"{spec}: {err}") from err

    def segment(self, view_rgb: np.ndarray, context: ViewContext) -> ViewInstances:
        i = self.spec.input
        x = image_to_tensor(view_rgb, i.size, channel_order=i.channel_order, layout=i.layout,
                            scale=i.scale, mean=i.mean, std=i.std)
        names = list(self._roles.values())
        got = dict(zip(self._roles, self._session.run(names, {self._input: x}), strict=True))
        decode = {"yolo-seg": self._yolo, "maskrcnn": self._maskrcnn,
                  "mask2former": self._mask2former}[self.format]
        masks, scores, labels, boxes = decode(got)
        height, width = view_rgb.shape[:2]
        if len(masks) == 0:
            return ViewInstances.empty(height, width)
        full = np.stack([cv2.resize(m.astype(np.float32), (width, height),
                                    interpolation=cv2.INTER_LINEAR) >= self.spec.mask_threshold
                         for m in masks])
        if boxes is not None:
            boxes = boxes * np.array([width / i.size[1], height / i.size[0]] * 2, np.float32)
        keep = full.reshape(len(full), -1).any(axis=1)
        if labels.size and labels.max() >= len(self.class_names):
            raise ValueError(f"{self.spec.model}: class index {labels.max()} but only "
                             f"{len(self.class_names)} classes; set 'classes' in the spec")
        return ViewInstances(full[keep], scores[keep], labels[keep],
                             None if boxes is None else boxes[keep])

    def _yolo(self, got: dict):
        protos = np.asarray(got["protos"], np.float32)[0]
        pred = np.asarray(got["detections"], np.float32)[0].T  # (A, 4 + C + M)
        nm = protos.shape[0]
        nc = pred.shape[1] - 4 - nm
        cls = pred[:, 4:4 + nc]
        labels = cls.argmax(1)
        scores = cls[np.arange(len(pred)), labels]
        keep = scores >= self.score_threshold
        pred, labels, scores = pred[keep], labels[keep], scores[keep]
        cx, cy, w, h = pred[:, 0], pred[:, 1], pred[:, 2], pred[:, 3]
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
        index = cv2.dnn.NMSBoxesBatched(
            [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in boxes],
            scores.tolist(), labels.tolist(), self.score_threshold, NMS_IOU) if len(boxes) else []
        index = np.asarray(index, np.int64).reshape(-1)
        in_h, in_w = self.spec.input.size
        mh, mw = protos.shape[1:]
        masks = _sigmoid(pred[index, 4 + nc:] @ protos.reshape(nm, -1)).reshape(-1, mh, mw)
        out = []
        for mask, box in zip(masks, boxes[index], strict=True):
            up = cv2.resize(mask, (in_w, in_h), interpolation=cv2.INTER_LINEAR)
            inside = np.zeros_like(up)
            x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
            x2, y2 = min(in_w, int(np.ceil(box[2]))), min(in_h, int(np.ceil(box[3])))
            inside[y1:y2, x1:x2] = up[y1:y2, x1:x2]
            out.append(inside)
        masks = np.stack(out) if out else np.zeros((0, in_h, in_w), np.float32)
        return masks, scores[index], labels[index], boxes[index]

    def _maskrcnn(self, got: dict):
        scores = np.asarray(got["scores"], np.float32).reshape(-1)
        labels = np.asarray(got["labels"]).reshape(-1).astype(np.int64) - \
            self.spec.output.label_offset
        masks = np.asarray(got["masks"], np.float32)
        if masks.ndim == 4 and masks.shape[1] == 1 and masks.shape[0] == scores.size:
            masks = masks[:, 0]
        elif masks.ndim == 4 and masks.shape[0] == 1:
            masks = masks[0]
        boxes = np.asarray(got["boxes"], np.float32).reshape(-1, 4) if "boxes" in got else None
        if masks.ndim != 3 or masks.shape[0] != scores.size or labels.size != scores.size:
            raise ValueError(f"{self.spec.model}: masks {masks.shape}, scores {scores.shape} and "
                             f"labels {labels.shape} do not describe the same detections")
        if self.spec.output.sigmoid:
            masks = _sigmoid(masks)
        keep = (scores >= self.score_threshold) & (labels >= 0)
        return masks[keep], scores[keep], labels[keep], None if boxes is None else boxes[keep]

    def _mask2former(self, got: dict):
        logits = np.asarray(got["class_logits"], np.float32)[0]
        probs = np.exp(logits - logits.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        labels = probs[:, :-1].argmax(1)
        cls_scores = probs[np.arange(len(probs)), labels]
        masks = _sigmoid(np.asarray(got["mask_logits"], np.float32)[0])
        binary = masks > 0.5
        quality = (masks * binary).reshape(len(masks), -1).sum(1) / np.maximum(
            binary.reshape(len(masks), -1).sum(1), 1)
        scores = cls_scores * quality
        keep = (scores >= self.score_threshold) & binary.reshape(len(masks), -1).any(1)
        return masks[keep], scores[keep], labels[keep], None
