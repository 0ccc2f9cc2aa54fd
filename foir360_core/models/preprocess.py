"""Image → network input, shared by training validation and every runtime backend.

The normalisation constants are part of the model contract (``models.artifact``), which
writes them into every checkpoint's and ONNX file's metadata, so a runtime never guesses.
"""

from __future__ import annotations

import cv2
import numpy as np

from foir360_core.models.artifact import MEAN, STD


def prepare_input(image_rgb: np.ndarray, input_hw: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) RGB uint8 → (1, 3, h, w) float32 normalised, resized to ``input_hw``.

    Area interpolation when shrinking (no aliasing of thin objects), linear when enlarging.
    """
    image = np.asarray(image_rgb)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"expected an RGB uint8 image of shape (H, W, 3), got {image.dtype} {image.shape}; "
            "convert with cv2.cvtColor / astype(np.uint8) first"
        )
    h, w = int(input_hw[0]), int(input_hw[1])
    if image.shape[:2] != (h, w):
        shrink = image.shape[0] > h
        image = cv2.resize(
            image, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        )
    x = image.astype(np.float32) * (1.0 / 255.0)
    x = (x - np.asarray(MEAN, np.float32)) / np.asarray(STD, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])
