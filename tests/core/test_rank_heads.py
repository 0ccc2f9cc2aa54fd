"""Rank heads as plug-ins (``models.heads``).

Every registered head, the test-local ``toy`` one included (one file, ``toy_rank_head.py``,
plus the config value ``rank_head: {type: toy}``), trains one step, exports to ONNX
(parity-checked), and ranks synthetic panoramas identically on PyTorch and ONNX Runtime:
the graph exports what the head decodes, so deployment ranks as validation does.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import tests.core.toy_rank_head  # noqa: E402, F401  (registers the "toy" head)
from foir360_core.models.artifact import read_onnx_info  # noqa: E402
from foir360_core.models.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from foir360_core.models.config import ConfigError, model_section  # noqa: E402
from foir360_core.models.heads import head_class, registered_heads  # noqa: E402
from foir360_core.runtime import Ranker  # noqa: E402
from foir360_core.runtime.export import export_onnx  # noqa: E402
from foir360_core.runtime.parity import mask_iou_matrix  # noqa: E402
from foir360_core.synth import render_panorama  # noqa: E402
from tests.tiny_model import tiny_config, train_one_step  # noqa: E402

HEADS = registered_heads()


def test_a_head_defined_in_one_outside_file_is_selectable_by_one_config_value():
    assert {"sequential", "hungarian", "toy"} <= set(HEADS)
    assert head_class("toy").__module__ == "tests.core.toy_rank_head"
    resolved = model_section(tiny_config("toy"))["rank_head"]
    assert resolved == {"type": "toy", "temperature": 1.0}  # the head's own defaults
    with pytest.raises(ConfigError, match=r"unknown rank head 'nope'.*'toy'"):
        model_section(tiny_config("nope"))


def assert_same_ranking(a, b) -> None:
    """Same number of objects, same rank for each, same mask (IoU >= 0.98) at each rank."""
    assert len(a) == len(b)
    order_a, order_b = np.argsort(a.ranks), np.argsort(b.ranks)
    np.testing.assert_array_equal(a.ranks[order_a], b.ranks[order_b])
    iou = np.diag(mask_iou_matrix(a.masks[order_a], b.masks[order_b]))
    assert iou.min() >= 0.98, iou


@pytest.mark.parametrize("head", HEADS)
def test_every_head_trains_exports_and_ranks_alike_on_pytorch_and_onnxruntime(head, tmp_path):
    config = tiny_config(head)
    model, parts = train_one_step(config)
    assert np.isfinite(parts["rank"]) and parts["rank"] > 0  # its loss took part in the step
    checkpoint = save_checkpoint(tmp_path / f"{head}.safetensors", model, config)
    assert load_checkpoint(checkpoint)[1]["rank_head"] == head
    exported = export_onnx(checkpoint, tmp_path / f"{head}.onnx")  # raises unless parity holds
    assert read_onnx_info(exported.path).rank_head == head
    graph_outputs = [o.name for o in onnx.load(str(exported.path)).graph.output]
    assert graph_outputs == ["class_logits", "mask_logits", *head_class(head).outputs]
    options = {"score_threshold": 0.0, "allow_fallback": False, "threads": 1}
    reference = Ranker(checkpoint, "torch", device="cpu", **options)
    deployed = Ranker(exported.path, "onnxruntime", **options)
    counts = []
    for seed in range(3):
        image = render_panorama(100 + seed, height=64).image
        ref, test = reference.rank(image), deployed.rank(image)
        assert_same_ranking(ref, test)
        counts.append(len(ref))
    assert max(counts) > 1, "nothing to order: the comparison would be empty"
