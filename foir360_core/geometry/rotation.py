"""Rotations of the whole sphere applied to ERP images (training augmentation).

A yaw rotation of the sphere is an exact column roll of the ERP image (``erp.yaw_roll``).
Pitch and roll are not: they move the horizon, so every pixel is resampled. A camera on a
robot is rarely held perfectly level, so small pitch/roll rotations of the training
panoramas show the network tilted horizons, at the cost of one ``cv2.remap`` per image.
"""

from __future__ import annotations

import cv2
import numpy as np

from foir360_core.geometry.erp import (
    lonlat_grid,
    lonlat_to_pixel,
    lonlat_to_vector,
    vector_to_lonlat,
)


def tilt_matrix(pitch_deg: float, roll_deg: float) -> np.ndarray:
    """3×3 rotation: roll about x (forward), then pitch about y (left), REP 103 axes."""
    p, r = np.radians(pitch_deg), np.radians(roll_deg)
    roll = np.array([[1, 0, 0], [0, np.cos(r), -np.sin(r)], [0, np.sin(r), np.cos(r)]])
    pitch = np.array([[np.cos(p), 0, np.sin(p)], [0, 1, 0], [-np.sin(p), 0, np.cos(p)]])
    return pitch @ roll


def tilt_maps(height: int, width: int, pitch_deg: float, roll_deg: float):
    """``cv2.remap`` maps (x, y float32) that show the sphere rotated by pitch and roll.

    Output pixel direction ``d`` samples the input at ``R⁻¹ d``: the scene turns by ``R``.
    """
    lon, lat = lonlat_grid(height, width)
    dirs = lonlat_to_vector(lon[None, :], lat[:, None])
    src = dirs @ tilt_matrix(pitch_deg, roll_deg)  # row vectors: d @ R == R^T d
    src_lon, src_lat = vector_to_lonlat(src)
    u, v = lonlat_to_pixel(src_lon, src_lat, height, width)
    return (u - 0.5).astype(np.float32), (v - 0.5).astype(np.float32)


def tilt_image(image: np.ndarray, maps, *, nearest: bool = False) -> np.ndarray:
    """Resample an (H, W, C) or (H, W) array with :func:`tilt_maps`; columns wrap at the seam."""
    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.remap(image, maps[0], maps[1], interp, borderMode=cv2.BORDER_WRAP)
