"""What the annotation page shows for one panorama: the pictures and their hit-test maps.

The 360Rank protocol (paper seed 000, "Annotation Protocol", Eq. 6) ranks a sparse scene
directly on the ERP image, turned about the vertical axis so that no object is cut by the
left/right seam, and splits a dense scene into overlapping rectilinear sub-windows that
are ranked one at a time (distortion-free views make small or stretched objects easier to
judge). Everything here is pure numpy/OpenCV so it can be unit-tested without a server.

Each picture (a *surface*) comes with a per-pixel object-index map: 0 = no object,
k + 1 = object k. Where masks overlap the smallest object wins, so an object lying on a
larger one stays clickable; the page hit-tests clicks against this map client-side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from foir360_core.geometry import (
    ViewGeometry,
    erp_to_view,
    fov_to_contain,
    vector_to_lonlat,
    yaw_roll,
)
from foir360_core.geometry.views import MAX_FOV_DEG
from foir360_core.labeling.density import density_score
from foir360_core.structures import PanoInstances

DEFAULT_DENSE_THRESHOLD = 10.0
# Eq. 6 adds pixel distances and pixel areas, so the score grows as the image shrinks: a
# scene that is sparse at 2048x1024 scores about 16x higher at 512x256. The density is
# therefore measured as if the panorama were this wide (the size of most 360Rank source
# images), so one threshold means the same at every resolution; None = native pixels.
DEFAULT_DENSITY_WIDTH = 2048


@dataclass(frozen=True)
class WindowOptions:
    """How a dense panorama is cut into sub-windows.

    ``count`` windows around the horizon, ``fov_deg`` wide (horizontal), so neighbours
    overlap by ``fov_deg - 360 / count`` degrees: the shared objects are the "transfer
    bridges" the local rank collector needs. An object takes part in a window when at
    least ``min_visible`` of its solid angle lies inside it; an object that is in no ring
    window (near a pole, or too large) gets a window centred on it.
    """

    count: int = 6
    fov_deg: float = 90.0
    width: int = 640
    height: int = 480
    min_visible: float = 0.6

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"window count must be at least 1, got {self.count}")
        if not 0.0 < self.min_visible <= 1.0:
            raise ValueError(f"min_visible must be in (0, 1], got {self.min_visible}")


@dataclass(frozen=True)
class Surface:
    """One clickable picture: the rolled ERP (sparse) or one sub-window (dense).

    ``objects`` are the object indices to rank on this surface; ``label_points`` maps
    each of them to an (x, y) pixel deep inside its visible part (where the page draws
    its rank badge and where a test can click). ``geometry`` is None for the ERP.
    """

    image: np.ndarray
    index_map: np.ndarray
    objects: tuple[int, ...]
    label_points: dict[int, tuple[int, int]]
    geometry: ViewGeometry | None = None


@dataclass(frozen=True)
class PreparedPanorama:
    """A panorama made ready for annotation.

    ``roll_columns`` is the circular shift applied to the sparse ERP (0 for dense);
    ``components`` counts groups of objects linked through shared windows (1 means the
    collector can relate every pair; more means some pairs rest on its fallback order).
    ``unseen`` lists objects that are in no dense window and so get no vote.
    """

    mode: str
    density: float
    dense_threshold: float
    n_objects: int
    surfaces: tuple[Surface, ...]
    roll_columns: int = 0
    yaw_deg: float = 0.0
    components: int = 1
    unseen: tuple[int, ...] = ()


def choose_roll(masks: np.ndarray) -> int:
    """Columns to roll the ERP by so the seam falls in the widest object-free gap.

    The middle of the widest circular run of empty columns is moved onto the seam. When
    every column holds some object, the column with the fewest object pixels goes to the
    seam instead, so the cut touches as little as possible.
    """
    width = masks.shape[2]
    if masks.shape[0] == 0:
        return 0
    per_column = masks.sum(axis=(0, 1))
    empty = per_column == 0
    if not empty.any():
        return int((-int(np.argmin(per_column))) % width)
    if empty.all():
        return 0
    # Start scanning just after an occupied column so no run is split at index 0.
    start = int(np.flatnonzero(~empty)[0])
    order = (np.arange(width) + start) % width
    best_len, best_start, run_len, run_start = 0, 0, 0, 0
    for col in order:
        if empty[col]:
            if run_len == 0:
                run_start = int(col)
            run_len += 1
            if run_len > best_len:
                best_len, best_start = run_len, run_start
        else:
            run_len = 0
    # Put the gap's middle column at column 0 (the left edge) so it wraps across the seam.
    middle = (best_start + best_len // 2) % width
    return int((-middle) % width)


def index_map(masks: np.ndarray, objects: tuple[int, ...] | list[int]) -> np.ndarray:
    """uint16 map: 0 = none, k + 1 = object k; the smaller of overlapping objects wins."""
    height, width = masks.shape[1:]
    if len(objects) >= np.iinfo(np.uint16).max:
        raise ValueError(f"{len(objects)} objects exceed the index map's 65534 limit")
    out = np.zeros((height, width), dtype=np.uint16)
    area = {k: int(masks[k].sum()) for k in objects}
    for k in sorted(objects, key=lambda o: (-area[o], o)):
        out[masks[k]] = k + 1
    return out


def label_points(
    index: np.ndarray, objects: tuple[int, ...] | list[int]
) -> dict[int, tuple[int, int]]:
    """For each object, the pixel of its visible region farthest from the region's edge.

    An object hidden completely under smaller ones has no point; the page still lists it
    so it can be ranked from the list.
    """
    points: dict[int, tuple[int, int]] = {}
    for k in objects:
        region = (index == k + 1).astype(np.uint8)
        if not region.any():
            continue
        dist = cv2.distanceTransform(np.pad(region, 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
        y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
        points[k] = (int(x), int(y))
    return points


def _fit_width(image: np.ndarray, index: np.ndarray, max_width: int):
    """Downscale a large ERP and its index map for display; keep every object clickable."""
    height, width = index.shape
    if width <= max_width:
        return image, index
    new_w = max_width
    new_h = max(1, round(height * max_width / width))
    small = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
    small_index = cv2.resize(index, (new_w, new_h), interpolation=cv2.INTER_NEAREST)
    lost = set(np.unique(index).tolist()) - set(np.unique(small_index).tolist())
    for value in sorted(lost):
        ys, xs = np.nonzero(index == value)
        small_index[int(ys.mean() * new_h / height), int(xs.mean() * new_w / width)] = value
    return small, small_index


@lru_cache(maxsize=64)
def _view_solid_angles(geom: ViewGeometry) -> np.ndarray:
    """Solid angle (sr) of each view pixel, flattened: ``f⁻² / (1 + x² + y²)^1.5`` for a
    pinhole at image-plane position (x, y) in focal units."""
    f = geom.focal_px
    x = (np.arange(geom.width) + 0.5 - geom.width / 2.0) / f
    y = (np.arange(geom.height) + 0.5 - geom.height / 2.0) / f
    r2 = x[None, :] ** 2 + y[:, None] ** 2
    weights = ((1.0 / f**2) / (1.0 + r2) ** 1.5).astype(np.float32).ravel()
    weights.setflags(write=False)
    return weights


def visible_fraction(instances: PanoInstances, geom: ViewGeometry) -> np.ndarray:
    """Fraction of each object's solid angle that a view shows, (N,).

    The masks are sampled into the (small) view and weighted by each view pixel's solid
    angle, then compared with the object's whole solid angle: one remap per view instead
    of a pass over the full-size panorama.
    """
    view = erp_to_view(instances.masks, geom, masks=True)
    inside = view.reshape(view.shape[0], -1).astype(np.float32) @ _view_solid_angles(geom)
    total = np.array([g.solid_angle for g in instances.geometry])
    return np.where(total > 0, inside / np.maximum(total, 1e-300), 0.0)


def _window_members(instances: PanoInstances, geom: ViewGeometry, min_visible: float) -> list[int]:
    """Objects with at least ``min_visible`` of their solid angle inside a view."""
    fraction = visible_fraction(instances, geom)
    return [int(k) for k in np.flatnonzero(fraction >= min_visible - 1e-9)]


def _bridge_window(
    instances: PanoInstances, i: int, j: int, options: WindowOptions
) -> ViewGeometry:
    """A square view centred between objects i and j, wide enough to hold both if it can."""
    directions = np.array([g.direction for g in instances.geometry])
    middle = directions[i] + directions[j]
    if np.linalg.norm(middle) < 1e-9:  # antipodal: no view holds both; centre on i
        middle = directions[i]
    lon, lat = (float(a) for a in vector_to_lonlat(middle))
    both = instances.masks[i] | instances.masks[j]
    fov = min(max(fov_to_contain(both, lon, lat, margin=0.25), options.fov_deg), MAX_FOV_DEG)
    return ViewGeometry(lon, lat, fov, options.height, options.height)


def components(n_objects: int, groups: list[list[int]]) -> list[list[int]]:
    """Groups of objects linked through shared windows (each window links its members)."""
    parent = list(range(n_objects))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for members in groups:
        for other in members[1:]:
            parent[find(other)] = find(members[0])
    found: dict[int, list[int]] = {}
    for k in range(n_objects):
        found.setdefault(find(k), []).append(k)
    return list(found.values())


def plan_windows(
    instances: PanoInstances, options: WindowOptions
) -> tuple[list[tuple[ViewGeometry, list[int]]], tuple[int, ...]]:
    """Overlapping sub-windows and the objects ranked in each; also the objects in none.

    A ring of ``options.count`` windows on the horizon comes first (windows with fewer
    than two objects are dropped: one click orders nothing). The collector can only
    relate objects linked through shared windows, so while the objects fall into several
    such groups, the smallest group is bridged to its nearest outside object (by the
    angle between spherical centres) with a window centred between the two; both take
    part in it even when one is too large to fit whole. Objects near a pole or far from
    every ring window are reached the same way.
    """
    n = len(instances)
    windows: list[tuple[ViewGeometry, list[int]]] = []
    for i in range(options.count):
        lon = math.remainder(2.0 * math.pi * i / options.count, 2.0 * math.pi)
        geom = ViewGeometry(lon, 0.0, options.fov_deg, options.width, options.height)
        members = _window_members(instances, geom, options.min_visible)
        if len(members) >= 2:
            windows.append((geom, members))
    if n >= 2:
        directions = np.array([g.direction for g in instances.geometry])
        angle = np.arccos(np.clip(directions @ directions.T, -1.0, 1.0))
        for _ in range(n):
            groups = components(n, [m for _, m in windows])
            if len(groups) == 1:
                break
            group = min(groups, key=lambda g: (len(g), g[0]))
            outside = np.setdiff1d(np.arange(n), group)
            sub = angle[np.ix_(group, outside)]
            a, b = np.unravel_index(int(np.argmin(sub)), sub.shape)
            i, j = int(group[a]), int(outside[b])
            geom = _bridge_window(instances, i, j, options)
            members = sorted(set(_window_members(instances, geom, options.min_visible)) | {i, j})
            windows.append((geom, members))
    seen = {k for _, members in windows for k in members}
    return windows, tuple(k for k in range(n) if k not in seen)


def _sparse_surface(image: np.ndarray, masks: np.ndarray, roll: int, max_width: int) -> Surface:
    width = image.shape[1]
    degrees = roll * 360.0 / width
    rolled_image = yaw_roll(image, degrees)
    rolled_masks = yaw_roll(masks.transpose(1, 2, 0), degrees).transpose(2, 0, 1)
    objects = tuple(range(masks.shape[0]))
    index = index_map(rolled_masks, objects)
    shown, shown_index = _fit_width(rolled_image, index, max_width)
    return Surface(shown, shown_index, objects, label_points(shown_index, objects))


def _window_surface(image: np.ndarray, masks: np.ndarray, geom: ViewGeometry,
                    members: list[int]) -> Surface:
    view = erp_to_view(image, geom)
    view_masks = np.zeros((masks.shape[0], geom.height, geom.width), dtype=bool)
    view_masks[members] = erp_to_view(masks[members], geom, masks=True)
    index = index_map(view_masks, members)
    return Surface(view, index, tuple(members), label_points(index, members), geom)


def prepare_panorama(
    image: np.ndarray,
    instances: PanoInstances,
    *,
    dense_threshold: float = DEFAULT_DENSE_THRESHOLD,
    windows: WindowOptions | None = None,
    max_width: int = 2048,
    density_width: int | None = DEFAULT_DENSITY_WIDTH,
) -> PreparedPanorama:
    """Decide sparse vs dense by Eq. 6 and build the surfaces the page will show.

    Raises ``ValueError`` when the masks do not fit the image or there are no objects:
    there is nothing to rank then, and the caller records why.
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB image (H, W, 3), got shape {image.shape}")
    if instances.image_size != image.shape[:2]:
        h, w = instances.image_size
        raise ValueError(
            f"masks are {w}x{h} but the image is {image.shape[1]}x{image.shape[0]}; "
            "the masks file was made for a different image (check file_name and size)"
        )
    if len(instances) == 0:
        raise ValueError("the panorama has no objects: there is nothing to rank")
    density = float(density_score(instances, reference_width=density_width))
    if density <= dense_threshold:
        roll = choose_roll(instances.masks)
        surface = _sparse_surface(image, instances.masks, roll, max_width)
        return PreparedPanorama(
            mode="sparse", density=density, dense_threshold=dense_threshold,
            n_objects=len(instances), surfaces=(surface,), roll_columns=roll,
            yaw_deg=roll * 360.0 / image.shape[1],
        )
    planned, unseen = plan_windows(instances, windows or WindowOptions())
    surfaces = tuple(_window_surface(image, instances.masks, g, m) for g, m in planned)
    return PreparedPanorama(
        mode="dense", density=density, dense_threshold=dense_threshold,
        n_objects=len(instances), surfaces=surfaces,
        components=len(components(len(instances), [list(s.objects) for s in surfaces])),
        unseen=unseen,
    )
