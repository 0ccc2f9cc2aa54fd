"""Write a folder of synthetic panoramas in the foir360 dataset format.

Layout: ``OUT/images/pano_0000.png`` …, ``OUT/masks.json`` (COCO + ``erp_bbox``; no
ranks), and with ``preview=True`` also ``OUT/previews/pano_0000.png`` overlays. Each image
record's ``seed`` reproduces it exactly with :func:`render_panorama`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm

from foir360_core.io import ImageRecord, write_dataset, write_image
from foir360_core.structures import PanoInstances
from foir360_core.synth.preview import render_preview
from foir360_core.synth.render import MIN_HEIGHT, render_panorama
from foir360_core.synth.shapes import CATEGORIES

DATASET_NAME = "masks.json"


def image_seed(seed: int, index: int) -> int:
    """The seed of panorama ``index`` of a dataset generated with ``seed``.

    Hashing (seed, index) with numpy's ``SeedSequence`` keeps datasets of neighbouring
    seeds from sharing panoramas (a plain ``seed + index`` would shift them by one).
    """
    return int(np.random.SeedSequence([seed, index]).generate_state(1, np.uint32)[0])


def generate_dataset(
    out_dir: str | Path,
    count: int,
    seed: int = 0,
    height: int = 512,
    n_objects: int | tuple[int, int] | None = None,
    *,
    preview: bool = False,
    progress: bool = False,
) -> Path:
    """Render ``count`` panoramas into ``out_dir``; return the path of the dataset JSON."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    if height < MIN_HEIGHT:
        raise ValueError(f"height must be at least {MIN_HEIGHT} pixels, got {height}")
    out_dir = Path(out_dir)
    info = {"description": "foir360 synthetic panoramas (test data, no importance ranks)",
            "generator_seed": seed}
    entries = _render_entries(out_dir, count, seed, height=height, n_objects=n_objects,
                              preview=preview, progress=progress)
    return write_dataset(out_dir / DATASET_NAME, entries, categories=CATEGORIES, info=info)


def _render_entries(
    out_dir: Path,
    count: int,
    seed: int,
    *,
    height: int,
    n_objects: int | tuple[int, int] | None,
    preview: bool,
    progress: bool,
) -> Iterator[tuple[ImageRecord, PanoInstances]]:
    """Render and save panoramas one at a time, so memory stays flat for any ``count``."""
    digits = max(4, len(str(count - 1)))
    for index in tqdm(range(count), desc="synth", unit="pano", disable=not progress):
        pano_seed = image_seed(seed, index)
        pano = render_panorama(pano_seed, height, n_objects)
        name = f"pano_{index:0{digits}d}.png"
        write_image(out_dir / "images" / name, pano.image)
        if preview:
            write_image(out_dir / "previews" / name, render_preview(pano))
        record = ImageRecord(
            id=index + 1, file_name=f"images/{name}", width=2 * height, height=height,
            extra={"seed": pano_seed, "source": "foir360 synth"},
        )
        yield record, pano.instances
