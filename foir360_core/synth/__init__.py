"""Synthetic 360° panoramas: procedural 3D primitives ray cast into ERP with exact masks.

Real 360° datasets cannot be downloaded here, so tests, benchmarks and the demo use these
scenes. They are test data, not importance ground truth: instances carry no ranks.
"""

from foir360_core.synth.background import Background, sample_background
from foir360_core.synth.dataset import generate_dataset, image_seed
from foir360_core.synth.preview import draw_geometry, render_preview
from foir360_core.synth.render import (
    SynthPanorama,
    cap_window,
    ray_directions,
    render_panorama,
    render_scene,
)
from foir360_core.synth.shapes import CATEGORIES, SHAPES, TEXTURES, SceneObject

__all__ = [
    "CATEGORIES",
    "SHAPES",
    "TEXTURES",
    "Background",
    "SceneObject",
    "SynthPanorama",
    "cap_window",
    "draw_geometry",
    "generate_dataset",
    "image_seed",
    "ray_directions",
    "render_panorama",
    "render_preview",
    "render_scene",
    "sample_background",
]
