"""Random placement of primitives around the camera, with the cases ERP code gets wrong.

Each object gets a *role*. The first ones are fixed so that every scene of three or more
objects exercises the hard cases: one straddles the left/right seam (longitude ±180°),
one sits near a pole (high above, or on the ground at the camera's feet), and one floats
in front of another so that it occludes it. The rest rest on the ground or float at
random. Placements are rejection-sampled so that bounding spheres never overlap, nothing
sinks into the ground, and the camera stays outside every object.
"""

from __future__ import annotations

import colorsys
from collections.abc import Callable

import numpy as np
from scipy.spatial.transform import Rotation

from foir360_core.geometry import lonlat_to_vector
from foir360_core.synth.background import Background
from foir360_core.synth.shapes import SHAPES, SceneObject

FIXED_ROLES: tuple[str, ...] = ("seam", "polar", "occluder")
RANDOM_ROLES: tuple[str, ...] = ("ground", "floating", "seam", "polar", "occluder")
RANDOM_ROLE_P = np.array([0.5, 0.25, 0.07, 0.08, 0.1])
TEXTURE_P = {"plain": 0.2, "stripes": 0.3, "checker": 0.25, "noise": 0.25}
MAX_TRIES = 40
CLEARANCE = 0.25  # metres between the camera and any object surface
GAP = 0.05  # metres between bounding spheres


def sample_objects(
    rng: np.random.Generator, background: Background, n_objects: int
) -> list[SceneObject]:
    """Up to ``n_objects`` non-overlapping primitives (fewer only if placement keeps failing)."""
    objects: list[SceneObject] = []
    for index in range(n_objects):
        if index < len(FIXED_ROLES):
            role = FIXED_ROLES[index]
        else:
            role = str(rng.choice(RANDOM_ROLES, p=RANDOM_ROLE_P))
        for _ in range(MAX_TRIES):
            candidate = _PLACERS[role](rng, background, objects)
            if candidate is not None and _fits(candidate, background, objects):
                objects.append(candidate)
                break
    return objects


def _fits(obj: SceneObject, bg: Background, others: list[SceneObject]) -> bool:
    radius = obj.bounding_radius
    dist = float(np.linalg.norm(obj.center))
    clearance = CLEARANCE if obj.role != "polar" else 0.1
    if dist - radius < clearance or dist + radius > bg.wall_radius - 1.0:
        return False
    if obj.center[2] - obj.lowest_offset < -bg.camera_height - 1e-9:
        return False
    return all(
        np.linalg.norm(obj.center - o.center) > radius + o.bounding_radius + GAP for o in others
    )


def _make(rng: np.random.Generator, scale: float, upright: bool) -> SceneObject:
    """A random primitive of roughly ``scale`` metres bounding radius, centred at the origin."""
    kind = str(rng.choice(SHAPES))
    if kind == "sphere":
        size = np.full(3, scale)
    elif kind == "ellipsoid":
        size = scale * np.array([1.0, rng.uniform(0.4, 0.9), rng.uniform(0.3, 0.7)])
        size = rng.permutation(size)
    elif kind == "box":
        size = scale * rng.uniform(0.3, 0.75, 3)
    else:  # cylinder, cone: (radius, radius, half-height)
        radius = scale * rng.uniform(0.3, 0.7)
        size = np.array([radius, radius, scale * rng.uniform(0.5, 0.95)])
    if upright:
        rotation = Rotation.from_euler("z", rng.uniform(0.0, 2.0 * np.pi)).as_matrix()
    else:
        rotation = Rotation.random(random_state=rng).as_matrix()
    texture = str(rng.choice(list(TEXTURE_P), p=list(TEXTURE_P.values())))
    hue = rng.uniform()
    first = colorsys.hsv_to_rgb(hue, rng.uniform(0.45, 0.95), rng.uniform(0.55, 0.95))
    second = colorsys.hsv_to_rgb(
        (hue + rng.choice([0.0, 0.5, rng.uniform(0.1, 0.4)])) % 1.0,
        rng.uniform(0.2, 0.9), rng.uniform(0.15, 0.95),
    )
    return SceneObject(
        kind=kind, center=np.zeros(3), rotation=rotation, size=size,
        colors=np.array([first, second]), texture=texture,
        texture_freq=float(rng.uniform(1.5, 5.0) / max(scale, 0.2)),
        texture_phase=rng.normal(size=3),
    )


