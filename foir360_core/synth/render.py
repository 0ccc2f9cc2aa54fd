"""Exact ray casting of a synthetic scene into an ERP panorama, with exact visible masks.

One ray per ERP pixel centre leaves the camera at the origin (directions from
``foir360_core.geometry``, REP 103 axes). Each object is only tested against the pixel
window of its bounding sphere's cap on the sphere of directions (seam-aware, full width
when the cap holds a pole), which is what keeps 1024×512 well under a second. A depth
buffer keeps the nearest hit per pixel, so masks are the *visible* parts and are
disjoint by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from foir360_core.geometry import vector_to_lonlat
from foir360_core.structures import PanoInstances
from foir360_core.synth.background import Background, render_background, sample_background
from foir360_core.synth.rays import ray_directions
from foir360_core.synth.scene import sample_objects
from foir360_core.synth.shapes import CATEGORIES, SHAPES, SceneObject, intersect
from foir360_core.synth.textures import shade

DEFAULT_OBJECTS = (6, 12)
MIN_HEIGHT = 32


@dataclass
class SynthPanorama:
    """A rendered panorama.

    ``image`` is RGB uint8 (H, 2H, 3). ``instances`` holds the visible objects (no ranks).
    ``class_names[k - 1]`` names class id ``k`` (one category per primitive type).
    ``objects[i]`` is the 3D object behind instance ``i``; ``hidden`` are the objects whose
    visible part fell below the minimum pixel count (drawn, but not in the instance list).
    """

    image: np.ndarray
    instances: PanoInstances
    class_names: tuple[str, ...]
    objects: tuple[SceneObject, ...]
    hidden: tuple[SceneObject, ...] = ()
    seed: int | None = None

    @property
    def categories(self) -> list[dict]:
        """COCO categories for :func:`foir360_core.io.write_dataset`."""
        return [dict(c) for c in CATEGORIES]


def cap_window(center: np.ndarray, radius: float, height: int) -> tuple[slice, np.ndarray]:
    """Rows (a slice) and columns (wrapped indices) whose pixel centres may see a sphere.

    The sphere of ``radius`` at ``center`` covers a cap of angular radius
    ``α = asin(r / |c|)`` around its direction. Its latitude span is ``lat ± α``; unless
    the cap holds a pole, its longitude span is ``lon ± asin(sin α / cos lat)``. One pixel
    of margin on each side absorbs rounding. Columns wrap modulo W, so an object across the
    seam gets one contiguous window.
    """
    width = 2 * height
    dist = float(np.linalg.norm(center))
    alpha = float(np.arcsin(min(1.0, radius / dist)))
    lon, lat = (float(x) for x in vector_to_lonlat(center))
    px = np.pi / height  # one pixel in radians (rows and columns alike when W = 2H)
    top = max(0, int(np.floor((np.pi / 2 - (lat + alpha)) / px)) - 1)
    bottom = min(height, int(np.ceil((np.pi / 2 - (lat - alpha)) / px)) + 1)
    if lat + alpha >= np.pi / 2 or lat - alpha <= -np.pi / 2:
        return slice(top, bottom), np.arange(width)
    half = float(np.arcsin(min(1.0, np.sin(alpha) / np.cos(lat))))
    first = int(np.floor((lon - half + np.pi) / px)) - 1
    last = int(np.ceil((lon + half + np.pi) / px)) + 1
    if last - first >= width:
        return slice(top, bottom), np.arange(width)
    return slice(top, bottom), np.arange(first, last) % width


def default_min_pixels(height: int) -> int:
    """Smallest visible area kept as an instance: 1/10,000 of the image, at least 16 pixels."""
    return max(16, (2 * height * height) // 10_000)


def render_scene(
    objects: list[SceneObject],
    background: Background,
    height: int = 512,
    *,
    min_pixels: int | None = None,
    seed: int | None = None,
    backdrop: np.ndarray | None = None,
) -> SynthPanorama:
    """Ray cast ``objects`` in front of ``background`` into an H × 2H panorama.

    ``backdrop`` (float32 (H, 2H, 3) in [0, 1]) replaces the rendered background, for a
    camera that is not upright at the origin (see :mod:`foir360_core.synth.sequence`).

    The background is infinitely far for the depth test (the scene sampler keeps objects
    above the ground and inside the walls). Objects with fewer than ``min_pixels`` visible
    pixels (default :func:`default_min_pixels`; never fewer than 1) are drawn but left out
    of the instances and listed in ``hidden``.
    """
    if height < MIN_HEIGHT:
        raise ValueError(f"height must be at least {MIN_HEIGHT} pixels, got {height}")
    dirs = ray_directions(height)
    image = render_background(background, height) if backdrop is None else backdrop.copy()
    depth = np.full((height, 2 * height), np.inf)
    owner = np.full((height, 2 * height), -1, dtype=np.int32)
    for index, obj in enumerate(objects):
        rows, cols = cap_window(obj.center, obj.bounding_radius, height)
        window = dirs[rows][:, cols]
        hit = intersect(obj, window.reshape(-1, 3))
        t = hit.t.reshape(window.shape[:2])
        nearer = t < depth[rows][:, cols]
        if not nearer.any():
            continue
        rr, cc = np.nonzero(nearer)
        gr, gc = rr + rows.start, cols[cc]
        depth[gr, gc] = t[nearer]
        owner[gr, gc] = index
        flat = nearer.ravel()
        image[gr, gc] = shade(obj, hit.local[flat], hit.normal[flat], background.sun)

    counts = np.bincount(owner.ravel() + 1, minlength=len(objects) + 1)[1:]
    limit = default_min_pixels(height) if min_pixels is None else min_pixels
    keep = [i for i, n in enumerate(counts) if n >= max(1, limit)]
    kept = set(keep)
    masks = owner[None] == np.asarray(keep, dtype=np.int32)[:, None, None]
    instances = PanoInstances(
        masks=masks.reshape(len(keep), height, 2 * height),
        class_ids=np.array([objects[i].class_id for i in keep], dtype=np.int64),
    )
    return SynthPanorama(
        image=np.round(image * 255.0).astype(np.uint8),
        instances=instances,
        class_names=SHAPES,
        objects=tuple(objects[i] for i in keep),
        hidden=tuple(o for i, o in enumerate(objects) if i not in kept),
        seed=seed,
    )


def _object_count(rng: np.random.Generator, n_objects: int | tuple[int, int] | None) -> int:
    low, high = DEFAULT_OBJECTS if n_objects is None else (
        (n_objects, n_objects) if isinstance(n_objects, int) else n_objects)
    if low < 0 or high < low:
        raise ValueError(f"object count range must be 0 <= MIN <= MAX, got {low}-{high}")
    return int(rng.integers(low, high + 1))


def render_panorama(
    seed: int,
    height: int = 512,
    n_objects: int | tuple[int, int] | None = None,
    *,
    min_pixels: int | None = None,
) -> SynthPanorama:
    """Sample a scene from ``seed`` and render it; the same seed always gives the same panorama.

    ``n_objects`` is an exact count, an inclusive ``(min, max)`` range, or ``None`` for
    6–12. Fewer instances than objects may come back: tiny or fully hidden ones are dropped.
    """
    rng = np.random.default_rng(seed)
    count = _object_count(rng, n_objects)
    background = sample_background(rng)
    objects = sample_objects(rng, background, count)
    return render_scene(objects, background, height, min_pixels=min_pixels, seed=seed)
