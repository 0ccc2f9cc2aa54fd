"""Instance masks from detection boxes, for box-only detectors such as ``coco-centernet``.

OpenCV GrabCut initialised from the box alone (``cv2.GC_INIT_WITH_RECT``) on the full view
gave about half clean shapes at ~0.4 s per box. Here it runs on the box plus a context
margin (definite background), downscaled so its long side is at most ``max_side`` px (the
colour models need no more), and the result is cleaned to the connected parts that reach
the box's central half, holes filled; a result under 5 % of the box falls back to the
box's inscribed ellipse. ``seeded=True`` instead marks only the inscribed ellipse probably
foreground and the box corners probably background. ``benchmarks/bench_segment.py``
measures the variants against true masks (synthetic views with their exact boxes):
cropped GrabCut IoU 0.91 at ~36 ms per box against 0.89 at ~1 s for full-view GrabCut.
"""

from __future__ import annotations

import cv2
import numpy as np

MAX_SIDE = 128
ITERATIONS = 3
CONTEXT = 0.2     # margin around the box given to GrabCut as definite background, × box size
MIN_FILL = 0.05   # a result covering less of the box than this falls back to the box ellipse


def ellipse_mask(shape: tuple[int, int], box: np.ndarray) -> np.ndarray:
    """The ellipse inscribed in ``box`` (x1, y1, x2, y2) on a bool grid of ``shape``."""
    mask = np.zeros(shape, np.uint8)
    x1, y1, x2, y2 = (float(v) for v in box)
    centre = (round((x1 + x2) / 2), round((y1 + y2) / 2))
    axes = (max(1, round((x2 - x1) / 2)), max(1, round((y2 - y1) / 2)))
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 1, -1)
    return mask.astype(bool)


def _crop(shape: tuple[int, int], box: np.ndarray, context: float) -> tuple[int, int, int, int]:
    height, width = shape
    x1, y1, x2, y2 = (float(v) for v in box)
    pad_x, pad_y = context * (x2 - x1) + 2, context * (y2 - y1) + 2
    return (max(0, int(x1 - pad_x)), max(0, int(y1 - pad_y)),
            min(width, int(np.ceil(x2 + pad_x))), min(height, int(np.ceil(y2 + pad_y))))


def grabcut_mask(view_rgb: np.ndarray, box: np.ndarray, *, seeded: bool = False,
                 max_side: int = MAX_SIDE, iterations: int = ITERATIONS) -> np.ndarray:
    """The object's mask inside ``box`` (x1, y1, x2, y2, view pixels) as (h, w) bool."""
    height, width = view_rgb.shape[:2]
    box = np.clip(np.asarray(box, np.float64), 0, [width, height, width, height])
    if box[2] - box[0] < 2 or box[3] - box[1] < 2:
        return np.zeros((height, width), bool)
    cx0, cy0, cx1, cy1 = _crop((height, width), box, CONTEXT)
    crop = view_rgb[cy0:cy1, cx0:cx1]
    scale = min(1.0, max_side / max(crop.shape[:2]))
    small = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) \
        if scale < 1.0 else crop
    sx = (box[[0, 2]] - cx0) * scale
    sy = (box[[1, 3]] - cy0) * scale
    bx0, bx1 = int(sx[0]), max(int(np.ceil(sx[1])), int(sx[0]) + 2)
    by0, by1 = int(sy[0]), max(int(np.ceil(sy[1])), int(sy[0]) + 2)
    init = np.full(small.shape[:2], cv2.GC_BGD, np.uint8)
    init[by0:by1, bx0:bx1] = cv2.GC_PR_BGD if seeded else cv2.GC_PR_FGD
    if seeded:  # the box corners are probably background, its inscribed ellipse foreground
        init[ellipse_mask(small.shape[:2], np.array([bx0, by0, bx1, by1]))] = cv2.GC_PR_FGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(np.ascontiguousarray(small[..., ::-1]), init, None, bgd, fgd, iterations,
                    cv2.GC_INIT_WITH_MASK)
    except cv2.error:  # one colour model empty: a flat crop
        return ellipse_mask((height, width), box)
    fg = (init == cv2.GC_FGD) | (init == cv2.GC_PR_FGD)
    fg = _clean(fg, (bx0, by0, bx1, by1))
    out = np.zeros((height, width), bool)
    out[cy0:cy1, cx0:cx1] = cv2.resize(fg.astype(np.uint8), (cx1 - cx0, cy1 - cy0),
                                       interpolation=cv2.INTER_NEAREST).astype(bool)
    box_area = (box[2] - box[0]) * (box[3] - box[1])
    if out.sum() < MIN_FILL * box_area:
        return ellipse_mask((height, width), box)
    return out


def _clean(fg: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Keep the connected parts inside the box that reach its central half; fill holes."""
    x0, y0, x1, y1 = box
    inside = np.zeros_like(fg)
    inside[y0:y1, x0:x1] = fg[y0:y1, x0:x1]
    count, labels = cv2.connectedComponents(inside.astype(np.uint8), connectivity=8)
    if count <= 1:
        return inside
    qx, qy = (x1 - x0) // 4, (y1 - y0) // 4
    central = np.unique(labels[y0 + qy:y1 - qy, x0 + qx:x1 - qx])
    central = central[central > 0]
    if central.size == 0:
        sizes = np.bincount(labels.ravel())[1:]
        central = np.array([int(np.argmax(sizes)) + 1])
    kept = np.isin(labels, central).astype(np.uint8)
    contours, _ = cv2.findContours(kept, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(kept, contours, -1, 1, -1)
    return kept.astype(bool)
