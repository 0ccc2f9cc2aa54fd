"""2D saliency models behind one small interface: ``model(view_rgb) -> (h, w) float32 map``.

The pipeline only needs *relative* saliency inside one local view (it min-max normalises the
map), so any model that returns "higher = more salient" per pixel plugs in. Shipped:

* ``spectral`` — OpenCV spectral residual (Hou & Zhang 2007), weight-free and fast;
* ``fine_grained`` — OpenCV fine-grained (centre-surround) saliency, weight-free;
* :class:`OnnxSaliency` — any user-exported network (TranSalNet, RINet, GSGNet, …) with
  configurable input/output names, input size, channel order and normalisation, given as
  an ``.onnx`` file (defaults) or an adapter spec ``.yaml`` (:mod:`foir360_core.onnx.spec`).

No weights are ever downloaded: ONNX models are files the user supplies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from foir360_core.onnx import onnx_session, pick_name
from foir360_core.onnx.spec import OnnxSpec, image_to_tensor, is_spec_file, load_spec


@runtime_checkable
class SaliencyModel(Protocol):
    """A 2D saliency predictor. ``name`` identifies it in logs and outputs."""

    name: str

    def __call__(self, image_rgb: np.ndarray) -> np.ndarray:
        """RGB uint8 (h, w, 3) → float32 (h, w) map, higher = more salient."""
        ...


def _require_contrib(factory: str) -> object:
    saliency = getattr(cv2, "saliency", None)
    if saliency is None or not hasattr(saliency, factory):
        raise RuntimeError(
            "OpenCV saliency needs the contrib build: pip install opencv-contrib-python-headless "
            "(and uninstall opencv-python / opencv-python-headless, which shadow it)"
        )
    return getattr(saliency, factory)()


class _OpenCVStaticSaliency:
    """Shared wrapper for OpenCV's static saliency algorithms (BGR in, float map out)."""

    name = "opencv"
    _factory = ""

    def __init__(self) -> None:
        self._impl = _require_contrib(self._factory)

    def __call__(self, image_rgb: np.ndarray) -> np.ndarray:
        ok, sal = self._impl.computeSaliency(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
        if not ok:
            raise RuntimeError(f"OpenCV {self.name} saliency failed on a {image_rgb.shape} view")
        sal = np.asarray(sal, dtype=np.float32)
        if sal.shape != image_rgb.shape[:2]:
            sal = cv2.resize(sal, image_rgb.shape[1::-1], interpolation=cv2.INTER_LINEAR)
        return sal


class SpectralResidualSaliency(_OpenCVStaticSaliency):
    """OpenCV spectral residual saliency (weight-free)."""

    name = "spectral"
    _factory = "StaticSaliencySpectralResidual_create"


class FineGrainedSaliency(_OpenCVStaticSaliency):
    """OpenCV fine-grained (centre-surround difference) saliency (weight-free)."""

    name = "fine_grained"
    _factory = "StaticSaliencyFineGrained_create"


@dataclass(frozen=True)
class OnnxSaliencyConfig:
    """How to feed a user's ONNX saliency network and read its output.

    The input is resized to ``input_size`` (h, w), scaled by ``scale``, normalised with
    ``mean``/``std`` per channel (after scaling, in ``channel_order``) and laid out NCHW or
    NHWC. The output (any shape that squeezes to 2D) is resized back to the view; set
    ``apply_sigmoid`` for networks that return logits.
    """

    path: str
    input_name: str | None = None
    output_name: str | None = None
    input_size: tuple[int, int] = (256, 256)
    channel_order: str = "RGB"
    layout: str = "NCHW"
    scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    apply_sigmoid: bool = False
    name: str = "onnx"


class OnnxSaliency:
    """Adapter for a user-supplied ONNX saliency network (see :class:`OnnxSaliencyConfig`)."""

    def __init__(self, config: OnnxSaliencyConfig, threads: int = 1) -> None:
        self.config = config
        self.name = config.name
        self._session = onnx_session(config.path, threads)
        self._input = pick_name([i.name for i in self._session.get_inputs()],
                                config.input_name, "input", config.path)
        self._output = pick_name([o.name for o in self._session.get_outputs()],
                                 config.output_name, "output", config.path)

    def __call__(self, image_rgb: np.ndarray) -> np.ndarray:
        c = self.config
        x = image_to_tensor(image_rgb, c.input_size, channel_order=c.channel_order,
                            layout=c.layout, scale=c.scale, mean=c.mean, std=c.std)
        (out,) = self._session.run([self._output], {self._input: x})
        sal = np.squeeze(np.asarray(out, dtype=np.float32))
        if sal.ndim != 2:
            raise ValueError(f"{c.path}: saliency output {self._output!r} has shape "
                             f"{np.shape(out)}, which does not squeeze to a 2D map")
        if c.apply_sigmoid:
            sal = 1.0 / (1.0 + np.exp(-sal))
        return cv2.resize(sal, image_rgb.shape[1::-1], interpolation=cv2.INTER_LINEAR)


BUILTIN_SALIENCY = {"spectral": SpectralResidualSaliency, "fine_grained": FineGrainedSaliency}


def saliency_config(spec: OnnxSpec) -> OnnxSaliencyConfig:
    """The adapter settings an ONNX spec of kind ``saliency`` gives."""
    i = spec.input
    return OnnxSaliencyConfig(path=str(spec.model), input_name=i.name,
                              output_name=spec.output.names.get("map"), input_size=i.size,
                              channel_order=i.channel_order, layout=i.layout, scale=i.scale,
                              mean=i.mean, std=i.std, apply_sigmoid=spec.output.sigmoid,
                              name=spec.name)


def build_saliency(name: str) -> SaliencyModel:
    """A saliency model by name: a built-in (``spectral``, ``fine_grained``), an ``.onnx``
    path (:class:`OnnxSaliencyConfig` defaults) or an adapter spec ``.yaml``."""
    if name in BUILTIN_SALIENCY:
        return BUILTIN_SALIENCY[name]()
    if name.endswith(".onnx"):
        return OnnxSaliency(OnnxSaliencyConfig(path=name, name=Path(name).stem))
    if is_spec_file(name):
        return OnnxSaliency(saliency_config(load_spec(name, "saliency")))
    raise ValueError(f"unknown saliency model {name!r}; use one of "
                     f"{sorted(BUILTIN_SALIENCY)}, an .onnx file or a .yaml adapter spec")
