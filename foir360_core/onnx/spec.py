"""The adapter spec: one small YAML file that says how to run a user's ONNX model.

``--saliency``, ``--inpaint`` and ``--segmenter`` accept a registered name, an ``.onnx``
file (defaults below) or a spec file. One schema for all three kinds::

    kind: segmenter            # saliency | inpaint | segmenter
    model: yolov8n-seg.onnx    # path; relative paths are relative to the spec file
    name: yolov8n-seg          # optional (default: the model file's stem)
    input:
      name: images             # optional when the model has one image input
      size: [640, 640]         # height, width the image (view) is resized to
      layout: NCHW             # NCHW | NHWC
      channel_order: RGB       # RGB | BGR
      scale: 0.00392156862745098   # pixels 0..255 are multiplied by this,
      mean: [0, 0, 0]          # then the per-channel mean is subtracted
      std: [1, 1, 1]           # and the result divided by std
      mask_name: mask          # inpaint only: the hole input, (1, 1, h, w) in {0, 1}
    output:
      format: yolo-seg         # segmenter: yolo-seg | maskrcnn | mask2former;
                               # saliency: map; inpaint: image
      names: {detections: output0, protos: output1}   # role -> tensor name (see below)
      sigmoid: false           # saliency map / maskrcnn masks are logits
      scale: 255.0             # inpaint: the output's range (255 or 1)
      label_offset: 0          # maskrcnn: label - offset indexes classes (1 for torchvision)
    classes: coco              # segmenter: coco | [name, ...] | names.txt (one per line)
    score_threshold: 0.25      # segmenter: drop instances scoring less
    mask_threshold: 0.5        # segmenter: mask probability cut

Output roles (a role's tensor may be left out of ``names`` when the model's output
names already are the role names, or the model has a single output):

* ``yolo-seg`` (Ultralytics YOLOv8/11-seg exports): ``detections`` (1, 4 + C + M, A) with
  cx, cy, w, h in input pixels, C class scores, M mask coefficients; ``protos`` (1, M, h, w).
  Class-wise NMS is applied here.
* ``maskrcnn`` (torchvision / detectron2-style exports): ``boxes`` (N, 4) x1, y1, x2, y2 in
  input pixels (optional), ``labels`` (N,), ``scores`` (N,), ``masks`` (N, [1,] H, W)
  probabilities (logits with ``sigmoid: true``) at any size, resized to the view.
* ``mask2former`` (Mask2Former / MaskFormer / OneFormer exports): ``class_logits``
  (1, Q, C + 1), last class = no object; ``mask_logits`` (1, Q, h, w). The score of a query
  is its class probability times the mean mask probability inside its mask.
* ``map`` (saliency): ``map``, any shape that squeezes to (h, w). ``image`` (inpaint):
  ``image`` (1, 3, h, w).

A bare ``.onnx`` path takes every default (for a segmenter, the format is recognised from
the output shapes and the classes are COCO's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

KINDS = {"saliency": ("map",), "inpaint": ("image",),
         "segmenter": ("yolo-seg", "maskrcnn", "mask2former")}
DEFAULT_SIZES = {"saliency": (256, 256), "inpaint": (512, 512), "segmenter": (640, 640)}


class SpecError(ValueError):
    """A spec file that cannot be used; the message names the file, the key and the fix."""


@dataclass(frozen=True)
class InputSpec:
    name: str | None = None
    size: tuple[int, int] = (640, 640)
    layout: str = "NCHW"
    channel_order: str = "RGB"
    scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    mask_name: str | None = None


@dataclass(frozen=True)
class OutputSpec:
    format: str | None = None
    names: dict[str, str] = field(default_factory=dict)
    sigmoid: bool = False
    scale: float = 255.0
    label_offset: int = 0


@dataclass(frozen=True)
class OnnxSpec:
    """A parsed adapter spec (see the module docstring for the schema)."""

    kind: str
    model: Path
    name: str
    input: InputSpec
    output: OutputSpec
    classes: tuple[str, ...] | str = "coco"
    score_threshold: float = 0.25
    mask_threshold: float = 0.5

    def describe(self) -> str:
        """A stable text of everything that changes the model's results (resume digests)."""
        return repr(self)


def is_spec_file(name: str) -> bool:
    return Path(name).suffix.lower() in (".yaml", ".yml")


def load_spec(path: str | Path, kind: str) -> OnnxSpec:
    """Parse and check a spec file of the given kind, or a bare ``.onnx`` path."""
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        return _build({"model": str(path.resolve())}, path, kind)
    import yaml

    if not path.is_file():
        raise SpecError(f"{kind} spec not found: {path}; give an existing .yaml or .onnx file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise SpecError(f"{path} is not valid YAML ({err}); see the adapter spec schema in "
                        "the README") from err
    if not isinstance(data, dict):
        raise SpecError(f"{path}: expected a mapping with 'model', 'input' and 'output'; see "
                        "the adapter spec schema in the README")
    return _build(data, path, kind)


