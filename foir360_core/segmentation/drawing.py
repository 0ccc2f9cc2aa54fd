"""Debug pictures: each view with its detections and masks (``--debug-dir``).

The ERP previews (``--preview``) are drawn by the CLI with ``synth.preview``'s geometry
overlay, which sits in a higher layer than this package.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from foir360_core.io import write_image
from foir360_core.segmentation.panoramic import PanoramicResult

FILL_ALPHA = 0.4
GOLDEN = 0.618033988749895


def instance_colours(n: int) -> np.ndarray:
    """``n`` well-separated bright RGB colours (golden-ratio hue walk), (n, 3) uint8."""
    hues = (np.arange(n) * GOLDEN * 180) % 180
    hsv = np.stack([hues, np.full(n, 220), np.full(n, 255)], axis=1).astype(np.uint8)
    return cv2.cvtColor(hsv[None], cv2.COLOR_HSV2RGB)[0] if n else np.zeros((0, 3), np.uint8)


def draw_view(view: np.ndarray, masks: np.ndarray, boxes: np.ndarray | None,
              captions: list[str]) -> np.ndarray:
    """A view with each mask tinted and outlined, its box drawn and its caption written."""
    out = view.astype(np.float32)
    colours = instance_colours(len(masks))
    for mask, colour in zip(masks, colours, strict=True):
        out[mask] = out[mask] * (1.0 - FILL_ALPHA) + colour * FILL_ALPHA
    out = np.round(out).astype(np.uint8)
    for i, (mask, colour) in enumerate(zip(masks, colours, strict=True)):
        rgb = tuple(int(c) for c in colour)
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, rgb, 2, cv2.LINE_AA)
        if boxes is not None:
            x1, y1, x2, y2 = (round(float(v)) for v in boxes[i])
            cv2.rectangle(out, (x1, y1), (x2, y2), rgb, 1)
            anchor = (max(x1, 0) + 2, max(y1, 0) + 14)
        else:
            ys, xs = np.nonzero(mask)
            anchor = (int(xs.min()) + 2, int(ys.min()) + 14) if xs.size else (2, 14)
        cv2.putText(out, captions[i], anchor, cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3,
                    cv2.LINE_AA)
        cv2.putText(out, captions[i], anchor, cv2.FONT_HERSHEY_SIMPLEX, 0.45, rgb, 1,
                    cv2.LINE_AA)
    return out


def write_view_debug(folder: Path, result: PanoramicResult) -> None:
    """One PNG per view: ``view03_lon+045_lat+00.png`` with its detections and masks."""
    for k, record in enumerate(result.views):
        found = record.found
        captions = [f"{result.class_names[int(c)]} {s:.2f}"
                    for c, s in zip(found.labels, found.scores, strict=True)]
        picture = draw_view(record.image, found.masks, found.boxes, captions)
        g = record.geometry
        name = (f"view{k:02d}_lon{round(math.degrees(g.lon)):+04d}"
                f"_lat{round(math.degrees(g.lat)):+03d}.png")
        write_image(folder / name, picture)
