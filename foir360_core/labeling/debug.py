"""Debug PNGs of the pseudo-label pipeline: local views, masks, saliency maps, erasure steps.

For researchers who want to *see* why an object got its rank. Per view ``t`` of a panorama:

* ``view{t}_input.png`` — the local view with every participating object outlined (the
  view's own object thicker) and labelled with its object index;
* ``view{t}_null_background.png`` — the fast form's inpainted ``ViewNU``;
* ``view{t}_step{s}_image.png`` / ``..._saliency.png`` — the image the saliency model saw
  at step s and the fused saliency map (jet colour map), still-unranked objects outlined
  and the object(s) picked at this step in white.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from foir360_core.io import write_image


def _colour(index: int) -> tuple[int, int, int]:
    """A stable, distinct RGB colour per object index (golden-ratio hue walk)."""
    hue = int((index * 0.618033988749895 % 1.0) * 179)
    hsv = np.uint8([[[hue, 220, 255]]])
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def draw_masks(
    image: np.ndarray, masks: np.ndarray, objects: Sequence[int], *,
    highlight: Sequence[int] = (), thick: Sequence[int] = (),
) -> np.ndarray:
    """Outline each mask in its object's colour (white for ``highlight``) with its index."""
    canvas = np.ascontiguousarray(image.copy())
    for mask, obj in zip(masks, objects, strict=True):
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        colour = (255, 255, 255) if obj in highlight else _colour(obj)
        cv2.drawContours(canvas, contours, -1, colour, 3 if obj in thick else 1)
        ys, xs = np.nonzero(mask)
        if xs.size:
            cv2.putText(canvas, str(obj), (int(xs.mean()), int(ys.mean())),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1, cv2.LINE_AA)
    return canvas


class PngDebugWriter:
    """A ``DebugSink`` writing one panorama's intermediate images into ``directory``."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def _write(self, name: str, image: np.ndarray) -> None:
        write_image(self.directory / name, image)

    def view(self, target: int, image: np.ndarray, masks: np.ndarray,
             objects: Sequence[int]) -> None:
        self._write(f"view{target:03d}_input.png",
                    draw_masks(image, masks, objects, thick=[target]))

    def background(self, target: int, image: np.ndarray) -> None:
        self._write(f"view{target:03d}_null_background.png", image)

    def step(self, target: int, step: int, *, image: np.ndarray, saliency: np.ndarray,
             masks: np.ndarray, objects: Sequence[int], picked: Sequence[int]) -> None:
        prefix = f"view{target:03d}_step{step:02d}"
        self._write(f"{prefix}_image.png", draw_masks(image, masks, objects, highlight=picked))
        heat = cv2.applyColorMap(np.clip(saliency * 255, 0, 255).astype(np.uint8),
                                 cv2.COLORMAP_JET)
        heat = cv2.cvtColor(heat, cv2.COLOR_BGR2RGB)
        self._write(f"{prefix}_saliency.png", draw_masks(heat, masks, objects, highlight=picked))
