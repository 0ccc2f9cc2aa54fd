"""Weak supervision: FOIR-360 pseudo-labels from 2D saliency (paper seed 000, Stages 1–2).

``PseudoLabeler`` ranks all objects of a panorama (LVRC → LIE → LRC, with PLE fusion of
several saliency models); ``collect_local_ranks`` merges local orders (Algorithm 1) and is
shared with the annotation tools; ``density_score`` is Eq. 6. ``foir360 label`` runs it all
over a dataset (``foir360_core.labeling.runner``).
"""

from foir360_core.labeling.collector import (
    Collected,
    LocalRanking,
    collect,
    collect_local_ranks,
    margin_weight,
)
from foir360_core.labeling.density import DENSE_THRESHOLD, density_score, is_dense
from foir360_core.labeling.inpaint import (
    Inpainter,
    OnnxInpainter,
    OnnxInpainterConfig,
    OpenCVInpainter,
    PatchMatchInpainter,
    build_inpainter,
)
from foir360_core.labeling.pipeline import (
    Counters,
    LabelConfig,
    LabelingError,
    LabelResult,
    PseudoLabeler,
)
from foir360_core.labeling.saliency import (
    FineGrainedSaliency,
    OnnxSaliency,
    OnnxSaliencyConfig,
    SaliencyModel,
    SpectralResidualSaliency,
    build_saliency,
)

__all__ = [
    "DENSE_THRESHOLD",
    "Collected",
    "Counters",
    "FineGrainedSaliency",
    "Inpainter",
    "LabelConfig",
    "LabelResult",
    "LabelingError",
    "LocalRanking",
    "OnnxInpainter",
    "OnnxInpainterConfig",
    "OnnxSaliency",
    "OnnxSaliencyConfig",
    "OpenCVInpainter",
    "PatchMatchInpainter",
    "PseudoLabeler",
    "SaliencyModel",
    "SpectralResidualSaliency",
    "build_inpainter",
    "build_saliency",
    "collect",
    "collect_local_ranks",
    "density_score",
    "is_dense",
    "margin_weight",
]
