"""Geometry overlay of a panorama: outlines, seam-aware boxes and spherical centres.

This is what a user sees first (``foir360 synth --preview``), so it must make the ERP
conventions visible: each instance gets a translucent fill and outline, its seam-aware box
(drawn as two open-ended parts when it wraps the left/right seam) and a cross at its
spherical centre labelled with REP 103 azimuth (positive left) and elevation in degrees.
A faint grid marks azimuth every 45° and elevation every 30°.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

import cv2
import numpy as np

from foir360_core.geometry import lonlat_to_pixel
from foir360_core.structures import PanoInstances
from foir360_core.synth.render import SynthPanorama

FONT = cv2.FONT_HERSHEY_SIMPLEX
FILL_ALPHA = 0.3
GRID_ALPHA = 0.25
GOLDEN = 0.618033988749895


def instance_colours(n: int) -> np.ndarray:
    """``n`` well-separated bright RGB colours (uint8), stable for a given index."""
    return np.array([
        [round(255 * c) for c in colorsys.hsv_to_rgb((0.1 + i * GOLDEN) % 1.0, 0.85, 1.0)]
        for i in range(n)
    ], dtype=np.uint8).reshape(n, 3)


def render_preview(pano: SynthPanorama) -> np.ndarray:
    """Overlay of a synthetic panorama's instances, titled with its seed."""
    title = f"seed {pano.seed}  |  {len(pano.instances)} objects" if pano.seed is not None \
        else f"{len(pano.instances)} objects"
    return draw_geometry(pano.image, pano.instances, pano.class_names, title=title)


def draw_geometry(
    image: np.ndarray,
    instances: PanoInstances,
    class_names: Sequence[str] | None = None,
    *,
    title: str | None = None,
) -> np.ndarray:
    """RGB uint8 copy of ``image`` with every instance's mask, box and centre drawn on it."""
    height, width = image.shape[:2]
    if instances.image_size != (height, width):
        raise ValueError(
            f"masks are {instances.image_size} but the image is {height}x{width}; "
            "render the overlay on the image the masks belong to"
        )
    scale = max(0.35, height / 1100.0)
    thick = max(1, round(height / 400))
    out = _grid(image.copy(), scale)
    colours = instance_colours(len(instances))
    taken: list[tuple[int, int, int, int]] = []
    if len(instances):
        tint = out.astype(np.float32)
        for mask, colour in zip(instances.masks, colours, strict=True):
            tint[mask] = tint[mask] * (1.0 - FILL_ALPHA) + colour * FILL_ALPHA
        out = np.round(tint).astype(np.uint8)
    for i, (mask, geom) in enumerate(zip(instances.masks, instances.geometry, strict=True)):
        colour = tuple(int(c) for c in colours[i])
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, colour, thick, cv2.LINE_AA)
        _draw_box(out, geom.bbox_xywh, colour, thick)
        u, v = lonlat_to_pixel(geom.lon, geom.lat, height, width)
        centre = (int(u), int(min(v, height - 1)))
        cv2.drawMarker(out, centre, (255, 255, 255), cv2.MARKER_CROSS, 6 + 6 * thick, thick + 2)
        cv2.drawMarker(out, centre, colour, cv2.MARKER_CROSS, 6 + 6 * thick, thick)
        name = ""
        if class_names is not None and 1 <= instances.class_ids[i] <= len(class_names):
            name = f" {class_names[instances.class_ids[i] - 1]}"
        label = (f"{i + 1}{name} az {np.degrees(geom.azimuth):+.0f} "
                 f"el {np.degrees(geom.elevation):+.0f}")
        _label(out, label, centre, colour, scale=scale, thick=thick, taken=taken)
    if title:
        _text(out, f"{title}  (az: left +, el: up +, degrees)", (6, int(22 * scale * 1.6)),
              (255, 255, 255), scale=scale * 1.1, thick=thick)
    return out


