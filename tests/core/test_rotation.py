"""Pitch/roll rotations of ERP images."""

from __future__ import annotations

import numpy as np

from foir360_core.geometry import lonlat_to_vector, spherical_centroid
from foir360_core.geometry.rotation import tilt_image, tilt_maps, tilt_matrix


def test_zero_tilt_is_identity():
    image = np.random.default_rng(0).integers(0, 255, (32, 64, 3), dtype=np.uint8)
    maps = tilt_maps(32, 64, 0.0, 0.0)
    assert np.array_equal(tilt_image(image, maps, nearest=True), image)


def test_mask_moves_with_the_rotation():
    """A blob's spherical centre lands where the rotation sends it (within a pixel)."""
    h, w = 128, 256
    mask = np.zeros((h, w), np.uint8)
    mask[50:60, 140:150] = 1
    before = spherical_centroid(mask[None].astype(bool))[0]
    after_mask = tilt_image(mask, tilt_maps(h, w, 12.0, -7.0), nearest=True).astype(bool)
    after = spherical_centroid(after_mask[None])[0]
    expected = tilt_matrix(12.0, -7.0) @ before
    assert np.degrees(np.arccos(np.clip(after @ expected, -1, 1))) < 1.5


def test_tilt_matrix_is_a_rotation():
    r = tilt_matrix(10.0, 20.0)
    assert np.allclose(r @ r.T, np.eye(3))
    assert np.isclose(np.linalg.det(r), 1.0)
    forward = lonlat_to_vector(np.array(0.0), np.array(0.0))
    assert np.allclose(tilt_matrix(0.0, 30.0) @ forward, forward)  # roll keeps forward
