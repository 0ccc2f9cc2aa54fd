"""Saliency, inpainting and segmenter adapters: the OpenCV defaults and ONNX models built here.

The ONNX models are tiny graphs made with ``onnx.helper`` whose output is a known function
of the input, so the adapters' resizing, normalisation and tensor plumbing are checked
against exact expectations (no weights are downloaded).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from foir360_core.labeling import (
    FineGrainedSaliency,
    OnnxInpainter,
    OnnxInpainterConfig,
    OnnxSaliency,
    OnnxSaliencyConfig,
    OpenCVInpainter,
    PatchMatchInpainter,
    SpectralResidualSaliency,
    build_inpainter,
    build_saliency,
)
from foir360_core.labeling.inpaint import inpaint_cropped


def save(graph: onnx.GraphProto, path: Path) -> str:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return str(path)


def const(name: str, values: list, dtype: int = TensorProto.FLOAT) -> onnx.NodeProto:
    shape = [] if len(values) == 1 else [len(values)]
    return helper.make_node("Constant", [], [name],
                            value=helper.make_tensor(name, dtype, shape, values))


def image_input(name: str = "img") -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 3, "h", "w"])


@pytest.fixture(scope="module")
def saliency_onnx(tmp_path_factory) -> str:
    """Saliency = mean over channels (the normalised brightness), shape (1, 1, h, w)."""
    node = helper.make_node("ReduceMean", ["img"], ["sal"], axes=[1], keepdims=1)
    out = helper.make_tensor_value_info("sal", TensorProto.FLOAT, [1, 1, "h", "w"])
    graph = helper.make_graph([node], "brightness", [image_input()], [out])
    return save(graph, tmp_path_factory.mktemp("onnx") / "saliency.onnx")


@pytest.fixture(scope="module")
def inpaint_onnx(tmp_path_factory) -> str:
    """LaMa-shaped: output = image · (1 − mask) + 0.5 · mask, in [0, 1]."""
    mask = helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, "h", "w"])
    out = helper.make_tensor_value_info("inpainted", TensorProto.FLOAT, [1, 3, "h", "w"])
    nodes = [
        const("one", [1.0]),
        const("half", [0.5]),
        helper.make_node("Sub", ["one", "mask"], ["keep"]),
        helper.make_node("Mul", ["image", "keep"], ["kept"]),
        helper.make_node("Mul", ["mask", "half"], ["grey"]),
        helper.make_node("Add", ["kept", "grey"], ["inpainted"]),
    ]
    graph = helper.make_graph(nodes, "grey_fill", [image_input("image"), mask], [out])
    return save(graph, tmp_path_factory.mktemp("onnx") / "lama.onnx")


@pytest.fixture(scope="module")
def segmenter_onnx(tmp_path_factory) -> str:
    """One detection: mask = brightness > 0.5; score 0.9, label 2; plus a weak empty one."""
    masks = helper.make_tensor_value_info("masks", TensorProto.FLOAT, [2, "h", "w"])
    scores = helper.make_tensor_value_info("scores", TensorProto.FLOAT, [2])
    labels = helper.make_tensor_value_info("labels", TensorProto.INT64, [2])
    nodes = [
        helper.make_node("ReduceMean", ["img"], ["grey"], axes=[1], keepdims=0),
        const("thr", [0.5]),
        helper.make_node("Greater", ["grey", "thr"], ["hit"]),
        helper.make_node("Cast", ["hit"], ["m1"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["m1", "thr"], ["m2"]),  # a second, low-score detection
        helper.make_node("Concat", ["m1", "m2"], ["masks"], axis=0),
        const("scores", [0.9, 0.2]),
        const("labels", [2, 5], TensorProto.INT64),
    ]
    graph = helper.make_graph(nodes, "threshold_seg", [image_input()], [masks, scores, labels])
    return save(graph, tmp_path_factory.mktemp("onnx") / "seg.onnx")


def gradient_image(h: int = 48, w: int = 80) -> np.ndarray:
    ramp = np.linspace(0, 255, w, dtype=np.float32)[None, :].repeat(h, axis=0)
    return np.stack([ramp, ramp, ramp], axis=-1).astype(np.uint8)


def test_opencv_saliency_models_return_maps_at_view_size():
    image = np.full((60, 90, 3), 40, dtype=np.uint8)
    image[20:40, 30:50] = 230
    for model in (SpectralResidualSaliency(), FineGrainedSaliency(), build_saliency("spectral")):
        sal = model(image)
        assert sal.shape == (60, 90) and sal.dtype == np.float32
        assert sal[25:35, 35:45].mean() > sal[:10, :10].mean()  # the bright square stands out
    with pytest.raises(ValueError, match="unknown saliency"):
        build_saliency("transalnet")


def test_onnx_saliency_adapter_resizes_and_normalises(saliency_onnx):
    image = gradient_image()
    model = OnnxSaliency(OnnxSaliencyConfig(path=saliency_onnx, input_size=(32, 32)))
    sal = model(image)
    assert sal.shape == (48, 80)
    assert np.all(np.diff(sal[24]) >= -1e-3)  # follows the left-to-right ramp
    assert sal[:, 0].mean() < 0.05 and sal[:, -1].mean() > 0.95
    normalised = OnnxSaliency(OnnxSaliencyConfig(path=saliency_onnx, input_size=(32, 32),
                                                 mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)))
    np.testing.assert_allclose(normalised(image), 2 * sal - 1, atol=1e-4)
    assert build_saliency(saliency_onnx).name == "saliency"


def test_onnx_adapters_name_the_missing_tensor(saliency_onnx, tmp_path):
    with pytest.raises(ValueError, match=r"no input named 'image'.*img"):
        OnnxSaliency(OnnxSaliencyConfig(path=saliency_onnx, input_name="image"))
    with pytest.raises(FileNotFoundError):
        OnnxSaliency(OnnxSaliencyConfig(path=str(tmp_path / "missing.onnx")))
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="cannot load ONNX model"):
        OnnxSaliency(OnnxSaliencyConfig(path=str(broken)))


def test_onnx_inpainter_fills_only_the_hole(inpaint_onnx):
    image = gradient_image()
    mask = np.zeros((48, 80), dtype=bool)
    mask[10:30, 20:40] = True
    model = OnnxInpainter(OnnxInpainterConfig(path=inpaint_onnx, output_name="inpainted",
                                              input_size=(48, 80), output_scale=1.0))
    out = model(image, mask)
    assert np.all(np.abs(out[mask].astype(int) - 127) <= 1)
    np.testing.assert_array_equal(out[~mask], image[~mask])


def test_classical_inpainters_remove_an_object():
    image = np.full((64, 64, 3), 100, dtype=np.uint8)
    image[24:40, 24:40] = 250
    mask = np.zeros((64, 64), dtype=bool)
    mask[22:42, 22:42] = True
    for inpainter in (OpenCVInpainter("telea"), OpenCVInpainter("ns"), PatchMatchInpainter(),
                      build_inpainter("telea")):
        out = inpaint_cropped(inpainter, image, mask)
        assert abs(float(out[mask].mean()) - 100) < 10, inpainter.name
        np.testing.assert_array_equal(out[~mask], image[~mask])
    with pytest.raises(ValueError, match="unknown inpainter"):
        build_inpainter("lama")


def test_cropped_inpainting_hides_excluded_objects_from_the_fill():
    image = np.full((64, 64, 3), 20, dtype=np.uint8)
    image[20:44, 34:44] = 250  # a bright neighbour touching the hole
    mask = np.zeros((64, 64), dtype=bool)
    mask[20:44, 22:34] = True
    keep = image[..., 0] == 250
    bled = inpaint_cropped(OpenCVInpainter("telea"), image, mask)
    clean = inpaint_cropped(OpenCVInpainter("telea"), image, mask, exclude=keep)
    assert bled[mask].mean() > clean[mask].mean() + 20
    np.testing.assert_array_equal(clean[keep], image[keep])


def test_onnx_segmenter_returns_instances_at_view_size(segmenter_onnx, tmp_path):
    """The former whole-ERP OnnxSegmenter contract is the spec's maskrcnn format."""
    from foir360_core.segmentation.onnx_models import OnnxViewSegmenter

    image = np.full((64, 128, 3), 10, dtype=np.uint8)
    image[16:32, 40:72] = 240
    spec = tmp_path / "seg.yaml"
    spec.write_text(f"kind: segmenter\nmodel: {segmenter_onnx}\ninput: {{size: [32, 64]}}\n"
                    "output: {format: maskrcnn}\nclasses: [a, b, c, d, e, f]\n"
                    "score_threshold: 0.5\n")
    segmenter = OnnxViewSegmenter.from_spec(str(spec))
    found = segmenter.segment(image, None)
    assert len(found) == 1  # the 0.2-score detection is dropped
    assert found.masks.shape == (1, 64, 128)
    assert segmenter.class_names[int(found.labels[0])] == "c"  # label 2
    expected = image[..., 0] > 128
    assert (found.masks[0] == expected).mean() > 0.98


