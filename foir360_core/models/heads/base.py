"""What every rank head is: a network part that owns its parameters, loss, decoding and outputs.

A head subclasses ``RankHead``, sets ``name`` (the ``model.rank_head.type`` value that
selects it), ``defaults`` (its config parameters) and ``outputs`` (the tensors it adds to
the exported graph), and implements ``forward``, ``loss`` and ``decode``. ``decode`` runs on
numpy only: it is what the runtime, the export parity check and the training validation all
call, so the deployed ranking is the validated one by construction.

An ONNX Runtime or TensorRT deployment has no torch, yet must decode: this module therefore
imports torch when it can and otherwise leaves ``torch`` and ``nn`` as None. Heads build
their layers inside methods (never at import), so importing a head stays torch-free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

try:
    import torch
    from torch import nn

    _Module: type = nn.Module
except ImportError:  # a torch-free deployment: heads can decode, not run
    torch = nn = None  # type: ignore[assignment]
    _Module = object


@dataclass
class RankTargets:
    """Training targets of one batch, for ``RankHead.loss``.

    ``orders[b]`` holds image b's matched query indices, most important first, and
    ``ranks[b]`` the ground-truth ranks (1 = most important) of those same objects.
    """

    orders: list[Any]
    ranks: list[Any]


class RankHead(_Module):
    """Base of every rank head (see the module docstring)."""

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    outputs: ClassVar[tuple[str, ...]] = ()

    def forward(self, queries, obj_prob, memory, memory_pos, *, rank: bool) -> dict:
        """The head's outputs by name; ``rank`` False lets a costly head skip inference."""
        raise NotImplementedError

    def loss(self, outputs: dict, targets: RankTargets, train_cfg: dict, generator=None):
        """The rank loss of one batch (a scalar tensor)."""
        raise NotImplementedError

    @classmethod
    def decode(cls, outputs: Mapping[str, np.ndarray], queries: np.ndarray) -> np.ndarray:
        """Unique ranks 1..n of the kept ``queries`` from one image's numpy outputs."""
        raise NotImplementedError

    @classmethod
    def params(cls, model_cfg: dict) -> dict[str, Any]:
        """This head's parameters: its defaults, overridden by ``model.rank_head``."""
        section = dict(model_cfg.get("rank_head") or {})
        return {**cls.defaults, **{k: v for k, v in section.items() if k in cls.defaults}}


def one_image(outputs: Mapping[str, np.ndarray], name: str, ndim: int) -> np.ndarray:
    """Output ``name`` of one image (a leading batch dim of 1 is dropped), checked."""
    if name not in outputs:
        raise ValueError(f"the model outputs {sorted(outputs)}, not {name!r}: is the rank "
                         "head in the artifact's metadata the one it was exported with?")
    a = np.asarray(outputs[name])
    if a.ndim == ndim + 1 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dims (one image), got shape {a.shape}")
    return a
