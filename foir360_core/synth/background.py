"""The world around the objects: a tiled ground plane, a ring of building walls and a sky.

The camera stands ``camera_height`` metres above an infinite ground plane, inside a ring of
building facades at ``wall_radius`` metres (a skyline with windows), under a sky with a
horizon-to-zenith gradient, clouds and a sun whose direction also lights the objects. All
of it is ray cast per pixel like the objects, so the panorama is a consistent 360° scene
with texture everywhere (saliency models and segmenters see edges, not flat colour).
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

from foir360_core.geometry import lonlat_grid, lonlat_to_vector
from foir360_core.synth.rays import directions32
from foir360_core.synth.shapes import row_matmul
from foir360_core.synth.textures import sinusoid_noise

CLOUD_HEIGHT = 400.0


@dataclass(eq=False)
class Background:
    """Parameters of the static world; sample one with :func:`sample_background`."""

    camera_height: float
    wall_radius: float
    sun: np.ndarray  # unit vector, REP 103
    sky_zenith: np.ndarray
    sky_horizon: np.ndarray
    cloudiness: float
    ground_colors: np.ndarray  # (2, 3)
    tile_size: float
    building_edges: np.ndarray  # (B + 1,) azimuths from -π to π
    building_heights: np.ndarray  # (B,)
    building_colors: np.ndarray  # (B, 3)
    window_colors: np.ndarray  # (2, 3): dark, lit
    phase: np.ndarray  # (3,) noise phase


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v))


def sample_background(rng: np.random.Generator) -> Background:
    """A random but plausible outdoor setting."""
    sun_lon = rng.uniform(-np.pi, np.pi)
    sun_lat = np.radians(rng.uniform(25.0, 70.0))
    sky_hue = rng.uniform(0.53, 0.64)
    ground_hue = rng.choice([rng.uniform(0.05, 0.12), rng.uniform(0.22, 0.35), 0.0])
    ground_sat = 0.0 if ground_hue == 0.0 else rng.uniform(0.2, 0.5)
    ground_val = rng.uniform(0.35, 0.6)
    n_buildings = int(rng.integers(8, 17))
    cuts = np.sort(rng.uniform(-np.pi, np.pi, n_buildings - 1))
    return Background(
        camera_height=float(rng.uniform(1.3, 1.9)),
        wall_radius=float(rng.uniform(35.0, 60.0)),
        sun=lonlat_to_vector(sun_lon, sun_lat),
        sky_zenith=_hsv(sky_hue, rng.uniform(0.45, 0.7), rng.uniform(0.6, 0.85)),
        sky_horizon=_hsv(sky_hue + 0.02, rng.uniform(0.08, 0.25), rng.uniform(0.85, 0.98)),
        cloudiness=float(rng.uniform(0.0, 0.8)),
        ground_colors=np.stack([
            _hsv(ground_hue, ground_sat, ground_val),
            _hsv(ground_hue, ground_sat * 0.8, ground_val * rng.uniform(0.65, 0.85)),
        ]),
        tile_size=float(rng.uniform(0.8, 2.0)),
        building_edges=np.r_[-np.pi, cuts, np.pi],
        building_heights=rng.uniform(5.0, 30.0, n_buildings),
        building_colors=np.stack([
            _hsv(rng.uniform(0.0, 0.15), rng.uniform(0.05, 0.35), rng.uniform(0.45, 0.8))
            for _ in range(n_buildings)
        ]),
        window_colors=np.stack([
            _hsv(0.6, rng.uniform(0.2, 0.4), rng.uniform(0.15, 0.3)),
            _hsv(0.13, rng.uniform(0.3, 0.6), rng.uniform(0.8, 0.95)),
        ]),
        phase=rng.uniform(0.0, 100.0, 3),
    )


def render_background(bg: Background, height: int) -> np.ndarray:
    """RGB float32 (H, 2H, 3) in [0, 1] of the world seen from the camera.

    It runs over every pixel, so it exploits the ERP grid: what a ray meets depends on its
    row (ground below the latitude where the ground meets the walls, wall height reached
    per row) and its column (which building), so the three regions are found with outer
    comparisons instead of per-pixel ray tests, and colour is computed in float32.
    """
    width = 2 * height
    lon, lat = lonlat_grid(height, width)
    dirs = directions32(height)
    # Rows (top to bottom) whose rays reach the ground before the walls.
    horizon_gap = np.arctan2(bg.camera_height, bg.wall_radius)
    first_ground = int(np.searchsorted(-lat, horizon_gap, side="right"))
    azimuth = -lon  # REP 103 azimuth of each column
    building = np.clip(np.searchsorted(bg.building_edges, azimuth) - 1, 0,
                       bg.building_heights.size - 1)
    wall_z = bg.wall_radius * np.tan(lat[:first_ground])  # height of the wall hit, per row
    on_wall = wall_z[:, None] < (bg.building_heights[building] - bg.camera_height)[None, :]

    out = np.empty((height, width, 3), dtype=np.float32)
    upper = out[:first_ground]
    upper[:] = _sky(bg, dirs[:first_ground].reshape(-1, 3)).reshape(upper.shape)
    rows, cols = np.nonzero(on_wall)
    upper[rows, cols] = _walls(bg, azimuth[cols].astype(np.float32),
                               (wall_z[rows] + bg.camera_height).astype(np.float32),
                               building[cols])
    t_ground = (bg.camera_height / -np.sin(lat[first_ground:])).astype(np.float32)
    points = dirs[first_ground:] * t_ground[:, None, None]
    out[first_ground:] = _ground(bg, points.reshape(-1, 3)).reshape(points.shape)
    return out


def _mix(a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Per-pixel blend of two RGB colours, float32."""
    a, b = a.astype(np.float32), b.astype(np.float32)
    return a + (b - a) * weight[:, None]


