"""Debug overlay: masks tinted by rank (1 = warmest), outlined, labelled at their centre."""

from __future__ import annotations

import cv2
import numpy as np

from foir360_core.geometry import lonlat_to_pixel
from foir360_core.structures import PanoInstances

ALPHA = 0.45


def rank_colours(n: int) -> np.ndarray:
    """(n, 3) RGB uint8: rank 1 red through to rank n blue (OpenCV's turbo map)."""
    if n == 0:
        return np.zeros((0, 3), dtype=np.uint8)
    levels = np.linspace(255, 0, n).astype(np.uint8).reshape(-1, 1)
    return cv2.applyColorMap(levels, cv2.COLORMAP_TURBO)[:, 0, ::-1].copy()


def draw_overlay(image_rgb: np.ndarray, instances: PanoInstances, ranks: np.ndarray) -> np.ndarray:
    """An RGB copy of ``image_rgb`` with every instance drawn; masks may be at lower resolution.

    Less important instances are drawn first so the most important ones stay on top.
    """
    height, width = image_rgb.shape[:2]
    out = image_rgb.copy()
    colours = rank_colours(len(instances))
    order = np.argsort(ranks, kind="stable")[::-1]
    for i in order:
        mask = cv2.resize(instances.masks[i].astype(np.uint8), (width, height),
                          interpolation=cv2.INTER_NEAREST).astype(bool)
        colour = colours[int(ranks[i]) - 1]
        out[mask] = (out[mask] * (1 - ALPHA) + colour * ALPHA).astype(np.uint8)
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, tuple(int(c) for c in colour), 2)
    scale = max(0.4, height / 700)
    for i, geom in enumerate(instances.geometry):
        u, v = lonlat_to_pixel(geom.lon, geom.lat, height, width)
        org = (int(u), int(v))
        text = str(int(ranks[i]))
        cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 4, cv2.LINE_AA)
        cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return out
