"""Inpainters ("Eraser" of Eq. 4) behind one interface: ``inpainter(view_rgb, mask) -> view_rgb``.

Shipped, weight-free: OpenCV Telea and Navier–Stokes, and PatchMatch (``patchmatch-cython``,
the cleanest weight-free fill: it copies real texture instead of smearing colours, so an
erased object leaves less of a salient blob behind). :class:`OnnxInpainter` runs a user's
LaMa export (the paper's eraser). Pixels outside the mask are always returned unchanged.

:func:`inpaint_cropped` runs any inpainter on the mask's bounding box plus a context margin
only, so erasing one small object in a large view costs in proportion to the object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

import cv2
import numpy as np

from foir360_core.onnx import onnx_session, pick_name
from foir360_core.onnx.spec import OnnxSpec, is_spec_file, load_spec


@runtime_checkable
class Inpainter(Protocol):
    """Fills the masked pixels of an RGB uint8 image plausibly from their surroundings."""

    name: str

    def __call__(self, image_rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """RGB uint8 (h, w, 3) and bool (h, w) → RGB uint8 (h, w, 3)."""
        ...


class OpenCVInpainter:
    """``cv2.inpaint`` with Telea's fast marching or the Navier–Stokes method."""

    _FLAGS: ClassVar[dict[str, int]] = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}

    def __init__(self, method: str = "telea", radius: float = 5.0) -> None:
        if method not in self._FLAGS:
            raise ValueError(f"OpenCV inpainting method must be one of {sorted(self._FLAGS)}")
        self.name = method
        self.radius = radius
        self._flag = self._FLAGS[method]

    def __call__(self, image_rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return cv2.inpaint(image_rgb, mask.astype(np.uint8) * 255, self.radius, self._flag)


class PatchMatchInpainter:
    """Multi-scale PatchMatch from ``patchmatch-cython``; a fixed seed keeps labels reproducible."""

    name = "patchmatch"

    def __init__(self, patch_size: int = 5, seed: int = 0) -> None:
        from patchmatch_cython import inpaint_pyramid

        self._inpaint = inpaint_pyramid
        self.patch_size = patch_size
        self.seed = seed

    def __call__(self, image_rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out = self._inpaint(image_rgb, mask.astype(bool), patch_size=self.patch_size,
                            seed=self.seed)
        return np.asarray(out, dtype=np.uint8)


@dataclass(frozen=True)
class OnnxInpainterConfig:
    """How to run a user's LaMa-style ONNX export.

    The usual LaMa export takes ``image`` (1, 3, h, w) RGB in [0, 1] and ``mask`` (1, 1, h, w)
    in {0, 1}, and returns (1, 3, h, w) RGB; ``output_scale`` says whether the output is in
    [0, 255] (255.0) or [0, 1] (1.0). The crop is resized to ``input_size`` and back.
    """

    path: str
    image_input: str = "image"
    mask_input: str = "mask"
    output_name: str | None = None
    input_size: tuple[int, int] = (512, 512)
    output_scale: float = 255.0
    name: str = "lama"


class OnnxInpainter:
    """Adapter for a user-supplied LaMa-style ONNX inpainting network."""

    def __init__(self, config: OnnxInpainterConfig, threads: int = 1) -> None:
        self.config = config
        self.name = config.name
        self._session = onnx_session(config.path, threads)
        inputs = [i.name for i in self._session.get_inputs()]
        self._image = pick_name(inputs, config.image_input, "input", config.path)
        self._mask = pick_name(inputs, config.mask_input, "input", config.path)
        self._output = pick_name([o.name for o in self._session.get_outputs()],
                                 config.output_name, "output", config.path)

    def __call__(self, image_rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
        h, w = self.config.input_size
        image = cv2.resize(image_rgb, (w, h), interpolation=cv2.INTER_AREA)
        small_mask = cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
        x = np.transpose(image.astype(np.float32) / 255.0, (2, 0, 1))[None]
        m = small_mask.astype(np.float32)[None, None]
        (out,) = self._session.run([self._output], {self._image: x, self._mask: m})
        out = np.asarray(out, dtype=np.float32)
        if out.ndim != 4 or out.shape[1] != 3:
            raise ValueError(f"{self.config.path}: inpainting output has shape {out.shape}, "
                             "expected (1, 3, h, w)")
        filled = np.transpose(out[0], (1, 2, 0)) * (255.0 / self.config.output_scale)
        filled = np.clip(filled, 0, 255).astype(np.uint8)
        filled = cv2.resize(filled, image_rgb.shape[1::-1], interpolation=cv2.INTER_LINEAR)
        result = image_rgb.copy()
        result[mask] = filled[mask]
        return result


def inpainter_config(spec: OnnxSpec) -> OnnxInpainterConfig:
    """The adapter settings an ONNX spec of kind ``inpaint`` gives (input.size, names, scale)."""
    return OnnxInpainterConfig(path=str(spec.model), image_input=spec.input.name or "image",
                               mask_input=spec.input.mask_name or "mask",
                               output_name=spec.output.names.get("image"),
                               input_size=spec.input.size, output_scale=spec.output.scale,
                               name=spec.name)


def build_inpainter(name: str) -> Inpainter:
    """An inpainter by name (``patchmatch``, ``telea``, ``ns``), a LaMa ``.onnx`` path or an
    adapter spec ``.yaml``."""
    if name == "patchmatch":
        return PatchMatchInpainter()
    if name in ("telea", "ns"):
        return OpenCVInpainter(name)
    if name.endswith(".onnx"):
        return OnnxInpainter(OnnxInpainterConfig(path=name))
    if is_spec_file(name):
        return OnnxInpainter(inpainter_config(load_spec(name, "inpaint")))
    raise ValueError(f"unknown inpainter {name!r}; use patchmatch, telea, ns, a LaMa .onnx "
                     "export or a .yaml adapter spec")


def inpaint_cropped(
    inpainter: Inpainter, image_rgb: np.ndarray, mask: np.ndarray, *,
    exclude: np.ndarray | None = None, margin: float = 0.5, min_margin_px: int = 16,
) -> np.ndarray:
    """Inpaint only the mask's box grown by ``margin`` × its size (at least ``min_margin_px``).

    The inpainter sees enough surroundings to fill the hole, and the cost scales with the
    hole instead of the view. ``exclude`` pixels (objects that must survive the erasure)
    are hidden from the inpainter inside the box, so their colours do not bleed into the
    fill, and are returned unchanged. An empty mask returns the image without a call.
    """
    if exclude is not None:
        mask = mask & ~exclude
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return image_rgb
    cols = np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    pad_y = max(min_margin_px, int(margin * (rows[-1] - rows[0] + 1)))
    pad_x = max(min_margin_px, int(margin * (cols[-1] - cols[0] + 1)))
    y0, y1 = max(rows[0] - pad_y, 0), min(rows[-1] + 1 + pad_y, h)
    x0, x1 = max(cols[0] - pad_x, 0), min(cols[-1] + 1 + pad_x, w)
    crop = np.ascontiguousarray(image_rgb[y0:y1, x0:x1])
    crop_mask = mask[y0:y1, x0:x1]
    hole = crop_mask if exclude is None else crop_mask | exclude[y0:y1, x0:x1]
    filled = inpainter(crop, hole)
    out = image_rgb.copy()
    region = out[y0:y1, x0:x1]
    region[crop_mask] = filled[crop_mask]
    return out
