"""Overlay of a ranked result: masks coloured by rank, rank numbers drawn, seam-aware.

An ERP panorama cuts every object that crosses the longitude seam into a left and a right
part. A person looking at the image sees two blobs, so each visible part of an object (each
connected component in the image, above a small area) carries the object's rank number,
anchored at the point deepest inside that part. Numbers never touch one another (two
touching numbers read as one, "1" and "7" as "17"): each is placed at its anchor if free,
else at the nearest free spot, joined to its anchor by a leader line, most important first;
if the image is too small for all of them at the chosen size, the size shrinks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from foir360_core.structures import PanoInstances

FILL_ALPHA = 0.45
MIN_PART_FRACTION = 0.05  # parts smaller than this share of the object get no number
MIN_TEXT_SCALE = 0.3  # smallest font scale tried when the numbers do not fit
FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True)
class Label:
    """A rank number placed on the overlay: its text, anchor and box (x0, y0, x1, y1),
    end-exclusive, outline included."""

    text: str
    anchor: tuple[int, int]
    box: tuple[int, int, int, int]

    @property
    def moved(self) -> bool:
        """Whether the box left its anchor (a leader line then joins them)."""
        x, y = self.anchor
        x0, y0, x1, y1 = self.box
        return not (x0 <= x < x1 and y0 <= y < y1)


def rank_colours(n: int) -> np.ndarray:
    """(n, 3) RGB uint8, rank 1 first: warm (red) for important through cold (blue)."""
    if n == 0:
        return np.zeros((0, 3), dtype=np.uint8)
    levels = np.linspace(255, 30, n).astype(np.uint8).reshape(-1, 1)
    return cv2.applyColorMap(levels, cv2.COLORMAP_TURBO)[:, 0, ::-1].copy()


def label_points(
    mask: np.ndarray, min_fraction: float = MIN_PART_FRACTION
) -> list[tuple[int, int]]:
    """(x, y) for each visible part of ``mask``: its deepest interior pixel.

    Parts are the image-plane connected components, so an object split by the seam gets
    one point on each side; slivers below ``min_fraction`` of the object are skipped.
    """
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), 8)
    total = stats[1:, cv2.CC_STAT_AREA].sum()
    points = []
    for part in range(1, count):
        x, y, w, h, area = stats[part]
        if area < max(1, min_fraction * total):
            continue
        crop = np.pad(labels[y:y + h, x:x + w] == part, 1).astype(np.uint8)
        depth = cv2.distanceTransform(crop, cv2.DIST_L2, 3)
        py, px = np.unravel_index(int(np.argmax(depth)), depth.shape)
        points.append((int(x + px - 1), int(y + py - 1)))
    return points


def _text_size(text: str, scale: float) -> tuple[int, int, int]:
    """Width and height of the outlined text box, and the text's baseline offset."""
    thick = max(1, round(scale * 2))
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thick)
    pad = (thick + 3) // 2 + 1  # the dark outline, and a pixel of air
    return tw + 2 * pad, th + base + 2 * pad, base + pad


