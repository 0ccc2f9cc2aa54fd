"""Parity between two runs of the same model (PyTorch vs ONNX Runtime, fp32 vs fp16, ...).

"Same result" is judged on what a user sees, the ranked instances, after the shared
post-processing: the same objects (masks matched by IoU with the Hungarian algorithm, each
pair within a tolerance), and the same importance order. An order may only differ between
objects whose reference scores are tied within ``score_atol``, because no backend can be
asked to break an exact tie the same way after float rounding. Raw output differences are
reported too, for diagnosis.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from foir360_core.structures import PanoInstances


@dataclass
class ParityReport:
    """Outcome of one comparison; ``ok`` is False when any problem was found."""

    input_size: tuple[int, int]
    max_abs_diff: dict[str, float] = field(default_factory=dict)
    instances: tuple[int, int] = (0, 0)
    min_mask_iou: float = 1.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        diffs = ", ".join(f"{k} {v:.2e}" for k, v in self.max_abs_diff.items())
        verdict = "OK" if self.ok else "FAILED: " + "; ".join(self.problems)
        return (f"parity at {self.input_size[0]}x{self.input_size[1]}: {self.instances[0]} vs "
                f"{self.instances[1]} instances, min mask IoU {self.min_mask_iou:.4f}, "
                f"max |diff| {diffs} -> {verdict}")


def mask_iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(Na, Nb) IoU between two stacks of boolean masks of one size."""
    fa = a.reshape(len(a), -1).astype(np.float32)
    fb = b.reshape(len(b), -1).astype(np.float32)
    inter = fa @ fb.T
    union = fa.sum(1)[:, None] + fb.sum(1)[None, :] - inter
    return inter / np.maximum(union, 1.0)


def compare_instances(
    ref: PanoInstances, test: PanoInstances, *, min_iou: float = 0.98, score_atol: float = 1e-3
) -> tuple[list[str], float]:
    """Problems found between two ranked results, and the smallest matched mask IoU."""
    problems: list[str] = []
    if len(ref) != len(test):
        problems.append(f"{len(ref)} instances in the reference, {len(test)} in the test")
    if not len(ref) or not len(test):
        return problems, 1.0 if len(ref) == len(test) else 0.0
    iou = mask_iou_matrix(ref.masks, test.masks)
    rows, cols = linear_sum_assignment(-iou)
    matched = iou[rows, cols]
    worst = float(matched.min())
    if worst < min_iou:
        problems.append(f"a matched mask pair has IoU {worst:.4f} < {min_iou}")
    if not np.array_equal(ref.class_ids[rows], test.class_ids[cols]):
        problems.append("matched instances disagree on their class")
    # Walk the test's order; the reference's scores along it must not increase beyond a tie.
    order = rows[np.argsort(test.ranks[cols], kind="stable")]
    ref_scores = np.asarray(ref.scores, dtype=np.float64)[order]
    rises = np.diff(ref_scores)
    if np.any(rises > score_atol):
        step = int(np.argmax(rises > score_atol))
        problems.append(
            f"importance order differs: the test ranks reference instance {order[step]} "
            f"(score {ref_scores[step]:.4f}) above {order[step + 1]} "
            f"(score {ref_scores[step + 1]:.4f})"
        )
    return problems, worst


def compare_outputs(
    ref: dict[str, np.ndarray],
    test: dict[str, np.ndarray],
    ref_instances: PanoInstances,
    test_instances: PanoInstances,
    input_size: tuple[int, int],
    **tolerances: float,
) -> ParityReport:
    """Full report: raw output differences plus the instance-level verdict."""
    report = ParityReport(input_size=tuple(input_size))
    for name, value in ref.items():
        other = test.get(name)
        if other is None or other.shape != value.shape:
            report.problems.append(
                f"output {name}: shape {None if other is None else other.shape} != {value.shape}"
            )
            continue
        report.max_abs_diff[name] = float(np.max(np.abs(value.astype(np.float64) - other)))
    report.instances = (len(ref_instances), len(test_instances))
    problems, report.min_mask_iou = compare_instances(ref_instances, test_instances, **tolerances)
    report.problems.extend(problems)
    return report
