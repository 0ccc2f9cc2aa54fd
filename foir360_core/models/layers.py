"""Panorama-aware building blocks: seam-wrapping convolution and spherical position codes.

An ERP image is periodic in longitude: column 0 and column W-1 are neighbours on the
sphere. A convolution with zero padding sees a hard edge there, so an object crossing the
seam is cut in two. ``WrapConv2d`` pads circularly in longitude and with zeros in latitude
(the poles are not neighbours of each other), and ``wrap_longitude`` converts every padded
``nn.Conv2d`` of an existing module (our backbone, or a user's timm model) in place,
keeping parameter names so pretrained state dicts still load.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def circular_pad_lon(x: torch.Tensor, pad: int) -> torch.Tensor:
    """Pad the last (longitude) axis by wrapping; written with slicing so ONNX sees Concat."""
    if pad <= 0:
        return x
    return torch.cat([x[..., -pad:], x, x[..., :pad]], dim=-1)


class WrapConv2d(nn.Conv2d):
    """``nn.Conv2d`` whose padding wraps in longitude and is zero in latitude.

    Only the longitude pad is a separate step (a Concat of the wrapped columns); the
    latitude zeros stay the convolution's own padding, which every backend applies inside
    the kernel. A separate zero ``Pad`` per convolution cost a copy and, in ONNX Runtime, a
    layout reorder around each one.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        pad_lat, pad_lon = (int(p) for p in self.padding)  # type: ignore[union-attr]
        self._pad_lon = pad_lon
        self.padding = (pad_lat, 0)

    @property
    def lon_pad(self) -> int:
        """Wrapped columns each side the convolution reads beyond its input's width."""
        return self._pad_lon

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_prepadded(circular_pad_lon(x, self._pad_lon))

    def forward_prepadded(self, x: torch.Tensor) -> torch.Tensor:
        """The convolution of ``x`` already wrapped by ``lon_pad`` columns each side.

        Lets a block wrap once, early, where its tensor is narrow (see ``MBConv``).
        """
        return self._conv_forward(x, self.weight, self.bias)

    @classmethod
    def from_conv(cls, conv: nn.Conv2d) -> WrapConv2d:
        """A wrapping copy of ``conv`` sharing its parameters."""
        if isinstance(conv.padding, str):
            raise ValueError(
                f"cannot wrap a conv with padding={conv.padding!r}; use explicit integers"
            )
        wrapped = cls(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            stride=conv.stride,
            padding=conv.padding,
            dilation=conv.dilation,
            groups=conv.groups,
            bias=conv.bias is not None,
        )
        wrapped.weight = conv.weight
        wrapped.bias = conv.bias
        return wrapped


def wrap_longitude(module: nn.Module) -> int:
    """Replace every padded ``nn.Conv2d`` under ``module`` by a ``WrapConv2d``; returns count."""
    count = 0
    for name, child in list(module.named_children()):
        if type(child) is nn.Conv2d and any(int(p) > 0 for p in child.padding):
            setattr(module, name, WrapConv2d.from_conv(child))
            count += 1
        else:
            count += wrap_longitude(child)
    return count


def spherical_features(height: int, width: int, frequencies: int, device=None) -> torch.Tensor:
    """(H*W, 3 + 4F) features of each cell centre: unit vector + sin/cos harmonics.

    Longitude harmonics sin(k·lon), cos(k·lon) are periodic, so the code is continuous
    across the seam; the unit vector (REP 103 axes) gives absolute spherical position,
    which seed 003 found matters for ranking.
    """
    v = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) / height
    u = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) / width
    lat = (0.5 - v) * math.pi
    lon = (u - 0.5) * 2.0 * math.pi
    lat_g = lat[:, None].expand(height, width)
    lon_g = lon[None, :].expand(height, width)
    vec = torch.stack(
        [
            torch.cos(lat_g) * torch.cos(lon_g),
            -torch.cos(lat_g) * torch.sin(lon_g),
            torch.sin(lat_g),
        ],
        dim=-1,
    )
    k = torch.arange(1, frequencies + 1, device=device, dtype=torch.float32)
    lon_k = lon_g[..., None] * k
    lat_k = lat_g[..., None] * k
    feats = torch.cat(
        [vec, torch.sin(lon_k), torch.cos(lon_k), torch.sin(lat_k), torch.cos(lat_k)], dim=-1
    )
    return feats.reshape(height * width, -1)


class SphericalPositionEncoding(nn.Module):
    """Learned projection of ``spherical_features`` to the model width."""

    def __init__(self, dim: int, frequencies: int = 8) -> None:
        super().__init__()
        self.frequencies = frequencies
        self.proj = nn.Sequential(
            nn.Linear(3 + 4 * frequencies, dim), nn.ReLU(inplace=True), nn.Linear(dim, dim)
        )

    def forward(self, height: int, width: int, device=None) -> torch.Tensor:
        """(H*W, dim) position code for a feature map of ``height`` × ``width`` cells."""
        return self.proj(spherical_features(height, width, self.frequencies, device))
