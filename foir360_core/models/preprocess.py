"""Image → network input, shared by training validation and every runtime backend.

The normalisation constants are part of the model contract (``models.artifact``), which
writes them into every checkpoint's and ONNX file's metadata, so a runtime never guesses.
"""

from __future__ import annotations

import cv2
import numpy as np

from foir360_core.models.artifact import MEAN, STD

# uint8 value -> normalised input, per RGB channel: (v / 255 - mean) / std with the float32
# operations of the whole-image form, so looking a pixel up gives the same bits as computing
# it. As cv2.LUT tables (1, 256, 3) for RGB and for BGR pixels: one lookup and one split into
# the output planes replace four full-size float passes and a transpose.
_TABLE = ((np.arange(256, dtype=np.float32) * np.float32(1.0 / 255.0))[None]
          - np.asarray(MEAN, np.float32)[:, None]) / np.asarray(STD, np.float32)[:, None]
_LUTS = {False: np.ascontiguousarray(_TABLE.T[None]),
         True: np.ascontiguousarray(_TABLE[::-1].T[None])}


def prepare_input(image: np.ndarray, input_hw: tuple[int, int], *, bgr: bool = False
                  ) -> np.ndarray:
    """(H, W, 3) uint8 → (1, 3, h, w) float32 normalised RGB, resized to ``input_hw``.

    ``bgr`` says the channels come in OpenCV's order (bgr8 frames, decoded JPEGs): they are
    swapped in the lookup at input size, never by copying the full-size frame. Area
    interpolation when shrinking (no aliasing of thin objects), linear when enlarging.
    """
    image = np.asarray(image)
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
    out = np.empty((1, 3, h, w), dtype=np.float32)
    planes = [out[0, c] for c in ((2, 1, 0) if bgr else (0, 1, 2))]
    cv2.split(cv2.LUT(image, _LUTS[bgr]), planes)
    return out
