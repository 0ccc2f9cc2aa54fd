"""The 512x512 inputs of the CenterNet parity fixture, rebuilt from their recipes.

The fixture (tests/fixtures/centernet_tfjs/detections.json) stores only each input's recipe,
the SHA-256 of its pixels and what TF.js computed on it; the pixels come back from here: a
code-drawn pattern, views of synthetic panoramas, and views of real photos in real360 (never
copied into the repository). ``python -m tests.centernet_views DIR`` writes the inputs for
``make_fixture.mjs`` (see the README next to the fixture).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np

from foir360_core.geometry import ViewGeometry, erp_to_view
from foir360_core.synth import render_panorama

SIZE = 512
FIXTURE_DIR = Path(__file__).parent / "fixtures" / "centernet_tfjs"
FIXTURE = FIXTURE_DIR / "detections.json"


def _view(lon: float, lat: float, fov: float) -> dict:
    return {"lon_deg": lon, "lat_deg": lat, "fov_deg": fov}


RECIPES: tuple[dict, ...] = (
    {"name": "pattern_rings", "kind": "pattern"},
    {"name": "synth_7_front", "kind": "synth", "seed": 7, "height": 1024, **_view(0, -10, 90)},
    {"name": "synth_11_back", "kind": "synth", "seed": 11, "height": 1024, **_view(180, -15, 90)},
    {"name": "real_living_tv", "kind": "real360", "file": "dulanet_003.jpg", **_view(0, -15, 90)},
    {"name": "real_living_couch", "kind": "real360", "file": "dulanet_003.jpg",
     **_view(180, -15, 90)},
    {"name": "real_hotel_bed", "kind": "real360", "file": "dulanet_002.jpg",
     **_view(180, -15, 90)},
    {"name": "real_bedroom", "kind": "real360", "file": "ruckth_bedroom.jpg", **_view(90, -15, 90)},
    {"name": "real_street_cars", "kind": "real360", "file": "spherebrowser_CBOT.jpg",
     **_view(90, -15, 90)},
    {"name": "real_restaurant", "kind": "real360",
     "file": "react360_the-chester--v112362_prefilter.jpg", **_view(-90, -15, 90)},
)


def real360_dir() -> Path | None:
    """The real-photo folder: $FOIR360_REAL360 when set, else ../shared/real360 next to the
    repository or /work/shared/real360; ``None`` when it is absent."""
    if "FOIR360_REAL360" in os.environ:
        candidates = [Path(os.environ["FOIR360_REAL360"])]
    else:
        candidates = [Path(__file__).resolve().parents[1].parent / "shared" / "real360",
                      Path("/work/shared/real360")]
    return next((path for path in candidates if (path / "images").is_dir()), None)


def _pattern() -> np.ndarray:
    """Concentric colour rings and a diagonal ramp: every pixel from a formula."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    r = np.hypot(x - 200.0, y - 300.0)
    rgb = np.stack([
        127.5 + 127.5 * np.sin(r / 9.0),
        (x + y) / (2 * SIZE) * 255.0,
        127.5 + 127.5 * np.cos(x / 23.0) * np.sin(y / 31.0),
    ], axis=-1)
    return np.round(rgb).astype(np.uint8)


def make_view(recipe: dict) -> np.ndarray:
    """The (512, 512, 3) uint8 RGB input a recipe describes."""
    if recipe["kind"] == "pattern":
        return _pattern()
    if recipe["kind"] == "synth":
        erp = render_panorama(recipe["seed"], recipe["height"]).image
    else:
        folder = real360_dir()
        if folder is None:
            raise FileNotFoundError("real360 folder not found (set FOIR360_REAL360)")
        bgr = cv2.imread(str(folder / "images" / recipe["file"]), cv2.IMREAD_COLOR)
        erp = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    geom = ViewGeometry(np.radians(recipe["lon_deg"]), np.radians(recipe["lat_deg"]),
                        recipe["fov_deg"], SIZE, SIZE)
    return np.ascontiguousarray(erp_to_view(erp, geom))


def sha256(image: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(image, dtype=np.uint8).tobytes()).hexdigest()


def write_inputs(out_dir: Path) -> list[dict]:
    """Each available recipe's pixels as ``NAME.rgb`` (raw HWC uint8) plus ``inputs.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for recipe in RECIPES:
        if recipe["kind"] == "real360" and real360_dir() is None:
            print(f"skip {recipe['name']}: real360 folder absent", file=sys.stderr)
            continue
        image = make_view(recipe)
        (out_dir / f"{recipe['name']}.rgb").write_bytes(image.tobytes())
        written.append({"recipe": recipe, "sha256": sha256(image)})
    (out_dir / "inputs.json").write_text(json.dumps(written, indent=1))
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.centernet_views OUT_DIR")
    print(f"wrote {len(write_inputs(Path(sys.argv[1])))} inputs to {sys.argv[1]}")