def _draw_box(out: np.ndarray, box: tuple[int, int, int, int], colour, thick: int) -> None:
    """Rectangle, or two three-sided parts open at the seam when the box wraps."""
    width = out.shape[1]
    x, y, w, h = box
    if w == 0:
        return
    bottom = y + h - 1
    if x + w <= width:
        cv2.rectangle(out, (x, y), (x + w - 1, bottom), colour, thick)
        return
    right_end = (x + w - 1) - width
    left_part = np.array([[width - 1, y], [x, y], [x, bottom], [width - 1, bottom]])
    right_part = np.array([[0, y], [right_end, y], [right_end, bottom], [0, bottom]])
    cv2.polylines(out, [left_part.astype(np.int32), right_part.astype(np.int32)], False,
                  colour, thick)


def _label(out: np.ndarray, text: str, anchor: tuple[int, int], colour, *, scale: float,
           thick: int, taken: list[tuple[int, int, int, int]]) -> None:
    """Text beside the centre marker, inside the image and clear of labels already drawn.

    Tries right of the marker, then left, then steps down and up a line at a time; the
    first box that overlaps no earlier label wins (else the plain right-hand spot).
    """
    height, width = out.shape[:2]
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thick)
    gap = 8 + 2 * thick
    line = th + base + 4
    spots = []
    for step in (0, 1, -1, 2, -2, 3, -3):
        for x in (anchor[0] + gap, anchor[0] - gap - tw):
            y = anchor[1] - 6 + step * line
            spots.append((int(np.clip(x, 0, width - tw - 1)),
                          int(np.clip(y, th + 2, height - base - 2))))
    for x, y in spots:
        box = (x - 2, y - th - 2, x + tw + 2, y + base + 1)
        if not any(_overlap(box, other) for other in taken):
            break
    else:
        x, y = spots[0]
        box = (x - 2, y - th - 2, x + tw + 2, y + base + 1)
    taken.append(box)
    _text(out, text, (x, y), colour, scale=scale, thick=thick)


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _text(out: np.ndarray, text: str, org: tuple[int, int], colour, *, scale: float,
          thick: int) -> None:
    """Text on a darkened backing box, legible on sky and ground alike."""
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thick)
    x0, y0 = max(0, org[0] - 2), max(0, org[1] - th - 2)
    x1, y1 = min(out.shape[1], org[0] + tw + 2), min(out.shape[0], org[1] + base + 1)
    out[y0:y1, x0:x1] = (out[y0:y1, x0:x1] * 0.35).astype(np.uint8)
    cv2.putText(out, text, org, FONT, scale, colour, thick, cv2.LINE_AA)


def _grid(out: np.ndarray, scale: float) -> np.ndarray:
    """Faint azimuth (every 45°) and elevation (every 30°) lines with azimuth labels."""
    height, width = out.shape[:2]
    grid = out.copy()
    for az in range(-180, 181, 45):
        u, _ = lonlat_to_pixel(np.radians(-az), 0.0, height, width)
        col = int(u) if az != -180 else width - 1
        cv2.line(grid, (col, 0), (col, height - 1), (255, 255, 255), 1)
    for el in range(-60, 61, 30):
        _, v = lonlat_to_pixel(0.0, np.radians(el), height, width)
        cv2.line(grid, (0, int(v)), (width - 1, int(v)), (255, 255, 255), 1)
    out = cv2.addWeighted(grid, GRID_ALPHA, out, 1.0 - GRID_ALPHA, 0.0)
    for az in range(-135, 181, 45):
        u, _ = lonlat_to_pixel(np.radians(-az), 0.0, height, width)
        text = f"az {az:+d}" if az not in (0, 180) else f"az {az}"
        (tw, _), _ = cv2.getTextSize(text, FONT, scale * 0.8, 1)
        x = int(np.clip(u - tw / 2, 2, width - tw - 2))
        _text(out, text, (x, height - 6), (230, 230, 230), scale=scale * 0.8, thick=1)
    return out