def _candidates(anchor: tuple[int, int], size: tuple[int, int], image: tuple[int, int]
                ) -> Iterator[tuple[int, int]]:
    """Top-left corners to try: centred on the anchor (pushed inside the image at an edge),
    then rings around it by half a box, then anywhere on the image (a grid), so a free
    spot is found whenever one exists."""
    (ax, ay), (bw, bh), (height, width) = anchor, size, image
    x0 = min(max(ax - bw // 2, 0), max(0, width - bw))
    y0 = min(max(ay - bh // 2, 0), max(0, height - bh))
    yield x0, y0
    step_x, step_y = max(1, bw // 2), max(1, bh // 2)
    for ring in range(1, 9):
        for dy in range(-ring, ring + 1):
            for dx in range(-ring, ring + 1):
                if max(abs(dx), abs(dy)) == ring:
                    yield x0 + dx * step_x, y0 + dy * step_y
    for y in range(0, max(1, height - bh + 1), step_y):
        for x in range(0, max(1, width - bw + 1), step_x):
            yield x, y


def place_labels(labels: list[tuple[str, tuple[int, int]]], image: tuple[int, int],
                 scale: float, reserved: list[tuple[int, int, int, int]] = ()
                 ) -> list[Label | None]:
    """Boxes for ``(text, anchor)`` labels in the given order (the first get the best
    spots) that lie inside the ``(height, width)`` image and overlap neither one another
    nor the ``reserved`` boxes; None for a label with no free spot at this scale."""
    height, width = image
    taken = np.array(list(reserved) or np.zeros((0, 4)), dtype=np.int64).reshape(-1, 4)
    placed: list[Label | None] = []
    for text, anchor in labels:
        bw, bh, _ = _text_size(text, scale)
        spot = None
        for x, y in _candidates(anchor, (bw, bh), image):
            if x < 0 or y < 0 or x + bw > width or y + bh > height:
                continue
            if not np.any((taken[:, 0] < x + bw) & (x < taken[:, 2])
                          & (taken[:, 1] < y + bh) & (y < taken[:, 3])):
                spot = (x, y, x + bw, y + bh)
                break
        placed.append(None if spot is None else Label(text, anchor, spot))
        if spot is not None:
            taken = np.vstack([taken, np.array(spot)[None]])
    return placed


def _draw_label(image: np.ndarray, label: Label, scale: float) -> None:
    """White text with a dark outline in its box; a leader line when moved off its anchor."""
    thick = max(1, round(scale * 2))
    x0, y0, x1, y1 = label.box
    if label.moved:
        end = (int(np.clip(label.anchor[0], x0, x1 - 1)), int(np.clip(label.anchor[1], y0, y1 - 1)))
        for colour, width in (((0, 0, 0), thick + 2), ((255, 255, 255), thick)):
            cv2.line(image, label.anchor, end, colour, width, cv2.LINE_AA)
        cv2.circle(image, label.anchor, thick + 1, (255, 255, 255), -1, cv2.LINE_AA)
    _, _, base = _text_size(label.text, scale)
    pad = (thick + 3) // 2 + 1
    origin = (x0 + pad, y1 - base)
    cv2.putText(image, label.text, origin, FONT, scale, (0, 0, 0), thick + 3, cv2.LINE_AA)
    cv2.putText(image, label.text, origin, FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)


def rank_labels(instances: PanoInstances, masks: list[np.ndarray], image: tuple[int, int],
                scale: float, reserved: list[tuple[int, int, int, int]] = ()
                ) -> tuple[list[Label], float]:
    """Every visible part's rank number, placed without overlap, and the scale used: the
    given one, or smaller until all fit (at the smallest, a number with no room is left out)."""
    order = np.argsort(instances.ranks, kind="stable")
    wanted = [(str(int(instances.ranks[i])), point) for i in order
              for point in label_points(masks[i])]
    while True:
        placed = place_labels(wanted, image, scale, reserved)
        if all(placed) or scale <= MIN_TEXT_SCALE:
            return [label for label in placed if label is not None], scale
        scale = max(MIN_TEXT_SCALE, scale * 0.8)


def draw_ranked_overlay(
    image_rgb: np.ndarray, instances: PanoInstances, title: str | None = None
) -> np.ndarray:
    """RGB copy of ``image_rgb`` with each instance filled, outlined and numbered by rank.

    Masks at another resolution than the image are resized (nearest). Less important
    instances are drawn first, so the most important stay on top.
    """
    height, width = image_rgb.shape[:2]
    out = np.ascontiguousarray(image_rgb, dtype=np.uint8).copy()
    if instances.ranks is None:
        raise ValueError("the overlay needs ranked instances (ranks is None)")
    colours = rank_colours(len(instances))
    scale = max(0.45, height / 900.0)
    masks = []
    for i in range(len(instances)):
        mask = instances.masks[i]
        if mask.shape != (height, width):
            mask = cv2.resize(mask.astype(np.uint8), (width, height),
                              interpolation=cv2.INTER_NEAREST).astype(bool)
        masks.append(mask)
    for i in np.argsort(instances.ranks, kind="stable")[::-1]:
        colour = colours[int(instances.ranks[i]) - 1]
        mask = masks[i]
        out[mask] = (out[mask] * (1 - FILL_ALPHA) + colour * FILL_ALPHA).astype(np.uint8)
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, tuple(int(c) for c in colour), max(1, height // 400))
    band = [(0, height - _caption_height(title, scale * 0.8), width, height)] if title else []
    labels, label_scale = rank_labels(instances, masks, (height, width), scale, band)
    for label in labels:
        _draw_label(out, label, label_scale)
    if title:
        _caption(out, title, scale * 0.8)
    return out


def _caption_height(text: str, scale: float) -> int:
    thick = max(1, round(scale * 2))
    (_, th), base = cv2.getTextSize(text, FONT, scale, thick)
    return th + base + 8


def _caption(image: np.ndarray, text: str, scale: float) -> None:
    """Text on a dark band along the bottom edge, where it hides the least of the scene."""
    thick = max(1, round(scale * 2))
    _, base = cv2.getTextSize(text, FONT, scale, thick)
    band = _caption_height(text, scale)
    image[-band:] = (image[-band:] * 0.35).astype(np.uint8)
    cv2.putText(image, text, (6, image.shape[0] - base - 4), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), thick, cv2.LINE_AA)
