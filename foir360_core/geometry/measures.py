"""Spherical measures of instance masks on an ERP grid: centre, seam-aware box, extent.

All of these work on the sphere, not the image plane, so an object that crosses the
left/right seam or sits near a pole gets the right centre and a compact box.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from foir360_core.geometry.erp import (
    azimuth_elevation,
    lonlat_grid,
    solid_angle_weights,
    vector_to_lonlat,
)

# Relative size of the summed vector below which a mask's directions cancel out.
_CANCEL_TOLERANCE = 1e-4


@dataclass(frozen=True)
class MaskGeometry:
    """Derived geometry of one mask. Angles in radians; box in ERP pixels (see seam_aware_bbox)."""

    direction: tuple[float, float, float]
    azimuth: float
    elevation: float
    lon: float
    lat: float
    bbox_xywh: tuple[int, int, int, int]
    extent_deg: tuple[float, float]
    solid_angle: float
    area_px: int


def _masks_3d(masks: np.ndarray) -> np.ndarray:
    masks = np.asarray(masks)
    if masks.ndim == 2:
        masks = masks[None]
    if masks.ndim != 3:
        raise ValueError(f"masks must be (H, W) or (N, H, W), got shape {masks.shape}")
    return masks


def _lon_basis(width: int) -> np.ndarray:
    """(3, W) float32 rows cos(lon), sin(lon), 1 of the column centres."""
    lon, _ = lonlat_grid(1, width)
    return np.stack([np.cos(lon), np.sin(lon), np.ones(width)]).astype(np.float32)


def _span(used: np.ndarray) -> tuple[int, int]:
    """[first, last + 1) of the used entries; (0, 0) when none is."""
    index = np.flatnonzero(used)
    return (int(index[0]), int(index[-1]) + 1) if index.size else (0, 0)


def _rows_used(rows: np.ndarray) -> np.ndarray:
    """``rows.any(axis=1)`` of a C-contiguous bool (R, C), read 8 bytes at a time when C allows."""
    if rows.shape[1] % 8 == 0 and rows.flags.c_contiguous:
        rows = rows.view(np.uint64)
    return rows.any(axis=1)


def _row_sums(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-row Σ mask·cos(lon), Σ mask·sin(lon), Σ mask, each (N, H) float32; columns used (N, W).

    Everything spherical about a mask follows from these: its centroid (with the latitude
    terms), its area and solid angle from the counts, its box from the rows and columns
    used. One mask at a time is converted to float (it stays in cache), only over the box
    of rows and columns it touches, and multiplied with the (3, W) longitude basis in
    whichever order its memory runs, so masks laid out column-major for RLE
    (``models.postprocess``) are read without a copy. The products
    are ``einsum`` loops, not BLAS: a multi-threaded BLAS on a busy CPU took 100x longer.
    """
    n, height, width = masks.shape
    basis = _lon_basis(width)
    sums = np.zeros((n, 3, height), dtype=np.float32)
    cols = np.zeros((n, width), dtype=bool)
    for i, mask in enumerate(masks):
        if mask.T.flags.c_contiguous and not mask.flags.c_contiguous:  # longitude-major
            cols[i] = _rows_used(mask.T)
            lo, hi = _span(cols[i])
            block = mask.T[lo:hi]
            top, bottom = _span(block.any(axis=0))
            sums[i, :, top:bottom] = np.einsum("kw,wh->kh", basis[:, lo:hi],
                                               block[:, top:bottom].astype(np.float32))
        else:
            top, bottom = _span(mask.any(axis=1))
            cols[i] = mask[top:bottom].any(axis=0)
            lo, hi = _span(cols[i])
            sums[i, :, top:bottom] = np.einsum("hw,kw->kh",
                                               mask[top:bottom, lo:hi].astype(np.float32),
                                               basis[:, lo:hi])
    return sums[:, 0], sums[:, 1], sums[:, 2], cols


