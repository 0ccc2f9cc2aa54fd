"""A Hungarian-head checkpoint ranks alike in training validation, ONNX Runtime and the node.

The Hungarian head is validated by the exclusive assignment of the kept queries to rank
slots; its exported graph outputs the slot logits and every deployment decodes them the
same way. Compared on 20 synthetic panoramas: the PyTorch validation pass
(``training.validate.predict``), ``Ranker`` on ONNX Runtime, and the node's own
``RankingPipeline`` (message in, ranked message out; no DDS needed).
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.ros.helpers import header, ros

pytestmark = ros

PANORAMAS = 20
SETTINGS = {"score_threshold": 0.0, "mask_threshold": 0.5, "max_instances": 50}


@pytest.fixture(scope="module")
def hungarian(tmp_path_factory):
    """A tiny Hungarian-head model after one training step, and its checkpoint."""
    from foir360_core.models.checkpoint import save_checkpoint
    from tests.tiny_model import tiny_config, train_one_step

    config = tiny_config("hungarian")
    model, _ = train_one_step(config)
    path = save_checkpoint(tmp_path_factory.mktemp("hungarian") / "h.safetensors", model, config)
    return model, path


def by_rank(instances) -> list[tuple[int, np.ndarray]]:
    order = np.argsort(instances.ranks)
    return [(int(instances.ranks[i]), instances.masks[i]) for i in order]


def test_validation_onnxruntime_and_the_node_pipeline_rank_alike(hungarian, tmp_path):
    import torch

    from foir360_core.runtime import Ranker
    from foir360_core.runtime.parity import mask_iou_matrix
    from foir360_core.synth import render_panorama
    from foir360_core.training.validate import predict
    from foir360_ros.images import array_to_image
    from foir360_ros.interfaces import rclpy_types
    from foir360_ros.pipeline import RankingPipeline
    from foir360_ros.ranked import msg_to_instances

    model, checkpoint = hungarian
    ranker = Ranker(checkpoint, "onnxruntime", allow_fallback=False, threads=1,
                    cache_dir=tmp_path, **SETTINGS)
    assert ranker.info["backend"] == "onnxruntime" and ranker.model_info.rank_head == "hungarian"
    types = rclpy_types()
    pipeline = RankingPipeline(ranker, types, mask_height=0, strict_erp=True)
    compared = old_differs = 0
    for seed in range(PANORAMAS):
        image = render_panorama(200 + seed, height=64).image
        validated = by_rank(predict(model, image, SETTINGS, torch.device("cpu")))
        old_differs += old_deployment_differs(model, image)
        deployed = by_rank(ranker.rank(image))
        msg = array_to_image(types, header(types, seed + 1), image, "rgb8")
        node = by_rank(msg_to_instances(pipeline.process(msg).ranked))
        for other in (deployed, node):
            assert [r for r, _ in other] == [r for r, _ in validated], f"panorama {seed}"
            if validated:
                iou = np.diag(mask_iou_matrix(np.stack([m for _, m in validated]),
                                              np.stack([m for _, m in other])))
                assert iou.min() >= 0.98, (seed, iou)
        compared += len(validated)
    assert compared >= 2 * PANORAMAS, "too few objects for the comparison to mean anything"
    assert old_differs > 0, "the panoramas do not tell exclusive assignment from sorting"


def old_deployment_differs(model, image) -> bool:
    """Whether sorting the expected importance (the old deployed output, rank_scores) would
    rank this panorama differently from the exclusive assignment: the case this test is for."""
    import torch
    from scipy.special import softmax

    from foir360_core.models.postprocess import outputs_to_instances
    from foir360_core.models.preprocess import prepare_input

    with torch.no_grad():
        out = model(torch.from_numpy(prepare_input(image, model.input_size)), rank=True)
    outputs = {name: out[name][0].numpy() for name in model.output_names}
    logits = outputs["rank_logits"]
    expected = (softmax(logits, -1) * np.arange(logits.shape[-1], 0, -1)).sum(-1)
    post = {**SETTINGS, "out_size": model.input_size}
    new = outputs_to_instances(outputs, rank_head="hungarian", **post)
    old = outputs_to_instances({**outputs, "rank_scores": expected}, rank_head="sequential",
                               **post)
    return not np.array_equal(old.ranks, new.ranks)