def _on_ground(obj: SceneObject, bg: Background, lon: float, rho: float) -> SceneObject:
    """Stand ``obj`` on the ground, ``rho`` metres away horizontally at longitude ``lon``."""
    horizontal = lonlat_to_vector(lon, 0.0) * rho
    obj.center = horizontal + np.array([0.0, 0.0, obj.lowest_offset - bg.camera_height])
    return obj


def _angular_scale(rng: np.random.Generator, dist: float) -> float:
    """A size that looks 3–14° in radius from ``dist`` metres (so far objects stay visible)."""
    return float(np.clip(dist * np.tan(np.radians(rng.uniform(3.0, 14.0))), 0.2, 2.5))


def _place_ground(rng, bg, _others) -> SceneObject:
    rho = rng.uniform(2.0, 15.0)
    obj = _make(rng, _angular_scale(rng, rho), upright=True)
    obj.role = "ground"
    return _on_ground(obj, bg, rng.uniform(-np.pi, np.pi), rho)


def _place_floating(rng, bg, _others) -> SceneObject:
    dist = rng.uniform(2.5, 12.0)
    obj = _make(rng, _angular_scale(rng, dist), upright=False)
    lat = np.radians(rng.uniform(-15.0, 55.0))
    obj.center = lonlat_to_vector(rng.uniform(-np.pi, np.pi), lat) * dist
    obj.role = "floating"
    return obj


def _place_seam(rng, bg, _others) -> SceneObject:
    """Centre within half the object's angular radius of longitude ±180°, so it straddles."""
    obj = _place_ground(rng, bg, _others) if rng.uniform() < 0.6 else _place_floating(
        rng, bg, _others)
    dist = float(np.linalg.norm(obj.center))
    lat = float(np.arcsin(obj.center[2] / dist))
    alpha = np.arcsin(min(1.0, obj.bounding_radius / dist))
    lon = np.pi + rng.uniform(-0.5, 0.5) * alpha
    obj.center = lonlat_to_vector(lon, lat) * dist
    obj.role = "seam"
    return obj


def _place_polar(rng, bg, _others) -> SceneObject:
    """High overhead (elevation 62–80°) or on the ground at the camera's feet (−58 to −75°)."""
    if rng.uniform() < 0.5:
        obj = _make(rng, rng.uniform(0.3, 0.8), upright=False)
        lat = np.radians(rng.uniform(62.0, 80.0))
        obj.center = lonlat_to_vector(rng.uniform(-np.pi, np.pi), lat) * rng.uniform(2.0, 5.0)
    else:
        obj = _make(rng, rng.uniform(0.15, 0.4), upright=True)
        depth = bg.camera_height - obj.lowest_offset
        rho = depth / np.tan(np.radians(rng.uniform(58.0, 75.0)))
        obj = _on_ground(obj, bg, rng.uniform(-np.pi, np.pi), rho)
    obj.role = "polar"
    return obj


def _place_occluder(rng, bg, others) -> SceneObject | None:
    """In front of a random earlier object, offset by part of its angular radius."""
    if not others:
        return _place_floating(rng, bg, others)
    target = others[int(rng.integers(len(others)))]
    dist_t = float(np.linalg.norm(target.center))
    direction = target.center / dist_t
    alpha = np.arcsin(min(1.0, target.bounding_radius / dist_t))
    side = np.cross(direction, rng.normal(size=3))
    side /= max(np.linalg.norm(side), 1e-9)
    direction = direction + side * np.tan(alpha * rng.uniform(0.2, 0.8))
    direction /= np.linalg.norm(direction)
    dist = dist_t * rng.uniform(0.35, 0.65)
    scale = np.tan(alpha) * dist * rng.uniform(0.45, 0.85)
    if scale < 0.08:
        return None
    obj = _make(rng, scale, upright=False)
    obj.center = direction * dist
    obj.role = "occluder"
    return obj


_PLACERS: dict[str, Callable[..., SceneObject | None]] = {
    "ground": _place_ground,
    "floating": _place_floating,
    "seam": _place_seam,
    "polar": _place_polar,
    "occluder": _place_occluder,
}
