"""ONNX and Hugging Face segmenters on exports and checkpoints the tests make.

Each ONNX model is a small torch module with random-weight convolutions whose outputs,
by construction, also carry a known answer: the bright square of the test view is one
object of a known class. The random part is kept small, so the adapter's decoding (layout,
NMS, thresholds, label offsets, resizing) is checked against an exact expectation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]  # legacy exporter

from foir360_core.segmentation.base import SegmenterSpecError  # noqa: E402
from foir360_core.segmentation.registry import build_segmenter  # noqa: E402

SIZE = 64
SQUARE = (16, 40, 24, 48)  # y0, y1, x0, x1 in the 64 x 64 input


def view() -> np.ndarray:
    image = np.full((128, 128, 3), 20, np.uint8)
    y0, y1, x0, x1 = (2 * v for v in SQUARE)
    image[y0:y1, x0:x1] = 235
    return image


def expected_mask() -> np.ndarray:
    return view()[..., 0] > 128


class Bright(torch.nn.Module):
    """Random-weight conv features plus a brightness logit map at ``scale`` resolution."""

    def __init__(self, out_size: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 2, 3, padding=1)
        self.out_size = out_size

    def logit(self, x):
        grey = x.mean(1, keepdim=True)
        noise = 0.01 * torch.tanh(self.conv(x)).mean(1, keepdim=True)
        logit = 40.0 * (grey - 0.5) + noise
        return torch.nn.functional.interpolate(logit, size=(self.out_size, self.out_size),
                                               mode="bilinear", align_corners=False)


class YoloSeg(Bright):
    """(1, 4 + 3 + 2, 3) detections: the square (class 1), a duplicate, a weak one; protos."""

    def forward(self, x):
        logit = self.logit(x)
        protos = torch.cat([logit, torch.zeros_like(logit)], 1)  # (1, 2, 16, 16)
        y0, y1, x0, x1 = SQUARE
        box = [(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0]
        rows = torch.tensor([[*box, 0.1, 0.9, 0.0, 1.0, 0.0],
                             [*box, 0.1, 0.8, 0.0, 1.0, 0.0],
                             [5.0, 5.0, 4.0, 4.0, 0.1, 0.1, 0.05, 1.0, 0.0]])
        return rows.T[None] + 0 * x.mean(), protos


class MaskRcnn(Bright):
    """torchvision style: 1-based labels, (N, 1, H, W) probabilities, one weak detection."""

    def forward(self, x):
        prob = torch.sigmoid(self.logit(x))
        y0, y1, x0, x1 = SQUARE
        boxes = torch.tensor([[x0, y0, x1, y1], [0, 0, 4, 4]], dtype=torch.float32)
        return (boxes + 0 * x.mean(), torch.tensor([3, 1]), torch.tensor([0.95, 0.1]),
                torch.cat([prob, prob], 0))


class Mask2Former(Bright):
    """3 queries: class 2 with the square's mask, a no-object query, one with an empty mask."""

    def forward(self, x):
        logit = self.logit(x)
        masks = torch.cat([logit, logit, torch.full_like(logit, -20.0)], 1)
        classes = torch.tensor([[[0.0, 0.0, 9.0, 0.0], [0.0, 0.0, 0.0, 9.0],
                                 [9.0, 0.0, 0.0, 0.0]]])
        return classes + 0 * x.mean(), masks


def export(module: torch.nn.Module, path: Path, outputs: list[str]) -> Path:
    torch.onnx.export(module.eval(), (torch.zeros(1, 3, SIZE, SIZE),), str(path),
                      input_names=["images"], output_names=outputs, dynamo=False, opset_version=17)
    return path


def spec(tmp_path: Path, model: Path, fmt: str, extra: str = "") -> str:
    path = tmp_path / f"{model.stem}.yaml"
    path.write_text(f"kind: segmenter\nmodel: {model.name}\ninput: {{size: [{SIZE}, {SIZE}]}}\n"
                    f"output: {{format: {fmt}{extra}}}\nclasses: [zero, one, two]\n"
                    "score_threshold: 0.5\n")
    return str(path)


def check_one_square(found, label: int) -> None:
    assert len(found) == 1
    assert found.labels.tolist() == [label]
    assert found.masks.shape == (1, 128, 128)
    truth = expected_mask()
    iou = (found.masks[0] & truth).sum() / (found.masks[0] | truth).sum()
    assert iou > 0.9  # the masks come from 16 x 16 logits: about a pixel off at the border


