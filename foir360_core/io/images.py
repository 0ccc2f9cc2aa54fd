"""Image files in and out. Everything in foir360_core is RGB uint8 (H, W, 3) in memory."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8; raise ``FileNotFoundError`` / ``ValueError`` clearly."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ValueError(
            f"cannot decode image {path}: the file is empty, truncated or not an image"
        )
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def write_image(path: str | Path, rgb: np.ndarray) -> None:
    """Write an RGB (or single-channel) uint8 image; the format follows the suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.ndim == 3 else rgb
    ok, buf = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise ValueError(f"cannot encode image as {path.suffix}")
    buf.tofile(path)
