"""Synthetic 360° sequences: a moving camera among moving objects, with ground-truth track ids.

The scene is one sampled by :func:`foir360_core.synth.scene.sample_objects` (so it has the
seam, pole and occlusion cases), set in motion:

* the camera turns (yaw, a constant rate), drives straight ahead on the ground plane and
  sways (small pitch and roll oscillations); every object sweeps across the image, so many
  cross the left/right seam;
* every object slides horizontally at its own small velocity, and one extra object flies
  straight over the camera's path, passing within a few degrees of the zenith mid-sequence;
* an object whose motion would bring it into the camera or the walls stands still, and is
  left out if even that fails.

Each frame is ray cast exactly like a still panorama (objects moved into the camera frame).
The background is treated as infinitely far: it turns with the camera (an exact ERP
rotation, ``cv2.remap`` with wrap-around) but has no parallax from the camera's translation.
Ground-truth track ids are the objects' indices + 1: the same object keeps its id in every
frame it is visible in; hidden or tiny ones are absent from that frame's instances. Tiny means
under 1/2048 of the frame (:func:`sequence_min_pixels`), a stricter floor than still panoramas
have: a speck of a few pixels blinks in and out behind its occluder from frame to frame, and
no tracker (nor a segmenter at the model's input size) can keep an identity on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from foir360_core.geometry import lonlat_to_pixel, vector_to_lonlat
from foir360_core.structures import PanoInstances
from foir360_core.synth.background import render_background, sample_background
from foir360_core.synth.rays import ray_directions
from foir360_core.synth.render import MIN_HEIGHT, default_min_pixels, render_scene
from foir360_core.synth.scene import CLEARANCE, _make, sample_objects
from foir360_core.synth.shapes import SceneObject

DEFAULT_T0_NS = 1_700_000_000_000_000_000
MIN_OBJECT_FRACTION = 1 / 2048
"""Smallest share of the frame a visible object needs to be a ground-truth instance."""


def sequence_min_pixels(height: int) -> int:
    """Smallest visible area of an instance in an H x 2H sequence frame: ``MIN_OBJECT_FRACTION``
    of the frame (64 pixels at 512x256), never below the still-panorama floor."""
    return max(default_min_pixels(height), int(np.ceil(2 * height * height * MIN_OBJECT_FRACTION)))


@dataclass(frozen=True)
class SequenceSettings:
    """The motion of a synthetic sequence; every rate is per frame."""

    frames: int = 100
    height: int = 256
    fps: float = 10.0
    yaw_deg: float = 2.0
    """Camera turn per frame (a full turn every 360 / yaw_deg frames)."""
    speed_m: float = 0.04
    """Camera travel per frame along its initial heading."""
    sway_deg: float = 3.0
    """Amplitude of the camera's pitch and roll oscillations."""
    object_speed_m: float = 0.03
    """Largest object speed (each object draws a random one up to this)."""
    n_objects: tuple[int, int] = (6, 10)
    t0_ns: int = DEFAULT_T0_NS
    min_pixels: int | None = None
    """Smallest visible area kept as an instance (default: :func:`sequence_min_pixels`)."""

    def __post_init__(self) -> None:
        if self.frames < 1:
            raise ValueError(f"a sequence needs at least 1 frame, got {self.frames}")
        if self.height < MIN_HEIGHT:
            raise ValueError(f"height must be at least {MIN_HEIGHT} pixels, got {self.height}")
        if self.fps <= 0:
            raise ValueError(f"fps must be > 0, got {self.fps}")

    def stamp_ns(self, index: int) -> int:
        """Capture time of frame ``index``."""
        return self.t0_ns + round(index * 1e9 / self.fps)


@dataclass
class SequenceFrame:
    """One rendered frame; ``track_ids[i]`` is the ground-truth identity of ``instances[i]``."""

    index: int
    stamp_ns: int
    image: np.ndarray
    instances: PanoInstances
    track_ids: np.ndarray
    roles: tuple[str, ...]


@dataclass
class _Mover:
    obj: SceneObject
    velocity: np.ndarray


