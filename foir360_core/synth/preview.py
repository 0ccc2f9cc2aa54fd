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


Box = tuple[int, int, int, int]  # x0, y0, x1, y1 of a drawn label or marker


def draw_geometry(
    image: np.ndarray,
    instances: PanoInstances,
    class_names: Sequence[str] | None = None,
    *,
    title: str | None = None,
) -> np.ndarray:
    """RGB uint8 copy of ``image`` with every instance's mask, box and centre drawn on it.

    Shapes go first and labels last, each label placed where it hides no other label or
    centre marker, so crowded scenes stay readable.
    """
    height, width = image.shape[:2]
    if instances.image_size != (height, width):
        raise ValueError(
            f"masks are {instances.image_size} but the image is {height}x{width}; "
            "render the overlay on the image the masks belong to"
        )
    scale = max(0.35, height / 1100.0)
    thick = max(1, round(height / 400))
    taken: list[Box] = []
    out = _grid(image.copy(), scale, taken)
    colours = [tuple(int(c) for c in rgb) for rgb in instance_colours(len(instances))]
    if len(instances):
        tint = out.astype(np.float32)
        for mask, colour in zip(instances.masks, colours, strict=True):
            tint[mask] = tint[mask] * (1.0 - FILL_ALPHA) + np.array(colour) * FILL_ALPHA
        out = np.round(tint).astype(np.uint8)
    centres = []
    marker = 6 + 6 * thick
    for mask, geom, colour in zip(instances.masks, instances.geometry, colours, strict=True):
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, colour, thick, cv2.LINE_AA)
        _draw_box(out, geom.bbox_xywh, colour, thick)
        u, v = lonlat_to_pixel(geom.lon, geom.lat, height, width)
        centre = (int(u), int(min(v, height - 1)))
        cv2.drawMarker(out, centre, (255, 255, 255), cv2.MARKER_CROSS, marker, thick + 2)
        cv2.drawMarker(out, centre, colour, cv2.MARKER_CROSS, marker, thick)
        taken.append((centre[0] - marker // 2, centre[1] - marker // 2,
                      centre[0] + marker // 2, centre[1] + marker // 2))
        centres.append(centre)
    if title:
        text = f"{title}  (az: left +, el: up +, degrees)"
        (_, th), _ = cv2.getTextSize(text, FONT, scale * 1.1, thick)
        taken.append(_text(out, text, (6, th + 6), (255, 255, 255), scale=scale * 1.1,
                           thick=thick))
    for i, (geom, centre) in enumerate(zip(instances.geometry, centres, strict=True)):
        name = ""
        if class_names is not None and 1 <= instances.class_ids[i] <= len(class_names):
            name = f" {class_names[instances.class_ids[i] - 1]}"
        label = (f"{i + 1}{name} az {np.degrees(geom.azimuth):+.0f} "
                 f"el {np.degrees(geom.elevation):+.0f}")
        _label(out, label, centre, colours[i], scale=scale, thick=thick, taken=taken)
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
           thick: int, taken: list[Box]) -> None:
    """Text on a box of the instance's colour beside its centre marker, clear of others.

    Candidate spots: right of the marker, then left, then a line further down or up at a
    time. The first spot that overlaps nothing wins; failing that, the one overlapping
    least. A label pushed away from its marker gets a leader line.
    """
    height, width = out.shape[:2]
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thick)
    gap = 4 + thick
    line = th + base + 4
    best, best_cost = None, None
    for step in (0, 1, -1, 2, -2, 3, -3, 4, -4, 5, -5):
        for x in (anchor[0] + gap + 6, anchor[0] - gap - 6 - tw):
            org = (int(np.clip(x, 2, width - tw - 3)),
                   int(np.clip(anchor[1] + th // 2 + step * line, th + 3, height - base - 3)))
            box = (org[0] - 2, org[1] - th - 2, org[0] + tw + 2, org[1] + base + 1)
            cost = sum(_overlap(box, other) for other in taken)
            if best_cost is None or cost < best_cost:
                best, best_cost = org, cost
            if cost == 0:
                break
        if best_cost == 0:
            break
    assert best is not None
    if abs(best[1] - th // 2 - anchor[1]) > line // 2:
        near_x = best[0] if best[0] > anchor[0] else best[0] + tw
        cv2.line(out, anchor, (near_x, best[1] - th // 2), colour, 1, cv2.LINE_AA)
    taken.append(_text(out, text, best, colour, scale=scale, thick=thick, fill=True))


def _overlap(a: Box, b: Box) -> int:
    """Overlap area of two boxes (0 when disjoint)."""
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


def _text(out: np.ndarray, text: str, org: tuple[int, int], colour, *, scale: float,
          thick: int, fill: bool = False) -> Box:
    """Text on a backing box (darkened, or filled with ``colour``); returns the box drawn."""
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thick)
    x0, y0 = max(0, org[0] - 2), max(0, org[1] - th - 2)
    x1, y1 = min(out.shape[1], org[0] + tw + 2), min(out.shape[0], org[1] + base + 1)
    if fill:
        out[y0:y1, x0:x1] = colour
        luma = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
        colour = (0, 0, 0) if luma > 140 else (255, 255, 255)
    else:
        out[y0:y1, x0:x1] = (out[y0:y1, x0:x1] * 0.35).astype(np.uint8)
    cv2.putText(out, text, org, FONT, scale, colour, thick, cv2.LINE_AA)
    return (x0, y0, x1, y1)


def _grid(out: np.ndarray, scale: float, taken: list[Box]) -> np.ndarray:
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
        taken.append(_text(out, text, (x, height - 6), (230, 230, 230), scale=scale * 0.8,
                           thick=1))
    return out
