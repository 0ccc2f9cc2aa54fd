"""What a deployed model is: name, version, classes, input size, preprocessing.

The same description travels with every artifact: the checkpoint's metadata, the ONNX
``metadata_props`` (string values, JSON-encoded where structured) and the engine's JSON
sidecar. A runtime that loads an ONNX file or an engine on a robot therefore knows the class
names and the input size without the training code or the checkpoint.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from foir360_core.errors import UserError

META_PREFIX = "foir360."
INPUT_NAME = "images"
OUTPUT_NAMES = ("class_logits", "mask_logits", "rank_scores")


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
            is_text = short in ("name", "version", "config_hash")
            data[short] = value if is_text else json.loads(value)
        if not data:
            raise ModelInfoError(
                f"{source} carries no foir360 metadata; export it with `foir360 export "
                "CHECKPOINT --out model.onnx` so the runtime knows its classes and input size"
            )
        return cls.from_json(data)


def read_onnx_info(path: Path) -> ModelInfo:
    """The ``ModelInfo`` embedded in an ONNX file (read with onnx, else onnxruntime)."""
    try:
        import onnx

        model = onnx.load(str(path), load_external_data=False)
        props = {p.key: p.value for p in model.metadata_props}
    except ImportError:
        from foir360_core.onnx import onnx_session

        session = onnx_session(path, optimize=False)
        props = dict(session.get_modelmeta().custom_metadata_map)
    return ModelInfo.from_onnx_metadata(props, source=str(path))
