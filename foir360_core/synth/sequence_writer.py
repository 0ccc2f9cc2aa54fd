"""Write a synthetic sequence as a dataset with track ids and, optionally, as a rosbag.

Layout: ``OUT/images/frame_0000.png`` …, ``OUT/masks.json`` (the dataset format; each image
carries ``stamp_ns`` and ``track_ids``, the ground-truth identity of its annotations in
order) and with ``bag=True`` ``OUT/bag/`` — a rosbag2 (MCAP) with every frame as a
``sensor_msgs/Image`` (rgb8) on ``/camera/image``, stamped ``stamp_ns`` in the header and the
bag, which ``foir360 replay OUT/bag --image-topic /camera/image --gt OUT/masks.json`` reads.
The bag holds only standard ROS 2 types, written with ``rosbags`` (no ROS install needed).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm

from foir360_core.io import ImageRecord, write_dataset, write_image
from foir360_core.structures import PanoInstances
from foir360_core.synth.dataset import DATASET_NAME
from foir360_core.synth.sequence import SequenceFrame, SequenceSettings, render_sequence
from foir360_core.synth.shapes import CATEGORIES

BAG_NAME = "bag"
IMAGE_TOPIC = "/camera/image"
FRAME_ID = "camera"


def write_sequence(out_dir: str | Path, seed: int = 0, settings: SequenceSettings | None = None,
                   *, bag: bool = True, progress: bool = False) -> Path:
    """Render the sequence of ``seed`` into ``out_dir``; return the path of the dataset JSON."""
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    settings = settings or SequenceSettings()
    out_dir = Path(out_dir)
    if bag and (out_dir / BAG_NAME).exists():
        raise ValueError(f"{out_dir / BAG_NAME} already exists; choose another --out or delete it")
    scene = render_sequence(seed, settings)
    frames = tqdm(scene, total=settings.frames, desc="sequence", unit="frame",
                  disable=not progress)
    writer = _BagWriter(out_dir / BAG_NAME) if bag else None
    info = {"description": "foir360 synthetic 360° sequence (test data: track ids, no ranks)",
            "generator_seed": seed, "fps": settings.fps}
    try:
        return write_dataset(out_dir / DATASET_NAME, _entries(out_dir, frames, writer),
                             categories=CATEGORIES, info=info)
    finally:
        if writer is not None:
            writer.close()


def _entries(out_dir: Path, frames, writer: _BagWriter | None
             ) -> Iterator[tuple[ImageRecord, PanoInstances]]:
    for frame in frames:
        name = f"images/frame_{frame.index:04d}.png"
        write_image(out_dir / name, frame.image)
        if writer is not None:
            writer.write(frame)
        height, width = frame.image.shape[:2]
        yield ImageRecord(
            id=frame.index + 1, file_name=name, width=width, height=height,
            extra={"stamp_ns": frame.stamp_ns, "track_ids": frame.track_ids.tolist(),
                   "frame_index": frame.index, "source": "foir360 synth --sequence"},
        ), frame.instances


class _BagWriter:
    """One MCAP rosbag2 with the frames as ``sensor_msgs/Image`` messages."""

    def __init__(self, path: Path) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.typesys import Stores, get_typestore

        self.typestore = get_typestore(Stores.ROS2_KILTED)
        self.types = self.typestore.types
        self.writer = Writer(path, version=8, storage_plugin=StoragePlugin.MCAP)
        self.writer.open()
        self.connection = self.writer.add_connection(
            IMAGE_TOPIC, "sensor_msgs/msg/Image", typestore=self.typestore)

    def write(self, frame: SequenceFrame) -> None:
        height, width = frame.image.shape[:2]
        stamp = self.types["builtin_interfaces/msg/Time"](
            sec=frame.stamp_ns // 1_000_000_000, nanosec=frame.stamp_ns % 1_000_000_000)
        header = self.types["std_msgs/msg/Header"](stamp=stamp, frame_id=FRAME_ID)
        msg = self.types["sensor_msgs/msg/Image"](
            header=header, height=height, width=width, encoding="rgb8", is_bigendian=0,
            step=3 * width, data=np.ascontiguousarray(frame.image).reshape(-1))
        self.writer.write(self.connection, frame.stamp_ns,
                          self.typestore.serialize_cdr(msg, "sensor_msgs/msg/Image"))

    def close(self) -> None:
        self.writer.close()
