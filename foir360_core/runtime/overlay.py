"""Overlay of a ranked result: masks coloured by rank, rank numbers drawn, seam-aware.

An ERP panorama cuts every object that crosses the longitude seam into a left and a right
part. A person looking at the image sees two blobs, so each visible part of an object (each
connected component in the image, above a small area) carries the object's rank number,
placed at the point deepest inside that part, where it cannot fall onto a neighbour.
"""

from __future__ import annotations

import cv2
import numpy as np

from foir360_core.structures import PanoInstances

FILL_ALPHA = 0.45
MIN_PART_FRACTION = 0.05  # parts smaller than this share of the object get no number


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


def _text(image: np.ndarray, text: str, centre: tuple[int, int], scale: float) -> None:
    """White text with a dark outline, centred on ``centre`` and kept inside the image."""
    thick = max(1, round(scale * 2))
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    x = int(np.clip(centre[0] - tw // 2, 0, max(0, image.shape[1] - tw)))
    y = int(np.clip(centre[1] + th // 2, th, image.shape[0] - 1))
    cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick + 3,
                cv2.LINE_AA)
    cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick,
                cv2.LINE_AA)


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
    for i in range(len(instances)):
        for point in label_points(masks[i]):
            _text(out, str(int(instances.ranks[i])), point, scale)
    if title:
        _caption(out, title, scale * 0.8)
    return out


def _caption(image: np.ndarray, text: str, scale: float) -> None:
    """Text on a dark band along the bottom edge, where it hides the least of the scene."""
    thick = max(1, round(scale * 2))
    (_, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    band = th + base + 8
    image[-band:] = (image[-band:] * 0.35).astype(np.uint8)
    cv2.putText(image, text, (6, image.shape[0] - base - 4), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), thick, cv2.LINE_AA)
