"""Evaluation profiles: which reference evaluator's thresholds and conventions to reproduce.

====================  ========  =======  ========  =======  =============================
profile               SOR T     SA-SOR   rank map  GT set   MAE
====================  ========  =======  ========  =======  =============================
``foir360``           0.98      IoU 0.1  linear    all      rank-map MAE
``assr``              0.5       IoU 0.5  assr      top 5    rank-map MAE
``irsr``              0.5       IoU 0.5  linear    all      rank-map MAE (+ ``mae_irsr``)
``seqrank``           —         IoU>0.5  —         all      SeqRank binary MAE
====================  ========  =======  ========  =======  =============================

* ``foir360`` is the evaluator shipped in the FOIR-360 repository (PSR's ``sor_eval.py``):
  coverage 0.98 and SA-SOR at IoU 0.1, the settings behind the paper's table. Its 5-level
  painter cannot represent 360Rank's all-object ranks, so maps use the ``linear`` scheme.
* ``assr`` is what the wider community means by SOR / SA-SOR on ASSR-style data: only the
  five most important GT objects are salient (ASSR's ``rank_order > 0.5``), 5-level maps.
* ``irsr`` is QAGNet's IRSR/SIFR mode, the natural all-object generalisation: every GT
  object counts, the ``linear`` painter, thresholds 0.5 / 0.5; it also reports IRSR's own MAE.
* ``seqrank`` is SeqRank's ``Metrics`` class (PanoRank's code base): see ``seqrank.py``.

Any threshold can be overridden: ``get_profile("foir360", coverage=0.5, iou=0.5)``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from foir360_core.metrics.rankmap import check_scheme


@dataclass(frozen=True)
class Profile:
    """One reference evaluator's settings.

    ``family`` is ``"assr"`` (rank-map SOR + IRSR SA-SOR) or ``"seqrank"``. ``coverage`` is
    the SOR pixel-coverage threshold T; ``iou`` the SA-SOR match threshold (IoU ≥ iou in the
    assr family, IoU > iou in seqrank). ``gt_top_k`` limits the salient GT set to the k most
    important objects (None = all). ``irsr_mae`` adds IRSR's MAE; ``extras`` adds the
    sphere-weighted variants and Kendall's τ.
    """

    name: str
    family: str = "assr"
    coverage: float = 0.5
    iou: float = 0.5
    scheme: str = "linear"
    gt_top_k: int | None = None
    irsr_mae: bool = False
    extras: bool = True

    def __post_init__(self) -> None:
        if self.family not in ("assr", "seqrank"):
            raise ValueError(f"profile family must be 'assr' or 'seqrank', got {self.family!r}")
        check_scheme(self.scheme)
        if not 0.0 <= self.coverage <= 1.0 or not 0.0 <= self.iou <= 1.0:
            raise ValueError(
                f"thresholds must lie in [0, 1], got coverage {self.coverage}, iou {self.iou}"
            )
        if self.gt_top_k is not None and self.gt_top_k < 1:
            raise ValueError(f"gt_top_k must be ≥ 1 or None, got {self.gt_top_k}")


PROFILES: dict[str, Profile] = {
    "foir360": Profile("foir360", coverage=0.98, iou=0.1, scheme="linear"),
    "assr": Profile("assr", coverage=0.5, iou=0.5, scheme="assr", gt_top_k=5),
    "irsr": Profile("irsr", coverage=0.5, iou=0.5, scheme="linear", irsr_mae=True),
    "seqrank": Profile("seqrank", family="seqrank", iou=0.5, extras=False),
}


def get_profile(
    profile: str | Profile, *, coverage: float | None = None, iou: float | None = None
) -> Profile:
    """A named (or given) profile with optional explicit threshold overrides."""
    if isinstance(profile, str):
        try:
            profile = PROFILES[profile]
        except KeyError:
            raise ValueError(
                f"unknown metrics profile {profile!r}; use one of {', '.join(PROFILES)}"
            ) from None
    changes: dict[str, float] = {}
    if coverage is not None:
        changes["coverage"] = coverage
    if iou is not None:
        changes["iou"] = iou
    return replace(profile, **changes) if changes else profile