def _sky(bg: Background, d: np.ndarray) -> np.ndarray:
    up = np.clip(d[:, 2], 0.0, 1.0)
    colour = _mix(bg.sky_horizon, bg.sky_zenith, np.sqrt(up))
    # Clouds on a flat layer high above: projected coordinates, faded toward the horizon.
    points = np.zeros_like(d)
    points[:, :2] = d[:, :2] * (CLOUD_HEIGHT / np.maximum(d[:, 2:3], 0.05))
    cloud = sinusoid_noise(points, 0.0025, bg.phase)
    cover = np.clip((cloud - (1.0 - bg.cloudiness * 0.6)) * 4.0, 0.0, 1.0)
    cover *= np.clip(up * 4.0, 0.0, 1.0)
    colour += (np.float32(0.97) - colour) * cover[:, None]
    glow = np.exp((row_matmul(d, bg.sun.astype(np.float32)) - 1.0) * 60.0)
    colour += glow[:, None] * np.array([1.0, 0.95, 0.8], np.float32)
    return np.clip(colour, 0.0, 1.0, out=colour)


def _ground(bg: Background, points: np.ndarray) -> np.ndarray:
    cells = np.floor(points[:, :2] / np.float32(bg.tile_size)).astype(np.int64)
    checker = (cells.sum(axis=1) & 1).astype(np.float32)
    dist = np.hypot(points[:, 0], points[:, 1])
    contrast = np.exp(-dist / 25.0)  # fade the tiles far away instead of aliasing them
    colour = _mix(bg.ground_colors[0], bg.ground_colors[1], 0.5 + (checker - 0.5) * contrast)
    grain = sinusoid_noise(points, 0.7, bg.phase)
    colour *= (0.825 + 0.35 * grain)[:, None]
    return np.clip(colour, 0.0, 1.0, out=colour)


def _walls(bg: Background, azimuth: np.ndarray, height: np.ndarray, building: np.ndarray):
    """Facades with a grid of windows (2.5 m bays, 3.2 m floors), some lit at random."""
    bay = azimuth * np.float32(bg.wall_radius / 2.5)
    storey = height / np.float32(3.2)
    col, floor_ = np.floor(bay), np.floor(storey)
    in_window = ((bay - col) > 0.25) & ((bay - col) < 0.75) & \
        ((storey - floor_) > 0.3) & ((storey - floor_) < 0.8) & (height > 1.5)
    lit = (np.sin(col * 12.9898 + floor_ * 78.233 + building) * 43758.5453) % 1.0 > 0.7
    facade = bg.building_colors.astype(np.float32)[building]
    window = np.where(lit[:, None], bg.window_colors[1], bg.window_colors[0]).astype(np.float32)
    colour = np.where(in_window[:, None], window, facade)
    shade = 0.75 + 0.25 * np.cos(azimuth - np.float32(np.arctan2(bg.sun[1], bg.sun[0])))
    colour *= shade[:, None]
    return np.clip(colour, 0.0, 1.0, out=colour)
