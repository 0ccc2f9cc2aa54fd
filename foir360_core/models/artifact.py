"""The model contract in one place: what a PanoRank artifact is, takes and gives.

* ``ModelInfo``: name, version, classes, input size, preprocessing, rank head. The same
  description travels with every artifact: the checkpoint's metadata, the ONNX
  ``metadata_props`` (string values, JSON-encoded where structured) and the engine's JSON
  sidecar, so a runtime on a robot knows the class names, the input size and how to decode
  the ranks without the training code or the checkpoint.
* ``INPUT_NAME`` and ``output_names(rank_head)``: the tensor names of every exported graph
  (the rank head adds its own outputs, see ``models.heads``).
* ``MEAN``, ``STD`` and ``preprocessing_meta()``: the input normalisation that
  ``models.preprocess.prepare_input`` applies and every checkpoint records.
* ``info_from_checkpoint``: a checkpoint's metadata → ``ModelInfo``.

Training writes it, export embeds it, the runtime and the node read it. Nothing here needs
torch.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from foir360_core.errors import UserError

META_PREFIX = "foir360."
INPUT_NAME = "images"
# Optional input of Loop exports (runtime.rank_loop): the score threshold post-processing
# keeps queries at, so the rank loop can stop once no unpicked query reaches it.
THRESHOLD_INPUT = "rank_threshold"
# Every head's graph outputs these two first; the rank head's own outputs follow.
CORE_OUTPUTS = ("class_logits", "mask_logits")
# Exports made before rank heads named their outputs carry no rank_head entry; they all
# ranked by sorting rank_scores, which is the sequential head's decoding.
LEGACY_RANK_HEAD = "sequential"

# The default backbone (EfficientNet-Lite, converted from TensorFlow) was trained on inputs
# scaled to [-1, 1], hence mean = std = 0.5 on [0, 1] pixels.
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)


def preprocessing_meta() -> dict:
    """What ``prepare_input`` does, for checkpoint and ONNX metadata."""
    return {
        "color": "RGB",
        "resize": "cv2.INTER_AREA",
        "scale": 1.0 / 255.0,
        "mean": MEAN,
        "std": STD,
    }


def output_names(rank_head: str) -> tuple[str, ...]:
    """The exported graph's output names for a model with the ``rank_head`` head."""
    from foir360_core.models.heads import head_class

    return (*CORE_OUTPUTS, *head_class(rank_head).outputs)


class ModelInfoError(UserError, ValueError):
    """An artifact lacks the foir360 metadata; the message says how to re-export it."""


@dataclass(frozen=True)
class ModelInfo:
    """Description of a PanoRank model artifact. ``input_size`` is (height, width)."""

    name: str
    version: str
    class_names: tuple[str, ...]
    input_size: tuple[int, int]
    preprocessing: dict = field(default_factory=dict)
    config_hash: str = ""
    dynamic_shapes: bool = False
    rank_head: str = LEGACY_RANK_HEAD

    def to_json(self) -> dict:
        data = asdict(self)
        data["class_names"] = list(self.class_names)
        data["input_size"] = list(self.input_size)
        return data

    @classmethod
    def from_json(cls, data: dict) -> ModelInfo:
        try:
            return cls(
                name=str(data["name"]),
                version=str(data["version"]),
                class_names=tuple(str(c) for c in data["class_names"]),
                input_size=(int(data["input_size"][0]), int(data["input_size"][1])),
                preprocessing=dict(data.get("preprocessing") or {}),
                config_hash=str(data.get("config_hash", "")),
                dynamic_shapes=bool(data.get("dynamic_shapes", False)),
                rank_head=str(data.get("rank_head", LEGACY_RANK_HEAD)),
            )
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise ModelInfoError(f"incomplete model metadata ({err!r}): {data}") from err

    def to_onnx_metadata(self) -> dict[str, str]:
        """``metadata_props`` entries (ONNX stores strings only)."""
        return {
            f"{META_PREFIX}{key}": value if isinstance(value, str) else json.dumps(value)
            for key, value in self.to_json().items()
        }

    @classmethod
    def from_onnx_metadata(cls, props: dict[str, str], source: str = "ONNX file") -> ModelInfo:
        data = {}
        for key, value in props.items():
            if not key.startswith(META_PREFIX):
                continue
            short = key[len(META_PREFIX):]
            is_text = short in ("name", "version", "config_hash", "rank_head")
            data[short] = value if is_text else json.loads(value)
        if not data:
            raise ModelInfoError(
                f"{source} carries no foir360 metadata; export it with `foir360 export "
                "CHECKPOINT --out model.onnx` so the runtime knows its classes and input size"
            )
        return cls.from_json(data)


def info_from_checkpoint(
    meta: dict, input_size: tuple[int, int] | None = None, dynamic: bool = False
) -> ModelInfo:
    """The ``ModelInfo`` of a checkpoint's metadata, at ``input_size`` when given."""
    size = input_size or tuple(meta["input_size"])
    return ModelInfo(
        name=str(meta.get("name", "panorank")),
        version=str(meta.get("version", "0")),
        class_names=tuple(meta.get("class_names", ["object"])),
        input_size=(int(size[0]), int(size[1])),
        preprocessing=dict(meta.get("preprocessing", {})),
        config_hash=str(meta.get("config_hash", "")),
        dynamic_shapes=dynamic,
        rank_head=str(meta.get("rank_head", LEGACY_RANK_HEAD)),
    )


def read_onnx_info(path: Path) -> ModelInfo:
    """The ``ModelInfo`` embedded in an ONNX file (read with onnx, else onnxruntime)."""
    try:
        import onnx
    except ImportError:
        from foir360_core.onnx import onnx_session

        return session_info(onnx_session(path, optimize=False), source=str(path))
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises its own DecodeError for a damaged file
        raise ModelInfoError(f"{path} is not a readable ONNX file ({type(exc).__name__}: "
                             f"{exc}); copy it again whole, or export it again") from exc
    props = {p.key: p.value for p in model.metadata_props}
    return ModelInfo.from_onnx_metadata(props, source=str(path))


def session_info(session, source: str) -> ModelInfo:
    """The ``ModelInfo`` in the metadata of the file an ONNX Runtime ``session`` runs."""
    return ModelInfo.from_onnx_metadata(dict(session.get_modelmeta().custom_metadata_map),
                                        source=source)
