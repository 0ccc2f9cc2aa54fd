"""Ranking metrics that reproduce the community's reference evaluators, rule by rule.

Plain numpy in, plain numbers out. Conventions everywhere: ``gt_masks`` / ``pred_masks``
are bool (N, H, W); ``gt_ranks`` are unique integers, 1 = most important; ``pred_scores``
are floats, higher = more important; rank maps are uint8 (H, W), higher gray = more
important, 0 = background. A per-image function returns ``None`` when the reference code
would leave that image out of the average.

Families (sources: ASSR, PPA, PSR / FOIR-360 ``sor_eval.py``, IRSR, QAGNet, SeqRank,
pavsodr; see ``shared/reference/ranking-metrics-and-heads.md`` §2–§3):

* ``sor_image`` — ASSR-family SOR on a rank map: per GT object the smallest most frequent
  non-zero gray under its mask, if strictly more than ``int(area · T)`` pixels are
  non-zero, else 0; zeros dropped; Spearman ρ (average ranks); one object → 1; NaN or no
  object → not used. Dataset SOR = (mean ρ over used images + 1) / 2; "images used" counts
  them.
* ``sa_sor_image`` — IRSR's segmentation-aware SOR: greedy IoU matching (IoU equal to the
  threshold matches, float32 IoU as in ``calc_iou``), min-rank ties, the N < M quirk,
  constant prediction index → 0, a single GT → not used. Dataset value = plain mean, not
  normalised.
* ``rank_map_mae``, ``adaptive_mae`` (seed 004 Eq. 10), ``irsr_mae`` — MAE variants.
* ``seqrank_sor``, ``seqrank_sa_sor``, ``seqrank_mae`` — SeqRank's own definitions (NaN
  counts as 0 in the mean).
* ``paint_rank_map`` — the ``linear`` (default, strictly ordered for up to 255 objects) and
  ``assr`` (5 levels) schemes.
* ``evaluate`` / ``evaluate_many`` — dataset reports for the profiles in ``profiles.py``.

Extra metrics (not in any reference, always named as such): ``*_sphere`` variants that
weigh each pixel by its solid angle (pass ``row_weights=solid_angle_weights(H, W)``;
SPEC §3) and Kendall's τ-b on the SOR pairs (``kendall_tau``).
"""

from foir360_core.metrics.evaluate import ALL_PROFILES, EvaluationReport, evaluate, evaluate_many
from foir360_core.metrics.mae import adaptive_mae, irsr_mae, rank_map_mae
from foir360_core.metrics.profiles import PROFILES, Profile, get_profile
from foir360_core.metrics.rankmap import ASSR_GRAYS, SCHEMES, paint_rank_map
from foir360_core.metrics.seqrank import seqrank_mae, seqrank_sa_sor, seqrank_sor
from foir360_core.metrics.sor import sa_sor_image, sor_image

__all__ = [
    "ALL_PROFILES",
    "ASSR_GRAYS",
    "PROFILES",
    "SCHEMES",
    "EvaluationReport",
    "Profile",
    "adaptive_mae",
    "evaluate",
    "evaluate_many",
    "get_profile",
    "irsr_mae",
    "paint_rank_map",
    "rank_map_mae",
    "sa_sor_image",
    "seqrank_mae",
    "seqrank_sa_sor",
    "seqrank_sor",
    "sor_image",
]