def _check_keys(data: dict, allowed: set[str], where: str) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise SpecError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")


def _build(data: dict, path: Path, kind: str) -> OnnxSpec:
    where = str(path)
    _check_keys(data, {"kind", "model", "name", "input", "output", "classes", "score_threshold",
                       "mask_threshold"}, where)
    if data.get("kind", kind) != kind:
        raise SpecError(f"{where} is a {data['kind']!r} spec but is used as a {kind}")
    if "model" not in data:
        raise SpecError(f"{where}: 'model' (the .onnx file) is missing")
    model = Path(str(data["model"]))
    if not model.is_absolute():
        model = path.parent / model
    if not model.is_file():
        raise SpecError(f"{where}: model file {model} not found; fix 'model' (relative paths "
                        "start at the spec file's folder)")
    try:
        inp = _input(data.get("input") or {}, kind, where)
        out = _output(data.get("output") or {}, kind, where)
        classes = _classes(data.get("classes", "coco"), path)
        return OnnxSpec(kind, model, str(data.get("name") or model.stem), inp, out, classes,
                        float(data.get("score_threshold", 0.25)),
                        float(data.get("mask_threshold", 0.5)))
    except (TypeError, ValueError) as err:
        if isinstance(err, SpecError):
            raise
        raise SpecError(f"{where}: {err}; see the adapter spec schema in the README") from err


def _input(data: dict, kind: str, where: str) -> InputSpec:
    _check_keys(data, {"name", "size", "layout", "channel_order", "scale", "mean", "std",
                       "mask_name"}, f"{where}: input")
    size = tuple(int(v) for v in data.get("size", DEFAULT_SIZES[kind]))
    if len(size) != 2 or min(size) < 1:
        raise SpecError(f"{where}: input.size must be [height, width], got {data.get('size')}")
    spec = InputSpec(data.get("name"), size, str(data.get("layout", "NCHW")).upper(),
                     str(data.get("channel_order", "RGB")).upper(),
                     float(data.get("scale", 1.0 / 255.0)),
                     tuple(float(v) for v in data.get("mean", (0.0, 0.0, 0.0))),
                     tuple(float(v) for v in data.get("std", (1.0, 1.0, 1.0))),
                     data.get("mask_name"))
    if spec.layout not in ("NCHW", "NHWC") or spec.channel_order not in ("RGB", "BGR"):
        raise SpecError(f"{where}: input.layout must be NCHW|NHWC and input.channel_order "
                        f"RGB|BGR, got {spec.layout}/{spec.channel_order}")
    if len(spec.mean) != 3 or len(spec.std) != 3 or 0.0 in spec.std:
        raise SpecError(f"{where}: input.mean and input.std need three values, std non-zero")
    return spec


def _output(data: dict, kind: str, where: str) -> OutputSpec:
    _check_keys(data, {"format", "names", "sigmoid", "scale", "label_offset"}, f"{where}: output")
    fmt = data.get("format")
    if fmt is None and len(KINDS[kind]) == 1:
        fmt = KINDS[kind][0]
    if fmt is not None and fmt not in KINDS[kind]:
        raise SpecError(f"{where}: output.format {fmt!r} is not a {kind} format; use one of "
                        f"{list(KINDS[kind])}")
    names = data.get("names") or {}
    if not isinstance(names, dict):
        raise SpecError(f"{where}: output.names must map roles to tensor names")
    return OutputSpec(fmt, {str(k): str(v) for k, v in names.items()},
                      bool(data.get("sigmoid", False)), float(data.get("scale", 255.0)),
                      int(data.get("label_offset", 0)))


def _classes(value, path: Path) -> tuple[str, ...] | str:
    if value == "coco":
        return "coco"
    if isinstance(value, list) and value:
        return tuple(str(v) for v in value)
    if isinstance(value, str):
        file = path.parent / value
        if file.is_file():
            names = [n.strip() for n in file.read_text(encoding="utf-8").splitlines()]
            return tuple(n for n in names if n)
    raise SpecError(f"{path}: classes must be 'coco', a list of names or a text file next to "
                    f"the spec, got {value!r}")


def image_to_tensor(
    image_rgb: np.ndarray, size: tuple[int, int], *, channel_order: str, layout: str,
    scale: float, mean: Sequence[float], std: Sequence[float],
) -> np.ndarray:
    """Resize, reorder, normalise and batch one RGB image for an ONNX network."""
    if channel_order not in ("RGB", "BGR") or layout not in ("NCHW", "NHWC"):
        raise ValueError(f"channel_order must be RGB|BGR and layout NCHW|NHWC, got "
                         f"{channel_order}/{layout}")
    resized = cv2.resize(image_rgb, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    if channel_order == "BGR":
        resized = resized[..., ::-1]
    x = (resized.astype(np.float32) * np.float32(scale) - np.asarray(mean, np.float32))
    x = x / np.asarray(std, np.float32)
    if layout == "NCHW":
        x = np.transpose(x, (2, 0, 1))
    return np.ascontiguousarray(x[None])