def _centroids(row_cos: np.ndarray, row_sin: np.ndarray, row_cnt: np.ndarray, width: int):
    """(N, 3) unit centroids and (N,) solid angles from :func:`_row_sums`."""
    height = row_cnt.shape[1]
    _, lat = lonlat_grid(height, width)
    row_w = solid_angle_weights(height, width)[:, 0]
    cos_lat = np.cos(lat) * row_w
    sin_lat = np.sin(lat) * row_w
    vec = np.stack([np.einsum("nh,h->n", row_cos, cos_lat),
                    -np.einsum("nh,h->n", row_sin, cos_lat),
                    np.einsum("nh,h->n", row_cnt, sin_lat)], axis=-1).astype(np.float64)
    norm = np.linalg.norm(vec, axis=-1, keepdims=True)
    solid = np.einsum("nh,h->n", row_cnt, row_w)
    degenerate = norm[:, 0] <= _CANCEL_TOLERANCE * solid
    out = vec / np.where(norm > 0, norm, 1.0)
    out[degenerate] = (1.0, 0.0, 0.0)
    return out, solid


def spherical_centroid(masks: np.ndarray) -> np.ndarray:
    """Solid-angle weighted mean direction of each mask, renormalised; (N, 3) or (3,).

    The mean of unit vectors is computed as per-row sums (a matrix product with the
    column cos/sin of longitude), so it costs one pass over the mask. A mask whose
    vectors cancel (the whole sphere, a band symmetric about the equator) has no centre;
    it, and an empty mask, fall back to forward (1, 0, 0). "Cancel" is judged relative
    to the mask's solid angle, above float32 rounding of the row sums.
    """
    single = np.asarray(masks).ndim == 2
    m = _masks_3d(masks)
    row_cos, row_sin, row_cnt, _ = _row_sums(m)
    centres, _ = _centroids(row_cos, row_sin, row_cnt, m.shape[2])
    return centres[0] if single else centres


def seam_aware_bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Tightest ERP box (x, y, w, h) of a mask, in whole pixels, that may wrap the seam.

    ``x`` is in [0, W); when ``x + w > W`` the box continues from column 0. The box
    leaves out the widest circular run of empty columns, so an object crossing the seam
    gets one narrow box instead of one spanning the whole width. On equal gaps the box
    that does not wrap wins. An empty mask gives (0, 0, 0, 0).
    """
    mask = np.asarray(mask, dtype=bool)
    return _box(mask.any(axis=1), mask.any(axis=0))


def _box(rows_used: np.ndarray, cols_used: np.ndarray) -> tuple[int, int, int, int]:
    """The seam-aware box of a mask from which of its rows (H,) and columns (W,) are used."""
    width = cols_used.size
    rows = np.flatnonzero(rows_used)
    if rows.size == 0:
        return (0, 0, 0, 0)
    cols = np.flatnonzero(cols_used)
    y, h = int(rows[0]), int(rows[-1] - rows[0] + 1)
    if cols.size == width:
        return (0, y, width, h)
    gaps = np.diff(cols, append=cols[0] + width) - 1
    k = cols.size - 1 if gaps[-1] == gaps.max() else int(np.argmax(gaps))
    x = int(cols[(k + 1) % cols.size])
    return (x, y, int(width - gaps[k]), h)


def angular_extent(bbox_xywh: tuple[int, int, int, int], height: int, width: int):
    """Horizontal and vertical angular size (degrees) of a seam-aware ERP box."""
    _, _, w, h = bbox_xywh
    return (w * 360.0 / width, h * 180.0 / height)


def mask_geometry(masks: np.ndarray) -> list[MaskGeometry]:
    """All derived geometry for each of N masks (N, H, W)."""
    m = _masks_3d(masks).astype(bool, copy=False)
    _, height, width = m.shape
    row_cos, row_sin, row_cnt, cols_used = _row_sums(m)
    centres, solid = _centroids(row_cos, row_sin, row_cnt, width)
    lon, lat = vector_to_lonlat(centres)
    az, el = azimuth_elevation(centres)
    areas = row_cnt.sum(axis=1, dtype=np.float64)  # whole counts: exact in float64
    result = []
    for i in range(m.shape[0]):
        box = _box(row_cnt[i] > 0, cols_used[i])
        result.append(
            MaskGeometry(
                direction=tuple(float(c) for c in centres[i]),
                azimuth=float(az[i]),
                elevation=float(el[i]),
                lon=float(lon[i]),
                lat=float(lat[i]),
                bbox_xywh=box,
                extent_deg=angular_extent(box, height, width),
                solid_angle=float(solid[i]),
                area_px=int(areas[i]),
            )
        )
    return result
