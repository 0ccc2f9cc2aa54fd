"""Equirectangular (ERP) conventions, in one place (SPEC §3).

* An ERP image has H rows and W = 2H columns; pixel centres sit at (u + 0.5, v + 0.5).
* Longitude ``lon`` grows with the column, from -π at the left edge to +π at the right
  edge; the centre column (lon = 0) looks forward. Latitude is +π/2 at the top row.
* Directions use REP 103 body axes: x forward, y left, z up. Turning right in the image
  (growing longitude) is turning clockwise seen from above, so ``azimuth = -lon``:
  ``x = cos(lat)cos(lon)``, ``y = -cos(lat)sin(lon)``, ``z = sin(lat)``.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

import numpy as np

ASPECT_TOLERANCE = 0.01


class ErpShapeError(ValueError):
    """An image is not a plausible equirectangular panorama."""


def check_erp_shape(height: int, width: int, *, strict: bool = True) -> None:
    """Reject (or, with ``strict=False``, warn about) a frame that is not 2:1.

    A non-2:1 image is usually a perspective camera on the wrong topic or a cropped
    panorama; every spherical quantity computed from it would be silently wrong.
    """
    if height <= 0 or width <= 0:
        raise ErpShapeError(f"empty image of {width}x{height}; an ERP panorama is W=2H")
    if abs(width / height - 2.0) <= 2.0 * ASPECT_TOLERANCE:
        return
    message = (
        f"image of {width}x{height} is not a 2:1 equirectangular panorama "
        f"(expected width {2 * height}); check the camera topic or stitch/resize to W=2H"
    )
    if strict:
        raise ErpShapeError(message)
    warnings.warn(message, stacklevel=2)


def pixel_to_lonlat(u: np.ndarray, v: np.ndarray, height: int, width: int):
    """Continuous pixel coordinates (u = column, v = row; centres at +0.5) to radians."""
    lon = (np.asarray(u, dtype=np.float64) / width) * 2.0 * np.pi - np.pi
    lat = np.pi / 2.0 - (np.asarray(v, dtype=np.float64) / height) * np.pi
    return lon, lat


def lonlat_to_pixel(lon: np.ndarray, lat: np.ndarray, height: int, width: int):
    """Radians to continuous pixel coordinates; u is wrapped into [0, W)."""
    u = ((np.asarray(lon, dtype=np.float64) + np.pi) / (2.0 * np.pi)) * width
    v = ((np.pi / 2.0 - np.asarray(lat, dtype=np.float64)) / np.pi) * height
    return np.mod(u, width), v


def lonlat_to_vector(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Unit vectors (..., 3) in REP 103 axes."""
    lon, lat = np.broadcast_arrays(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
    cos_lat = np.cos(lat)
    return np.stack([cos_lat * np.cos(lon), -cos_lat * np.sin(lon), np.sin(lat)], axis=-1)


def vector_to_lonlat(vec: np.ndarray):
    """Inverse of :func:`lonlat_to_vector`; vectors need not be unit length."""
    vec = np.asarray(vec, dtype=np.float64)
    norm = np.linalg.norm(vec, axis=-1)
    lon = np.arctan2(-vec[..., 1], vec[..., 0])
    lat = np.arcsin(np.clip(vec[..., 2] / np.maximum(norm, 1e-300), -1.0, 1.0))
    return lon, lat


def azimuth_elevation(vec: np.ndarray):
    """REP 103 azimuth = atan2(y, x) (positive left) and elevation = asin(z), radians."""
    vec = np.asarray(vec, dtype=np.float64)
    norm = np.linalg.norm(vec, axis=-1)
    azimuth = np.arctan2(vec[..., 1], vec[..., 0])
    elevation = np.arcsin(np.clip(vec[..., 2] / np.maximum(norm, 1e-300), -1.0, 1.0))
    return azimuth, elevation


@lru_cache(maxsize=16)
def lonlat_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Longitude per column (W,) and latitude per row (H,) of pixel centres (cached)."""
    lon, _ = pixel_to_lonlat(np.arange(width) + 0.5, np.zeros(1), height, width)
    _, lat = pixel_to_lonlat(np.zeros(1), np.arange(height) + 0.5, height, width)
    lon.setflags(write=False)
    lat.setflags(write=False)
    return lon, lat


@lru_cache(maxsize=16)
def solid_angle_weights(height: int, width: int) -> np.ndarray:
    """Exact solid angle (steradians) of each pixel row, shape (H, 1); sums to 4π over the image.

    A row between latitudes lat0 > lat1 covers ``(sin lat0 - sin lat1) * 2π / W`` per pixel:
    the pixel area on the sphere is proportional to cos(latitude).
    """
    edges = np.pi / 2.0 - np.arange(height + 1) * (np.pi / height)
    per_row = (np.sin(edges[:-1]) - np.sin(edges[1:])) * (2.0 * np.pi / width)
    weights = per_row[:, None]
    weights.setflags(write=False)
    return weights


def yaw_roll(image: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate a panorama about the vertical axis by a whole number of pixels.

    Positive ``degrees`` turns the camera to the left (REP 103 positive yaw), so the scene
    moves right in the image. This is exact (a circular shift) only for angles that are a
    whole number of columns; other angles are rejected rather than resampled.
    """
    width = image.shape[1]
    shift = degrees / 360.0 * width
    columns = round(shift)
    if not math.isclose(shift, columns, abs_tol=1e-6):
        raise ValueError(
            f"yaw of {degrees} deg is {shift:.3f} columns at width {width}; "
            "use a multiple of 360/W degrees for an exact roll"
        )
    return np.roll(image, columns, axis=1)