def test_saliency_and_inpaint_specs_set_size_normalisation_and_names(
        saliency_onnx, inpaint_onnx, tmp_path):
    spec = tmp_path / "sal.yaml"
    spec.write_text(f"kind: saliency\nmodel: {saliency_onnx}\ninput: {{size: [16, 24], "
                    "channel_order: BGR, mean: [0.5, 0.5, 0.5], std: [2, 2, 2]}\n")
    model = build_saliency(str(spec))
    assert model.config.input_size == (16, 24) and model.config.channel_order == "BGR"
    assert model.config.mean == (0.5, 0.5, 0.5) and model.name == "saliency"
    assert model(gradient_image()).shape == (48, 80)
    paint = tmp_path / "lama.yaml"
    paint.write_text(f"kind: inpaint\nmodel: {Path(inpaint_onnx).name}\n"
                     "input: {size: [32, 32], name: image, mask_name: mask}\n"
                     "output: {scale: 1.0, names: {image: inpainted}}\n")
    (tmp_path / Path(inpaint_onnx).name).write_bytes(Path(inpaint_onnx).read_bytes())
    inpainter = build_inpainter(str(paint))
    image = gradient_image()
    mask = np.zeros(image.shape[:2], bool)
    mask[10:20, 10:30] = True
    out = inpainter(image, mask)
    assert abs(np.median(out[mask]) - 127) <= 2  # grey fill at output scale 1
    np.testing.assert_array_equal(out[~mask], image[~mask])


@pytest.mark.parametrize(("text", "match"), [
    ("model: missing.onnx\n", "not found"),
    ("kind: inpaint\nmodel: {model}\n", "used as a saliency"),
    ("model: {model}\ninput: {{size: [1]}}\n", "height, width"),
    ("model: {model}\ninput: {{layout: CHW}}\n", "NCHW"),
    ("model: {model}\nouput: {{}}\n", "unknown keys"),
    ("model: [unclosed\n", "not valid YAML"),
])
def test_bad_specs_name_the_problem(saliency_onnx, tmp_path, text, match):
    spec = tmp_path / "bad.yaml"
    spec.write_text(text.format(model=saliency_onnx))
    with pytest.raises(ValueError, match=match):
        build_saliency(str(spec))
