"""``sensor_msgs/Image`` and ``CompressedImage`` ↔ RGB numpy arrays, without cv_bridge.

PyPI's cv_bridge is a ROS 1 port, and a robot's one pulls in C++; numpy does the job: respect
``step`` (row padding), reorder channels, decode compressed payloads with OpenCV. Every bad
frame raises :class:`BadFrameError` with a short ``reason`` (for counters) and a message that
names the problem and the fix; callers count it and carry on.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from foir360_core.geometry import ErpShapeError, check_erp_shape
from foir360_ros.interfaces import MessageTypes

# encoding -> (channels, OpenCV conversion to 3 channels; None = used as it comes). bgr8 and
# bgra8 stay in BGR order: ranking swaps channels at network input size, not at frame size.
ENCODINGS: dict[str, tuple[int, int | None]] = {
    "rgb8": (3, None),
    "bgr8": (3, None),
    "rgba8": (4, cv2.COLOR_RGBA2RGB),
    "bgra8": (4, cv2.COLOR_BGRA2BGR),
    "mono8": (1, cv2.COLOR_GRAY2RGB),
}
BGR_ENCODINGS = ("bgr8", "bgra8")
COMPRESSED_FORMATS = ("jpeg", "png")


@dataclass(frozen=True)
class Frame:
    """A decoded frame's (H, W, 3) uint8 pixels in the channel order they arrived in.

    ``bgr`` marks OpenCV's order (bgr8, bgra8, decoded JPEG and PNG payloads). Converting a
    2048x1024 frame to RGB costs milliseconds that ``Ranker.rank(..., bgr=True)`` avoids by
    swapping channels in its input lookup at network size.
    """

    pixels: np.ndarray
    bgr: bool

    def rgb(self) -> np.ndarray:
        """The pixels in RGB order (a view of BGR ones, for drawing and tests)."""
        return self.pixels[..., ::-1] if self.bgr else self.pixels


class BadFrameError(ValueError):
    """An input frame the node cannot use; ``reason`` is a short counter key."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def image_to_frame(msg) -> Frame:
    """The pixels of a ``sensor_msgs/Image`` of a supported encoding."""
    encoding = str(msg.encoding)
    if encoding not in ENCODINGS:
        raise BadFrameError(
            "encoding",
            f"unsupported image encoding '{encoding}'; supported: {', '.join(ENCODINGS)}. "
            "Publish one of these (e.g. through image_proc's debayer/convert) or a "
            "CompressedImage with compressed:=true",
        )
    channels, conversion = ENCODINGS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height == 0 or width == 0:
        raise BadFrameError("empty", f"empty image ({width}x{height}); check the camera driver")
    row_bytes = width * channels
    if step < row_bytes:
        raise BadFrameError(
            "step",
            f"step {step} is smaller than width*channels = {row_bytes} for {encoding}; "
            "the message header is inconsistent with its encoding",
        )
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size < step * height:
        raise BadFrameError(
            "truncated",
            f"truncated image: {data.size} bytes for {height} rows of step {step} "
            f"(needs {step * height}); check the driver or the bag",
        )
    rows = data[: step * height].reshape(height, step)[:, :row_bytes]
    bgr = encoding in BGR_ENCODINGS
    if conversion is None:  # rgb8, bgr8: a view of the message's buffer, no copy of a frame
        return Frame(rows.reshape(height, width, 3), bgr)
    pixels = rows if channels == 1 else rows.reshape(height, width, channels)
    return Frame(cv2.cvtColor(np.ascontiguousarray(pixels), conversion), bgr)


def compressed_to_frame(msg) -> Frame:
    """The pixels of a jpeg or png ``sensor_msgs/CompressedImage`` (BGR, as OpenCV decodes).

    ``format`` may be a bare ``jpeg``/``png`` or image_transport's ``"bgr8; jpeg compressed
    bgr8"``; depth-compressed and video payloads are rejected.
    """
    fmt = str(msg.format).lower()
    if "compresseddepth" in fmt or not any(f in fmt for f in (*COMPRESSED_FORMATS, "jpg")):
        raise BadFrameError(
            "format",
            f"unsupported compressed format '{msg.format}'; supported: jpeg, png. "
            "Decode video (h264) upstream and publish sensor_msgs/Image instead",
        )
    data = np.frombuffer(msg.data, dtype=np.uint8)
    decoded = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if decoded is None:
        raise BadFrameError(
            "decode",
            f"could not decode the {msg.format} payload ({data.size} bytes): corrupt or "
            "truncated; check the publisher",
        )
    return Frame(decoded, bgr=True)


def check_erp(image: np.ndarray, *, strict: bool = True) -> None:
    """Reject a frame that is not a plausible 2:1 ERP panorama (wrong camera topic?)."""
    try:
        check_erp_shape(image.shape[0], image.shape[1], strict=strict)
    except ErpShapeError as err:
        raise BadFrameError("not_erp", str(err)) from err


def array_to_image(types: MessageTypes, header, pixels: np.ndarray, encoding: str = "rgb8"):
    """A ``sensor_msgs/Image`` from RGB (as rgb8 or bgr8) or a 2-D array (mono8 or mono16)."""
    if encoding == "bgr8":
        pixels = pixels[:, :, ::-1]
    array = np.ascontiguousarray(pixels)
    height, width = array.shape[:2]
    step = array.strides[0]
    big_endian = encoding == "mono16" and array.dtype.byteorder == ">"
    return types["sensor_msgs/msg/Image"](
        header=header, height=height, width=width, encoding=encoding,
        is_bigendian=int(big_endian), step=step, data=types.uint8_field(array.view(np.uint8)),
    )


def rgb_to_compressed(types: MessageTypes, header, rgb: np.ndarray, fmt: str = "jpeg",
                      quality: int = 90):
    """A ``sensor_msgs/CompressedImage`` (jpeg or png) from an RGB array."""
    ext, params = (".jpg", [cv2.IMWRITE_JPEG_QUALITY, quality]) if fmt == "jpeg" else (".png", [])
    ok, encoded = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {rgb.shape} image as {fmt}")
    return types["sensor_msgs/msg/CompressedImage"](
        header=header, format=fmt, data=types.uint8_field(encoded.reshape(-1)))
