"""3D primitives and their exact ray intersections, for rays cast from the camera origin.

Every primitive lives in its own local frame: ``rotation`` (3 × 3, columns = local axes in
the REP 103 camera frame) and ``center`` (metres). A ray ``t·d`` from the origin becomes
``o + t·d_l`` locally with ``o = Rᵀ(−c)`` and ``d_l = Rᵀd``, so each shape only needs its
canonical, axis-aligned intersection. Intersections are closed-form (quadratics and
slabs), vectorised over a batch of rays, and return the nearest positive ``t`` (``inf``
on a miss), the local hit point (for solid textures) and the world-frame normal (for
shading). The camera is always outside every object (the scene sampler guarantees it),
so the nearest root is the visible surface.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Category ids are 1-based (COCO). One category per primitive type.
SHAPES: tuple[str, ...] = ("sphere", "ellipsoid", "box", "cylinder", "cone")
CATEGORIES: list[dict] = [
    {"id": i + 1, "name": name, "supercategory": "primitive"} for i, name in enumerate(SHAPES)
]
TEXTURES: tuple[str, ...] = ("plain", "stripes", "checker", "noise")


@dataclass(eq=False)
class SceneObject:
    """One primitive of a synthetic scene.

    ``size`` holds the shape parameters in metres: sphere (r, r, r), ellipsoid semi-axes,
    box half-extents, cylinder and cone (radius, radius, half-height) with the axis along
    local z (a cone's apex at +half-height). ``colors`` are two RGB albedos in [0, 1] that
    the texture mixes; ``texture_freq`` is its spatial frequency in cycles per metre.
    ``role`` records why the sampler placed it (ground, floating, seam, polar, occluder).
    """

    kind: str
    center: np.ndarray
    rotation: np.ndarray
    size: np.ndarray
    colors: np.ndarray
    texture: str = "plain"
    texture_freq: float = 4.0
    role: str = "floating"
    texture_phase: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def __post_init__(self) -> None:
        if self.kind not in SHAPES:
            raise ValueError(f"unknown shape {self.kind!r}; expected one of {SHAPES}")
        if self.texture not in TEXTURES:
            raise ValueError(f"unknown texture {self.texture!r}; expected one of {TEXTURES}")
        self.center = np.asarray(self.center, dtype=np.float64).reshape(3)
        self.rotation = np.asarray(self.rotation, dtype=np.float64).reshape(3, 3)
        self.size = np.asarray(self.size, dtype=np.float64).reshape(3)
        self.colors = np.asarray(self.colors, dtype=np.float64).reshape(2, 3)
        self.texture_phase = np.asarray(self.texture_phase, dtype=np.float64).reshape(3)
        if np.any(self.size <= 0):
            raise ValueError(f"{self.kind} sizes must be positive, got {self.size.tolist()}")

    @property
    def class_id(self) -> int:
        """1-based category id of this primitive type."""
        return SHAPES.index(self.kind) + 1

    @property
    def bounding_radius(self) -> float:
        """Radius of a sphere around ``center`` that holds the whole object."""
        a, b, c = self.size
        if self.kind in ("sphere", "ellipsoid"):
            return float(max(a, b, c))
        if self.kind == "box":
            return float(np.sqrt(a * a + b * b + c * c))
        return float(np.hypot(a, c))  # cylinder and cone: rim of the base

    @property
    def lowest_offset(self) -> float:
        """How far the object reaches below its centre along world z (for resting on the ground)."""
        a, _, c = self.size
        if self.kind in ("sphere", "ellipsoid"):
            # Support of an ellipsoid along z: sqrt(Σ (a_i R_zi)^2).
            return float(np.sqrt(np.sum((self.size * self.rotation[2]) ** 2)))
        if self.kind == "box":
            return float(np.sum(np.abs(self.rotation[2]) * self.size))
        # Cylinder/cone: axis component plus the rim's reach.
        axis_z = abs(self.rotation[2, 2])
        return float(axis_z * c + a * np.sqrt(max(0.0, 1.0 - axis_z * axis_z)))


@dataclass
class Hit:
    """Nearest intersections of a batch of rays: ``t`` (inf = miss), local point, world normal."""

    t: np.ndarray
    local: np.ndarray
    normal: np.ndarray


def row_matmul(rows: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``rows @ matrix`` for a tall (M, 3) batch against a tiny matrix or vector.

    numpy hands such thin products to BLAS, whose thread start-up makes them up to 10×
    slower than einsum's plain loop on a small, busy machine; these run per pixel.
    """
    return np.einsum("ij,j...->i...", rows, matrix)


def intersect(obj: SceneObject, dirs: np.ndarray) -> Hit:
    """Nearest hit of rays ``dirs`` (M, 3) from the origin with ``obj``."""
    rot = obj.rotation
    origin = -(obj.center @ rot)  # Rᵀ(−c)
    d_local = row_matmul(dirs, rot)  # rows: Rᵀ d
    # Misses divide by zero and take square roots of negatives; they end up as t = inf.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t, n_local = _LOCAL[obj.kind](origin, d_local, obj.size)
        t = np.where(np.isfinite(t) & (t > 0.0), t, np.inf)
        local = origin + t[:, None] * d_local
        normal = row_matmul(n_local, rot.T)
        normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    return Hit(t=t, local=local, normal=normal)


def _ellipsoid(o: np.ndarray, d: np.ndarray, size: np.ndarray):
    """Unit sphere after scaling by the semi-axes; the normal is the scaled gradient."""
    os_, ds = o / size, d / size
    a = np.einsum("ij,ij->i", ds, ds)
    b = row_matmul(ds, os_)
    c = os_ @ os_ - 1.0
    disc = b * b - a * c
    t = (-b - np.sqrt(disc)) / a  # nan where disc < 0 → miss
    p = o + t[:, None] * d
    return t, p / (size * size)


def _box(o: np.ndarray, d: np.ndarray, size: np.ndarray):
    """Slab test; the entry face (the slab with the largest entry t) gives the normal."""
    inv = 1.0 / d
    t1 = (-size - o) * inv
    t2 = (size - o) * inv
    near = np.minimum(t1, t2)
    far = np.maximum(t1, t2)
    t_near = near.max(axis=1)
    t_far = far.min(axis=1)
    t = np.where(t_far >= t_near, t_near, np.inf)
    axis = near.argmax(axis=1)
    normal = np.zeros_like(d)
    rows = np.arange(d.shape[0])
    normal[rows, axis] = -np.sign(d[rows, axis])
    return t, normal


def _capped(o: np.ndarray, d: np.ndarray, z: float, radius: float, normal_z: float):
    """Hit of a disc cap at local height ``z`` of ``radius`` (normal ±z)."""
    t = (z - o[2]) / d[:, 2]
    px = o[0] + t * d[:, 0]
    py = o[1] + t * d[:, 1]
    t = np.where(px * px + py * py <= radius * radius, t, np.inf)
    normal = np.zeros_like(d)
    normal[:, 2] = normal_z
    return t, normal


def _nearest(candidates: list[tuple[np.ndarray, np.ndarray]]):
    """Pick, per ray, the smallest positive t among candidate surfaces."""
    ts = np.stack([np.where(np.isfinite(t) & (t > 0.0), t, np.inf) for t, _ in candidates])
    best = ts.argmin(axis=0)
    rows = np.arange(ts.shape[1])
    normals = np.stack([n for _, n in candidates])
    return ts[best, rows], normals[best, rows]


def _cylinder(o: np.ndarray, d: np.ndarray, size: np.ndarray):
    radius, half = size[0], size[2]
    a = d[:, 0] ** 2 + d[:, 1] ** 2
    b = o[0] * d[:, 0] + o[1] * d[:, 1]
    c = o[0] ** 2 + o[1] ** 2 - radius * radius
    t_side = (-b - np.sqrt(b * b - a * c)) / a
    z = o[2] + t_side * d[:, 2]
    t_side = np.where(np.abs(z) <= half, t_side, np.inf)
    side_n = np.zeros_like(d)
    side_n[:, 0] = o[0] + t_side * d[:, 0]
    side_n[:, 1] = o[1] + t_side * d[:, 1]
    side_n = np.nan_to_num(side_n, nan=0.0, posinf=0.0, neginf=0.0)
    return _nearest([(t_side, side_n), _capped(o, d, half, radius, 1.0),
                     _capped(o, d, -half, radius, -1.0)])


def _cone(o: np.ndarray, d: np.ndarray, size: np.ndarray):
    """Apex at z = +h, base of radius r at z = −h: x² + y² = k²(h − z)², k = r / 2h."""
    radius, half = size[0], size[2]
    k2 = (radius / (2.0 * half)) ** 2
    w = half - o[2]
    a = d[:, 0] ** 2 + d[:, 1] ** 2 - k2 * d[:, 2] ** 2
    b = o[0] * d[:, 0] + o[1] * d[:, 1] + k2 * w * d[:, 2]
    c = o[0] ** 2 + o[1] ** 2 - k2 * w * w
    root = np.sqrt(b * b - a * c)
    candidates = []
    for root_t in ((-b - root) / a, (-b + root) / a):  # one may lie on the mirror nappe
        z = o[2] + root_t * d[:, 2]
        t = np.where((z >= -half) & (z <= half), root_t, np.inf)
        p = o + np.nan_to_num(t, posinf=0.0)[:, None] * d
        n = np.stack([p[:, 0], p[:, 1], k2 * (half - p[:, 2])], axis=1)
        candidates.append((t, n))
    candidates.append(_capped(o, d, -half, radius, -1.0))
    return _nearest(candidates)


def _sphere(o: np.ndarray, d: np.ndarray, size: np.ndarray):
    return _ellipsoid(o, d, np.full(3, size[0]))


_LOCAL = {
    "sphere": _sphere,
    "ellipsoid": _ellipsoid,
    "box": _box,
    "cylinder": _cylinder,
    "cone": _cone,
}
