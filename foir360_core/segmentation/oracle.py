"""``oracle``: a perspective "segmenter" that draws known ERP masks into each view.

It proves the panoramic merge independently of any network: given the true masks of a
panorama (a dataset file, e.g. from ``foir360 synth``), every view gets exactly the visible
part of each true object, cut by the view border like a real segmenter's output would
be. Merging those fragments must give back the true masks. Spec: ``oracle:MASKS.json``;
a panorama is looked up by its path, else by its file name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from foir360_core.geometry import erp_to_view
from foir360_core.io import Dataset, DatasetError
from foir360_core.segmentation.base import SegmenterSpecError, ViewContext, ViewInstances
from foir360_core.structures import PanoInstances

MIN_VIEW_PIXELS = 4


class OracleSegmenter:
    """Projects the true masks of a dataset file into each view (score 1)."""

    name = "oracle"

    def __init__(self, truth: str | Path) -> None:
        try:
            self.dataset = Dataset.load(truth, strict_erp=False)
        except DatasetError as err:
            raise SegmenterSpecError(f"oracle needs a masks file: {err}; use "
                                     "--segmenter oracle:MASKS.json") from err
        categories = sorted(self.dataset.categories, key=lambda c: int(c["id"]))
        self.class_names = tuple(str(c.get("name", c["id"])) for c in categories)
        self._index = {int(c["id"]): i for i, c in enumerate(categories)}
        self._ids = {self.dataset.image_path(r.id).resolve(): r.id for r in self.dataset.images}
        self._names = {Path(r.file_name).name: r.id for r in self.dataset.images}
        self._cached: tuple[Path, PanoInstances] | None = None

    def _truth(self, source: Path | None) -> PanoInstances:
        key = Path(source).resolve() if source is not None else None
        if self._cached is None or self._cached[0] != key:
            image_id = self._ids.get(key) or self._names.get(getattr(key, "name", None))
            if image_id is None:
                raise ValueError(f"oracle: {source} is not in {self.dataset.path}")
            self._cached = (key, self.dataset.instances(image_id))
        return self._cached[1]

    def segment(self, view_rgb: np.ndarray, context: ViewContext) -> ViewInstances:
        truth = self._truth(context.source)
        masks = erp_to_view(truth.masks, context.geometry, masks=True)
        keep = masks.reshape(len(masks), -1).sum(axis=1) >= MIN_VIEW_PIXELS
        labels = np.array([self._index[int(c)] for c in truth.class_ids], np.int64)
        return ViewInstances(masks[keep], np.ones(int(keep.sum())), labels[keep])
