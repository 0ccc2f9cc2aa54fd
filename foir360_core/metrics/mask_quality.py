"""Plausibility measures of predicted panorama masks, for models trained on real photos.

Not ranking metrics of any reference evaluator: they count the failure modes seen when a
model trained on synthetic scenes meets real 360° photos (issue 17) — masks on the sky,
ceiling or the floor under the camera, objects split into unconnected pieces, and an object
count that ignores the scene.

* ``polar_share`` — share of mask pixels in the top or bottom fifth of the rows (plain
  pixels, not solid angle: it is what an overlay shows).
* ``fragmented_share`` — share of instances with more than one connected part, the parts
  joined across the seam (``geometry.components``).
"""

from __future__ import annotations

import numpy as np

from foir360_core.geometry.components import seam_components


def polar_share(masks: np.ndarray, band: float = 0.2) -> float:
    """Share of all mask pixels (N, H, W) in the top or bottom ``band`` of the rows."""
    masks = np.asarray(masks, dtype=bool)
    total = int(masks.sum())
    if total == 0:
        return 0.0
    rows = masks.sum(axis=(0, 2))
    cut = round(band * masks.shape[1])
    return float((rows[:cut].sum() + rows[len(rows) - cut:].sum()) / total)


def fragmented_share(masks: np.ndarray) -> float:
    """Share of instances (N, H, W) whose mask has more than one seam-aware component."""
    masks = np.asarray(masks, dtype=bool)
    if len(masks) == 0:
        return 0.0
    return float(np.mean([seam_components(m) > 1 for m in masks]))
