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
    compared = 0
    for seed in range(PANORAMAS):
        image = render_panorama(200 + seed, height=64).image
        validated = by_rank(predict(model, image, SETTINGS, torch.device("cpu")))
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
