"""COCO run-length encoding of masks, through pycocotools (lossless, any COCO tool reads it).

The RLE ``counts`` are kept as the compact COCO string form; ``size`` is [H, W].
"""

from __future__ import annotations

import numpy as np
from pycocotools import mask as coco_mask


def encode_masks(masks: np.ndarray) -> list[dict]:
    """(N, H, W) bool → N COCO RLE dicts ``{"size": [H, W], "counts": str}``.

    pycocotools reads (H, W, N) uint8 in Fortran order. Masks laid out that way (each
    mask's columns contiguous, as ``models.postprocess.upsample_masks`` and ``decode_rle``
    produce them) are passed through as a byte view, without a copy; any other layout is
    copied once.
    """
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim != 3:
        raise ValueError(f"masks must be (N, H, W), got shape {masks.shape}")
    if masks.shape[0] == 0:
        return []
    encoded = coco_mask.encode(np.asfortranarray(np.moveaxis(masks, 0, -1).view(np.uint8)))
    return [{"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}
            for rle in encoded]


def _as_coco(rle: dict) -> dict:
    counts = rle["counts"]
    if isinstance(counts, list):  # uncompressed COCO RLE
        return coco_mask.frPyObjects(rle, *rle["size"])
    if isinstance(counts, str):
        counts = counts.encode("ascii")
    return {"size": list(rle["size"]), "counts": counts}


def decode_rle(rles: list[dict]) -> np.ndarray:
    """N COCO RLE dicts (compressed or uncompressed counts) → (N, H, W) bool.

    pycocotools writes 0/1 bytes in Fortran order; they are returned as a bool view of
    that buffer (no copy), which ``encode_masks`` accepts back without a copy.
    """
    if not rles:
        raise ValueError("decode_rle needs at least one RLE (the size comes from it)")
    decoded = coco_mask.decode([_as_coco(r) for r in rles])
    return np.moveaxis(decoded, -1, 0).view(bool)


def rle_area(rles: list[dict]) -> np.ndarray:
    """Pixel area of each RLE without decoding."""
    return np.asarray(coco_mask.area([_as_coco(r) for r in rles]), dtype=np.int64)
