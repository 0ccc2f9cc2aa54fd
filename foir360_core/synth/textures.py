"""Solid (3D) textures and shading for the synthetic primitives.

Textures are evaluated at the hit point in the object's local frame, so they stick to the
object whatever the view and need no (u, v) parametrisation per shape. The "noise" is a
sum of oriented sinusoids rather than lattice noise: fully vectorised, deterministic and
rich enough to give saliency models and segmenters texture edges to work on.
"""

from __future__ import annotations

import numpy as np

from foir360_core.synth.shapes import SceneObject, row_matmul

# Fixed octave directions and frequencies of the sinusoid noise (the same for every scene;
# each object shifts them with its own phase vector).
_NOISE_DIRS = np.random.default_rng(360).normal(size=(6, 3))
_NOISE_DIRS /= np.linalg.norm(_NOISE_DIRS, axis=1, keepdims=True)
_NOISE_FREQ = np.array([1.0, 1.7, 2.9, 4.3, 6.1, 9.7])
_NOISE_AMP = 1.0 / _NOISE_FREQ**0.7
AMBIENT = 0.32
SKY_FILL = 0.18


def sinusoid_noise(points: np.ndarray, freq: float, phase: np.ndarray) -> np.ndarray:
    """Smooth pseudo-random field in [0, 1] over 3D points (M, 3), in the points' dtype.

    One small matrix product, one in-place sine and one matrix-vector product: this runs
    over every sky and ground pixel, so it is kept lean (float32 input stays float32).
    """
    dtype = points.dtype
    proj = row_matmul(points + phase.astype(dtype), _NOISE_DIRS.T.astype(dtype))  # (M, 6)
    proj *= (2.0 * np.pi * freq * _NOISE_FREQ).astype(dtype)
    np.sin(proj, out=proj)
    field = row_matmul(proj, (_NOISE_AMP / _NOISE_AMP.sum()).astype(dtype))
    field *= 0.5
    field += 0.5
    return field


def pattern(obj: SceneObject, local: np.ndarray) -> np.ndarray:
    """Texture weight in [0, 1] of the second colour at local hit points (M, 3)."""
    f = obj.texture_freq
    if obj.texture == "plain":
        return np.zeros(local.shape[0])
    if obj.texture == "stripes":
        axis = obj.texture_phase / max(np.linalg.norm(obj.texture_phase), 1e-9)
        return (np.sin(2.0 * np.pi * f * row_matmul(local, axis)) > 0.0).astype(np.float64)
    if obj.texture == "checker":
        cells = np.floor(local * f + obj.texture_phase).astype(np.int64)
        return (cells.sum(axis=1) & 1).astype(np.float64)
    return np.clip((sinusoid_noise(local, f, obj.texture_phase) - 0.25) * 2.0, 0.0, 1.0)


def shade(obj: SceneObject, local: np.ndarray, normal: np.ndarray, sun: np.ndarray) -> np.ndarray:
    """Lit RGB in [0, 1] of hit points: textured albedo × (ambient + sky fill + Lambert sun)."""
    weight = pattern(obj, local)[:, None]
    albedo = obj.colors[0] * (1.0 - weight) + obj.colors[1] * weight
    lambert = np.clip(row_matmul(normal, sun), 0.0, None)
    sky = 0.5 * (normal[:, 2] + 1.0)
    light = AMBIENT + SKY_FILL * sky + (1.0 - AMBIENT) * lambert
    return np.clip(albedo * light[:, None], 0.0, 1.0)
