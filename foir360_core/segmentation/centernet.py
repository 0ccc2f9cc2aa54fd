"""The shipped COCO-80 detector: MobileNetV3-CenterNet, run with ONNX Runtime on any RGB image.

Why this model: it is small (4 MB of fp16 weights), MIT-licensed, runs on a CPU in tens of
milliseconds per 512x512 view, and its graph converts to plain ONNX ops from public files
(``tfjs_convert``), so the package can ship a real detector without a download. It is a
weak detector (COCO mAP about 0.25 upstream): good enough to find beds, couches, TVs, chairs,
people and cars in room and street views, not a replacement for a modern instance segmenter.

The network takes a 512x512 RGB image with raw 0..255 values and returns its 100 best
CenterNet peaks (x1, y1, x2, y2, score, class) without non-maximum suppression; the runner
resizes any image to 512x512 (stretching, as upstream does), maps the boxes back to the
image's pixels, keeps scores above a threshold and removes duplicates per class with
OpenCV's batched NMS.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from foir360_core.onnx import onnx_session

INPUT = "tower_0/images"
OUTPUT = "tower_0/detections"
INPUT_SIZE = 512
DETECTOR_FILE = "coco_centernet.onnx"

# The model's class order is COCO's 80-class list (checked on real views: 59 = bed, 62 = tv).
COCO_NAMES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack",
    "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball",
    "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket",
    "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair",
    "couch", "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse",
    "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush",
)


@dataclass(frozen=True)
class Detections:
    """Boxes of one image, best first."""

    boxes: np.ndarray  # (n, 4) float32 x1, y1, x2, y2 in the given image's pixels
    scores: np.ndarray  # (n,) float32, descending
    labels: np.ndarray  # (n,) int64 COCO-80 index into COCO_NAMES


def default_detector_path() -> Path:
    """The ONNX file shipped in ``foir360_core/assets/segmenters/``."""
    return Path(__file__).resolve().parent.parent / "assets" / "segmenters" / DETECTOR_FILE


def classwise_nms(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray,
                  iou: float) -> np.ndarray:
    """Indices kept by per-class NMS (OpenCV), best score first."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
    kept = np.asarray(cv2.dnn.NMSBoxesBatched(
        xywh.astype(np.float64), scores.astype(np.float32), labels.astype(np.int32),
        0.0, float(iou),
    ), dtype=np.int64).reshape(-1)
    return kept[np.argsort(-scores[kept], kind="stable")]


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array (H, W, 3) uint8 RGB, got {type(image)}")
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 RGB 0..255, got {image.dtype}; "
                         "convert with np.clip(x, 0, 255).astype(np.uint8)")
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) == 0:
        raise ValueError(f"image must be (H, W, 3) RGB with H, W > 0, got shape {image.shape}")


class CocoCenterNet:
    """COCO-80 boxes for any RGB image from the shipped (or a given) CenterNet ONNX."""

    name = "coco-centernet"

    def __init__(self, path: str | Path | None = None, *, threads: int | None = 1,
                 score_threshold: float = 0.25, nms_iou: float = 0.5) -> None:
        if not 0.0 <= score_threshold <= 1.0:
            raise ValueError(f"score_threshold must be in [0, 1], got {score_threshold}")
        if not 0.0 < nms_iou <= 1.0:
            raise ValueError(f"nms_iou must be in (0, 1], got {nms_iou}")
        self.path = Path(path) if path is not None else default_detector_path()
        if not self.path.is_file():
            raise FileNotFoundError(
                f"CenterNet ONNX not found: {self.path}; reinstall foir360 (it ships "
                f"{DETECTOR_FILE}) or rebuild it with `python -m "
                f"foir360_core.segmentation.tfjs_convert --out {self.path}`"
            )
        self.session = onnx_session(self.path, threads)
        inputs = [i.name for i in self.session.get_inputs()]
        outputs = [o.name for o in self.session.get_outputs()]
        if INPUT not in inputs or OUTPUT not in outputs:
            raise ValueError(
                f"{self.path} is not a CenterNet export: it needs input {INPUT!r} and output "
                f"{OUTPUT!r}, it has {inputs} -> {outputs}"
            )
        self.score_threshold = float(score_threshold)
        self.nms_iou = float(nms_iou)

    def detect(self, image_rgb: np.ndarray) -> Detections:
        """Boxes in ``image_rgb``'s pixels (clipped to it), scores descending, labels."""
        _check_image(image_rgb)
        height, width = image_rgb.shape[:2]
        shrink = height * width > INPUT_SIZE * INPUT_SIZE
        resized = cv2.resize(image_rgb, (INPUT_SIZE, INPUT_SIZE),
                             interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        raw = self.session.run([OUTPUT], {INPUT: resized[None].astype(np.float32)})[0][0]
        raw = raw[raw[:, 4] >= self.score_threshold]
        scale = np.array([width, height, width, height], np.float32) / INPUT_SIZE
        boxes = np.clip(raw[:, :4] * scale, 0.0, [width, height, width, height])
        scores, labels = raw[:, 4], raw[:, 5].astype(np.int64)
        kept = classwise_nms(boxes, scores, labels, self.nms_iou)
        return Detections(boxes=boxes[kept].astype(np.float32),
                          scores=scores[kept].astype(np.float32), labels=labels[kept])
