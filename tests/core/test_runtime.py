"""``Ranker`` end to end on this CPU: PyTorch and ONNX Runtime give the same ranked objects,
fallback is logged and refusable, inputs are checked, the overlay is seam-aware, and
``foir360 rank`` writes a dataset and overlays. GPU paths run only where a GPU exists.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from foir360_core.cli.main import main  # noqa: E402
from foir360_core.deps import is_importable  # noqa: E402
from foir360_core.geometry import ErpShapeError  # noqa: E402
from foir360_core.io import Dataset, read_image, write_image  # noqa: E402
from foir360_core.runtime import (  # noqa: E402
    ArtifactKind,
    BackendUnavailableError,
    ModelArtifactError,
    Ranker,
    plan_backends,
)
from foir360_core.runtime.backends.onnxruntime_backend import choose_providers  # noqa: E402
from foir360_core.runtime.backends.torch_backend import resolve_device  # noqa: E402
from foir360_core.runtime.overlay import draw_ranked_overlay, label_points  # noqa: E402
from foir360_core.runtime.parity import compare_instances  # noqa: E402
from foir360_core.runtime.selection import detect_kind  # noqa: E402
from foir360_core.structures import PanoInstances  # noqa: E402
from foir360_core.synth import render_panorama  # noqa: E402
from tests.tiny_model import save_tiny_checkpoint  # noqa: E402

HAS_TENSORRT = is_importable("tensorrt")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp("runtime") / "tiny.safetensors", "2")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def ort_ranker(checkpoint, cache_dir):
    return Ranker(checkpoint, "onnxruntime", cache_dir=cache_dir, score_threshold=0.0,
                  allow_fallback=False)


@pytest.fixture(scope="module")
def torch_ranker(checkpoint):
    return Ranker(checkpoint, "torch", score_threshold=0.0, allow_fallback=False, device="cpu")


@pytest.fixture(scope="module")
def panoramas():
    return [render_panorama(seed, height=128).image for seed in (0, 1)]


@pytest.mark.parametrize(("kind", "requested", "fallback", "expected"), [
    (ArtifactKind.CHECKPOINT, "auto", True, ["tensorrt", "onnxruntime", "torch"]),
    (ArtifactKind.ONNX, "auto", True, ["tensorrt", "onnxruntime"]),
    (ArtifactKind.ENGINE, "auto", True, ["tensorrt"]),
    (ArtifactKind.CHECKPOINT, "torch", True, ["torch", "tensorrt", "onnxruntime"]),
    (ArtifactKind.ONNX, "tensorrt", True, ["tensorrt", "onnxruntime"]),
    (ArtifactKind.ONNX, "tensorrt", False, ["tensorrt"]),
    (ArtifactKind.CHECKPOINT, "onnxruntime", False, ["onnxruntime"]),
])
def test_backend_plan(kind, requested, fallback, expected):
    assert plan_backends(kind, requested, fallback) == expected


def test_backend_plan_refuses_impossible_choices():
    with pytest.raises(ModelArtifactError, match="torch backend cannot run a onnx"):
        plan_backends(ArtifactKind.ONNX, "torch", True)
    with pytest.raises(ValueError, match="unknown backend"):
        plan_backends(ArtifactKind.ONNX, "openvino", True)


def test_artifact_kind_from_the_file(tmp_path):
    for name, kind in (("m.safetensors", ArtifactKind.CHECKPOINT), ("m.onnx", ArtifactKind.ONNX),
                       ("m.engine", ArtifactKind.ENGINE), ("m.plan", ArtifactKind.ENGINE)):
        (tmp_path / name).write_bytes(b"x")
        assert detect_kind(tmp_path / name) is kind
    (tmp_path / "m.txt").write_text("x")
    with pytest.raises(ModelArtifactError, match="cannot tell"):
        detect_kind(tmp_path / "m.txt")
    with pytest.raises(ModelArtifactError, match="not found"):
        detect_kind(tmp_path / "none.onnx")


def test_onnxruntime_and_torch_rank_alike(ort_ranker, torch_ranker, panoramas):
    for image in panoramas:
        ref, test = torch_ranker.rank(image), ort_ranker.rank(image)
        assert len(ref) >= 1
        problems, worst = compare_instances(ref, test)
        assert problems == [], problems
        assert worst > 0.98
        np.testing.assert_array_equal(np.sort(test.ranks), np.arange(1, len(test) + 1))
        assert test.masks.shape[1:] == image.shape[:2]
        assert len(test.geometry) == len(test)  # spherical centres and seam-aware boxes


def test_info_and_latency_counters(ort_ranker, panoramas):
    info = ort_ranker.info
    assert info["model_name"] == "tiny" and info["model_version"] == "2"
    assert info["class_names"] == ["box", "ball"] and info["input_size"] == [64, 128]
    assert (info["backend"], info["device"], info["precision"]) == ("onnxruntime", "cpu", "fp32")
    ort_ranker.rank(panoramas[0])
    t = ort_ranker.timings
    assert t.pre_ms > 0 and t.infer_ms > 0 and t.post_ms > 0
    assert t.total_ms == pytest.approx(t.pre_ms + t.infer_ms + t.post_ms)
    summary = ort_ranker.latency_summary()
    assert set(summary) == {"pre", "infer", "post", "total", "calls"}
    assert summary["total"]["p95_ms"] >= summary["total"]["p50_ms"] > 0


def test_exported_onnx_runs_alone(ort_ranker, cache_dir, panoramas):
    (onnx_path,) = (cache_dir / "onnx").glob("*.onnx")
    ranker = Ranker(onnx_path, "onnxruntime", score_threshold=0.0, threads=1)
    assert ranker.info["class_names"] == ["box", "ball"]
    assert compare_instances(ort_ranker.rank(panoramas[1]), ranker.rank(panoramas[1]))[0] == []
    with pytest.raises(ValueError, match="fixed input of 64x128"):
        Ranker(onnx_path, "onnxruntime", input_height=96)


@pytest.mark.skipif(HAS_TENSORRT, reason="checks the fallback on a machine without TensorRT")
def test_missing_tensorrt_falls_back_with_a_warning(checkpoint, cache_dir, caplog):
    with caplog.at_level(logging.WARNING):
        ranker = Ranker(checkpoint, "tensorrt", cache_dir=cache_dir)
    assert ranker.backend == "onnxruntime"
    assert "foir360[tensorrt]" in caplog.text and "falling back from tensorrt" in caplog.text
    assert ranker.info["fallbacks"][0].startswith("tensorrt:")
    with pytest.raises(BackendUnavailableError, match=r"foir360\[tensorrt\]"):
        Ranker(checkpoint, "tensorrt", cache_dir=cache_dir, allow_fallback=False)


def test_provider_and_device_choices():
    assert choose_providers(["CPUExecutionProvider"], "auto") == ["CPUExecutionProvider"]
    both = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers(both, "auto") == both
    assert choose_providers(both, "cpu") == ["CPUExecutionProvider"]
    with pytest.raises(BackendUnavailableError, match="onnxruntime-gpu"):
        choose_providers(["CPUExecutionProvider"], "cuda")
    assert resolve_device(torch, "cpu") == "cpu"
    if not torch.cuda.is_available():
        assert resolve_device(torch, "auto") == "cpu"
        with pytest.raises(BackendUnavailableError, match="no CUDA"):
            resolve_device(torch, "cuda")


def test_input_checks_and_colour_order(ort_ranker, panoramas):
    image = panoramas[0]
    with pytest.raises(ValueError, match="uint8"):
        ort_ranker.rank(image.astype(np.float32))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        ort_ranker.rank(image[..., 0])
    with pytest.warns(UserWarning, match="not a 2:1"):
        ort_ranker.rank(image[:, :200])
    strict = Ranker(ort_ranker.model_path, "onnxruntime", cache_dir=ort_ranker.cache.root,
                    strict_erp=True)
    with pytest.raises(ErpShapeError):
        strict.rank(image[:, :200])
    rgb = ort_ranker.rank(image)
    bgr = ort_ranker.rank(np.ascontiguousarray(image[..., ::-1]), bgr=True)
    np.testing.assert_array_equal(rgb.masks, bgr.masks)
    np.testing.assert_array_equal(rgb.ranks, bgr.ranks)
    small = ort_ranker.rank(image, mask_size=(32, 64))
    assert small.masks.shape[1:] == (32, 64)
    assert 1 <= len(small) <= len(rgb)  # masks too small for 32x64 vanish


def _seam_instances() -> PanoInstances:
    masks = np.zeros((2, 64, 128), bool)
    masks[0, 20:40, :6] = True  # one object cut by the seam: two visible parts
    masks[0, 20:40, -8:] = True
    masks[1, 30:50, 50:70] = True
    return PanoInstances(masks=masks, class_ids=[0, 1], ranks=[1, 2], scores=[0.9, 0.2])


def test_overlay_numbers_both_sides_of_the_seam():
    instances = _seam_instances()
    left, right = sorted(label_points(instances.masks[0]))
    assert left[0] < 6 and right[0] >= 120
    assert len(label_points(instances.masks[1])) == 1
    image = np.full((64, 128, 3), 128, np.uint8)
    out = draw_ranked_overlay(image, instances, title="tiny")
    assert out.shape == image.shape and out.dtype == np.uint8
    assert not np.array_equal(out[25, 2], image[25, 2])  # filled
    assert np.array_equal(out[5, 100], image[5, 100])  # background untouched
    first, second = out[22, 3].astype(int), out[48, 52].astype(int)
    assert first[0] > first[2] and second[2] > second[0]  # rank 1 warm, last rank cold


def test_rank_cli_writes_dataset_and_overlays(checkpoint, cache_dir, panoramas, tmp_path, capsys):
    images = tmp_path / "in"
    for i, image in enumerate(panoramas):
        write_image(images / f"pano_{i}.png", image)
    (images / "broken.png").write_bytes(b"not an image")
    out = tmp_path / "out"
    code = main(["rank", str(images), "--model", str(checkpoint), "--out", str(out),
                 "--backend", "onnxruntime", "--cache-dir", str(cache_dir),
                 "--score-threshold", "0"])
    assert code == 1  # one input was unreadable; the others were ranked
    assert "ranked 2 panoramas" in capsys.readouterr().out
    for i, image in enumerate(panoramas):
        overlay = read_image(out / f"pano_{i}_overlay.png")
        assert overlay.shape == image.shape
        single = Dataset.load(out / f"pano_{i}.json")
        assert single.has_ranks(single.images[0].id)
        assert {c["name"] for c in single.categories} == {"box", "ball"}
    combined = Dataset.load(out / "ranked.json")
    assert len(combined) == 2
    instances = combined.instances(2)
    assert len(instances) >= 1 and set(instances.class_ids) <= {1, 2}
    assert combined.read_image(2).shape == panoramas[1].shape


def test_rank_cli_without_usable_input(tmp_path):
    assert main(["rank", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")]) == 2


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_torch_cuda_fp16_matches_cpu_fp32(checkpoint, panoramas, torch_ranker):
    gpu = Ranker(checkpoint, "torch", device="cuda", score_threshold=0.0, allow_fallback=False)
    assert (gpu.info["device"], gpu.info["precision"]) == ("cuda", "fp16")
    for image in panoramas:
        problems, _ = compare_instances(torch_ranker.rank(image), gpu.rank(image),
                                        min_iou=0.95, score_atol=1e-2)
        assert problems == [], problems


@pytest.mark.gpu
@pytest.mark.skipif(not (HAS_TENSORRT and torch.cuda.is_available()),
                    reason="needs TensorRT and a CUDA GPU")
def test_tensorrt_ranks_like_torch(checkpoint, cache_dir, panoramas, torch_ranker):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trt = Ranker(checkpoint, "tensorrt", cache_dir=cache_dir, precision="fp32",
                     score_threshold=0.0, allow_fallback=False)
    for image in panoramas:
        problems, _ = compare_instances(torch_ranker.rank(image), trt.rank(image))
        assert problems == [], problems


def test_shipped_models_are_asked_for_by_name():
    from foir360_core.models import DEFAULT_MODEL, SHIPPED_MODELS, shipped_model_path
    from foir360_core.runtime.selection import resolve_model

    for name, file in SHIPPED_MODELS.items():
        assert resolve_model(name, "torch") == shipped_model_path(name)
        assert shipped_model_path(name).name == file
        assert resolve_model(name, "onnxruntime") == shipped_model_path(name).with_suffix(".onnx")
    assert resolve_model("", "torch") == shipped_model_path(DEFAULT_MODEL)
    assert resolve_model(f"./{DEFAULT_MODEL}", "torch") == Path(f"./{DEFAULT_MODEL}")
    with pytest.raises(FileNotFoundError, match="panorank-synthetic-demo"):
        shipped_model_path("panorank-nope")
    ranker = Ranker("panorank-synthetic-demo", "onnxruntime", threads=1)
    assert ranker.model_info.name == "panorank-synthetic-demo"
    assert ranker.model_path.suffix == ".onnx"


def test_an_onnx_runtime_ranker_starts_without_importing_onnx_or_a_warning():
    """The model's metadata comes from the ONNX Runtime session the ranker needs anyway:
    importing ``onnx`` to read it cost about 0.8 s of every node start. And a CPU session
    does not print ONNX Runtime's warning about the rank loop's input default."""
    import subprocess
    import sys

    code = ("import sys; from foir360_core.runtime import Ranker; "
            "r = Ranker('panorank-real360', backend='onnxruntime', threads=1); "
            "print(r.model_info.name, r.model_info.input_size, 'onnx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.split() == ["panorank-real360", "(384,", "768)", "False"]
    assert "rank_threshold" not in out.stderr
