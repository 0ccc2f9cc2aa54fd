"""``RankerSettings``: how a PanoRank model is run, in one place.

``Ranker`` takes them; ``foir360 rank``, ``replay`` and ``build-engine`` generate their
flags from them (``--score-threshold`` ...); the ranker node generates its parameters from
them (same names, same defaults); the training validation post-processes with them. Each
default is written here and nowhere else.
"""

from __future__ import annotations

import dataclasses

from foir360_core.settings.fields import SettingsError, check_fields, setting

BACKENDS = ("auto", "tensorrt", "onnxruntime", "torch")
DEVICES = ("auto", "cuda", "cpu")
PRECISIONS = ("auto", "fp32", "fp16")


@dataclasses.dataclass(frozen=True)
class RankerSettings:
    """Model, backend and post-processing settings of a ``Ranker``."""

    model: str = setting("", "checkpoint, ONNX file, TensorRT engine or the name of a shipped "
                             "model (panorank-real360, panorank-synthetic-demo); empty = the "
                             "shipped default")
    backend: str = setting("auto", "inference backend; auto = TensorRT > ONNX Runtime > "
                                   "PyTorch, whichever runs here", BACKENDS)
    allow_fallback: bool = setting(True, "let a backend that cannot run here fall back to "
                                         "the next one (logged); false makes it an error")
    device: str = setting("auto", "auto = a GPU when the backend sees one", DEVICES)
    precision: str = setting("auto", "auto = fp16 on a GPU (PyTorch autocast, TensorRT), "
                                     "fp32 otherwise", PRECISIONS)
    threads: int = setting(0, "CPU threads for ONNX Runtime / PyTorch; 0 = the library's "
                              "default")
    input_height: int = setting(0, "network input rows (width = 2x, a multiple of 32); "
                                   "0 = the model's own size")
    score_threshold: float = setting(0.5, "minimum object probability of an instance")
    mask_threshold: float = setting(0.5, "mask probability above which a pixel belongs to "
                                         "the instance")
    max_instances: int = setting(50, "keep at most this many instances per panorama")
    duplicate_iou: float = setting(0.5, "of two instances whose masks overlap on the sphere by "
                                        "more than this IoU keep the better-scored (each "
                                        "object once); 1 = keep both")
    largest_part: bool = setting(True, "keep only each instance's largest connected part "
                                       "(joined across the seam): one piece per object")
    cache_dir: str = setting("", "ONNX export / TensorRT engine cache; empty = "
                                 "$FOIR360_CACHE_DIR or ~/.cache/foir360")
    workspace_mb: int = setting(1024, "TensorRT builder workspace limit in MB")

    def __post_init__(self) -> None:
        check_fields(self)
        problems = []
        for name in ("score_threshold", "mask_threshold", "duplicate_iou"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0 or (name == "mask_threshold" and value in (0.0, 1.0)):
                problems.append(f"'{name}' must be a probability in "
                                f"{'(0, 1)' if name == 'mask_threshold' else '[0, 1]'}, "
                                f"got {value}")
        problems += [f"'{name}' must be > 0, got {getattr(self, name)}"
                     for name in ("max_instances", "workspace_mb") if getattr(self, name) <= 0]
        problems += [f"'{name}' must be >= 0, got {getattr(self, name)}"
                     for name in ("threads", "input_height") if getattr(self, name) < 0]
        if self.input_height % 32:
            near = max(32, round(self.input_height / 32) * 32)
            problems.append(f"'input_height' must be a multiple of 32 (or 0), got "
                            f"{self.input_height}; try {near}")
        if self.precision == "fp16" and self.device == "cpu":
            problems.append("precision 'fp16' needs a GPU; use precision auto or fp32 with "
                            "device cpu")
        if problems:
            raise SettingsError("; ".join(problems))

    @property
    def input_size(self) -> tuple[int, int] | None:
        """(h, w) requested for the network, or None for the model's own size."""
        return (self.input_height, 2 * self.input_height) if self.input_height else None

    @property
    def fp16(self) -> bool | None:
        """True / False when a precision is asked for, None = the backend's default."""
        return None if self.precision == "auto" else self.precision == "fp16"

    def postprocess(self) -> dict:
        """The keyword arguments of ``models.postprocess.outputs_to_instances``."""
        return {"score_threshold": self.score_threshold,
                "mask_threshold": self.mask_threshold,
                "max_instances": self.max_instances,
                "duplicate_iou": self.duplicate_iou,
                "largest_part": self.largest_part}


POSTPROCESS_KEYS = ("score_threshold", "mask_threshold", "max_instances", "duplicate_iou",
                    "largest_part")