def test_yolo_seg_contract_decodes_boxes_nms_and_prototype_masks(tmp_path):
    model = export(YoloSeg(16), tmp_path / "yolo.onnx", ["output0", "output1"])
    segmenter = build_segmenter(spec(tmp_path, model, "yolo-seg"))
    found = segmenter.segment(view(), None)
    check_one_square(found, 1)  # the duplicate box is suppressed, the weak one dropped
    np.testing.assert_allclose(found.boxes[0], [48, 32, 96, 80], atol=1e-3)
    assert found.scores[0] == pytest.approx(0.9)
    bare = build_segmenter(str(model), score_threshold=0.5)  # the format is recognised
    assert bare.format == "yolo-seg"


def test_maskrcnn_contract_applies_the_label_offset(tmp_path):
    model = export(MaskRcnn(SIZE), tmp_path / "mrcnn.onnx", ["boxes", "labels", "scores",
                                                            "masks"])
    segmenter = build_segmenter(spec(tmp_path, model, "maskrcnn", ", label_offset: 1"))
    check_one_square(segmenter.segment(view(), None), 2)


def test_mask2former_contract_scores_queries_and_drops_no_object(tmp_path):
    model = export(Mask2Former(16), tmp_path / "m2f.onnx", ["class_logits", "mask_logits"])
    segmenter = build_segmenter(spec(tmp_path, model, "mask2former"))
    found = segmenter.segment(view(), None)
    check_one_square(found, 2)
    assert 0.9 < found.scores[0] <= 1.0
    assert build_segmenter(str(model)).format == "mask2former"


def test_onnx_spec_errors_are_one_line_with_the_fix(tmp_path):
    model = export(MaskRcnn(SIZE), tmp_path / "mrcnn.onnx", ["boxes", "labels", "scores",
                                                            "masks"])
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"model: {model.name}\noutput: {{format: yolo-seg, names: "
                   "{detections: nope}}\nclasses: [a]\n")
    with pytest.raises(SegmenterSpecError, match="no detections output named 'nope'"):
        build_segmenter(str(bad))
    bad.write_text(f"model: {model.name}\noutput: {{format: deeplab}}\n")
    with pytest.raises(SegmenterSpecError, match="not a segmenter format"):
        build_segmenter(str(bad))


@pytest.fixture(scope="module")
def tiny_mask2former(tmp_path_factory) -> Path:
    """A random-initialised Mask2Former (tiny Swin backbone) saved like a Hub checkpoint."""
    transformers = pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("hf") / "tiny-mask2former"
    backbone = transformers.SwinConfig(
        image_size=64, patch_size=4, embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1],
        window_size=4, out_features=["stage1", "stage2", "stage3", "stage4"])
    config = transformers.Mask2FormerConfig(
        backbone_config=backbone, hidden_dim=32, mask_feature_size=32, feature_size=32,
        num_queries=8, encoder_layers=1, decoder_layers=2, dim_feedforward=64,
        encoder_feedforward_dim=64, num_attention_heads=2,
        id2label={0: "cat", 1: "dog", 2: "car"}, label2id={"cat": 0, "dog": 1, "car": 2})
    torch.manual_seed(0)
    transformers.Mask2FormerForUniversalSegmentation(config).save_pretrained(folder)
    transformers.Mask2FormerImageProcessor(size={"height": 64, "width": 64}).save_pretrained(
        folder)
    return folder


def test_hf_segmenter_loads_a_saved_checkpoint_and_segments_a_panorama(tiny_mask2former):
    from foir360_core.segmentation.panoramic import MergeSettings, PanoramicSegmenter

    segmenter = build_segmenter(f"hf:{tiny_mask2former}", score_threshold=0.0)
    assert segmenter.class_names == ("cat", "dog", "car") and segmenter.task == "instance"
    found = segmenter.segment(view(), None)
    assert found.masks.shape[1:] == (128, 128) and len(found) > 0
    assert found.masks.sum(0).max() == 1  # instance post-processing gives disjoint segments
    assert set(found.labels.tolist()) <= {0, 1, 2}
    pano = np.random.default_rng(0).integers(0, 255, (64, 128, 3), dtype=np.uint8)
    result = PanoramicSegmenter(segmenter, MergeSettings(layout="cube6", view_size=64))(pano)
    assert result.instances.masks.shape[1:] == (64, 128)
    assert result.instances.masks.sum(0).max() <= 1
    assert result.class_names == ("cat", "dog", "car")
