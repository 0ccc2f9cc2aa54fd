"""The camera rays of an ERP panorama: one unit direction per pixel centre (cached per size)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from foir360_core.geometry import lonlat_grid, lonlat_to_vector


@lru_cache(maxsize=3)
def ray_directions(height: int) -> np.ndarray:
    """Unit direction (H, 2H, 3), REP 103, of the ray through each pixel centre (read-only).

    float64, because object intersections must decide exactly which pixel centres a
    surface covers.
    """
    lon, lat = lonlat_grid(height, 2 * height)
    dirs = lonlat_to_vector(lon[None, :], lat[:, None])
    dirs.setflags(write=False)
    return dirs


@lru_cache(maxsize=3)
def directions32(height: int) -> np.ndarray:
    """float32 copy of :func:`ray_directions` for the background, which needs no more."""
    dirs = ray_directions(height).astype(np.float32)
    dirs.setflags(write=False)
    return dirs
