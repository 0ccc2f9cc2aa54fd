"""The 360Rank annotation tool (paper seed 000, "Annotation Protocol", Fig. 5, Eq. 6).

``foir360 annotate`` serves a local page on which a person ranks every object of each
panorama by clicking them in order of importance: sparse scenes on the ERP image turned so
no object is cut by the seam, dense scenes (Eq. 6 density above the threshold) in
overlapping rectilinear sub-windows merged by the local rank collector (Algorithm 1).
``foir360 annotate-merge`` combines annotators' files and reports their agreement.
"""

from foir360_core.annotate.merge import MergeReport, merge_annotations
from foir360_core.annotate.prepare import (
    PreparedPanorama,
    Surface,
    WindowOptions,
    choose_roll,
    plan_windows,
    prepare_panorama,
)
from foir360_core.annotate.server import AnnotateServer
from foir360_core.annotate.session import AnnotationSession, SessionConfig

__all__ = [
    "AnnotateServer",
    "AnnotationSession",
    "MergeReport",
    "PreparedPanorama",
    "SessionConfig",
    "Surface",
    "WindowOptions",
    "choose_roll",
    "merge_annotations",
    "plan_windows",
    "prepare_panorama",
]