class SequenceScene:
    """A sampled scene in motion; :meth:`frame` renders any frame of it (deterministic)."""

    def __init__(self, seed: int, settings: SequenceSettings | None = None) -> None:
        self.settings = settings or SequenceSettings()
        rng = np.random.default_rng(seed)
        low, high = self.settings.n_objects
        self.background = sample_background(rng)
        heading = rng.uniform(-np.pi, np.pi)
        self._direction = np.array([np.cos(heading), np.sin(heading), 0.0])
        self._yaw0 = rng.uniform(-np.pi, np.pi)
        objects = sample_objects(rng, self.background, int(rng.integers(low, high + 1)))
        movers = [_Mover(o, self._random_velocity(rng)) for o in objects]
        movers.append(self._pole_crosser(rng))
        self.movers = [m for m in movers if self._keep(m)]
        self._backdrop = render_background(self.background, self.settings.height)

    def _random_velocity(self, rng: np.random.Generator) -> np.ndarray:
        angle = rng.uniform(-np.pi, np.pi)
        speed = rng.uniform(0.0, self.settings.object_speed_m)
        return speed * np.array([np.cos(angle), np.sin(angle), 0.0])

    def _pole_crosser(self, rng: np.random.Generator) -> _Mover:
        """Flies along the camera's path 2.5 m up, 0.2 m aside: overhead at the middle frame."""
        obj = _make(rng, 0.35, upright=False)
        obj.role = "pole_pass"
        relative = 2.0 * self.settings.object_speed_m
        side = np.cross([0.0, 0.0, 1.0], self._direction)
        middle = self.settings.frames / 2.0
        obj.center = 0.2 * side + [0.0, 0.0, 2.5] - relative * middle * self._direction
        return _Mover(obj, self._direction * (self.settings.speed_m + relative))

    def _keep(self, mover: _Mover) -> bool:
        """Stop a mover that would hit the camera or the walls; drop it if standing still fails."""
        if self._clear(mover):
            return True
        mover.velocity = np.zeros(3)
        return self._clear(mover)

    def _clear(self, mover: _Mover) -> bool:
        radius = mover.obj.bounding_radius
        for index in range(self.settings.frames):
            offset = self.position(mover, index) - self.camera_position(index)
            horizontal = float(np.hypot(*offset[:2]))
            if np.linalg.norm(offset) - radius < CLEARANCE:
                return False
            if horizontal + radius > self.background.wall_radius - 1.0:
                return False
        return True

    def position(self, mover: _Mover, index: float) -> np.ndarray:
        return mover.obj.center + mover.velocity * index

    def camera_position(self, index: float) -> np.ndarray:
        return self._direction * self.settings.speed_m * index

    def camera_rotation(self, index: float) -> np.ndarray:
        """Camera-to-world rotation: yaw turning at a constant rate, pitch and roll swaying."""
        s = self.settings
        phase = 2.0 * np.pi * index / 40.0
        angles = [self._yaw0 + np.radians(s.yaw_deg) * index,
                  np.radians(s.sway_deg) * np.sin(phase), np.radians(s.sway_deg) * np.cos(phase)]
        return Rotation.from_euler("ZYX", angles).as_matrix()

    def frame(self, index: int) -> SequenceFrame:
        """Render frame ``index``: objects in the camera frame, the turned backdrop behind them."""
        rotation, origin = self.camera_rotation(index), self.camera_position(index)
        local = []
        for mover in self.movers:
            obj = dataclasses.replace(mover.obj)
            obj.center = rotation.T @ (self.position(mover, index) - origin)
            obj.rotation = rotation.T @ mover.obj.rotation
            local.append(obj)
        background = dataclasses.replace(self.background, sun=rotation.T @ self.background.sun)
        pano = render_scene(local, background, self.settings.height,
                            min_pixels=self._min_pixels(),
                            backdrop=self._turned_backdrop(rotation))
        ids = np.array([local.index(o) + 1 for o in pano.objects], dtype=np.int64)
        return SequenceFrame(index, self.settings.stamp_ns(index), pano.image, pano.instances,
                             ids, tuple(o.role for o in pano.objects))

    def _min_pixels(self) -> int:
        s = self.settings
        return sequence_min_pixels(s.height) if s.min_pixels is None else s.min_pixels

    def _turned_backdrop(self, rotation: np.ndarray) -> np.ndarray:
        height = self.settings.height
        world = ray_directions(height) @ rotation.T
        u, v = lonlat_to_pixel(*vector_to_lonlat(world), height, 2 * height)
        rows = np.clip(v - 0.5, 0.0, height - 1.0)  # wrap columns only, never the poles
        return cv2.remap(self._backdrop, (u - 0.5).astype(np.float32), rows.astype(np.float32),
                         cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)

    def __iter__(self) -> Iterator[SequenceFrame]:
        return (self.frame(i) for i in range(self.settings.frames))


def render_sequence(seed: int, settings: SequenceSettings | None = None) -> SequenceScene:
    """The sequence of ``seed`` (iterate it for frames); the same seed gives the same frames."""
    return SequenceScene(seed, settings)

