"""Inference backends: each turns a preprocessed (1, 3, h, w) float32 batch into the
PanoRank outputs by name (``class_logits``, ``mask_logits`` and the rank head's own, see
``models.artifact``) as numpy arrays.

Pre- and post-processing are not here: ``Ranker`` runs the shared functions of
``foir360_core.models`` around whichever backend it picked, so results cannot drift apart.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Backend(Protocol):
    """What ``Ranker`` needs from a backend."""

    name: str
    device: str
    precision: str

    def infer(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Run one (1, 3, h, w) float32 batch; return the outputs by name, as float32 numpy."""
        ...
