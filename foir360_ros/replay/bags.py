"""rosbag2 input and output with ``rosbags`` (MCAP and sqlite3), with errors a user can act on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from foir360_ros.interfaces import rosbags_typestore

IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
STORAGES = ("mcap", "sqlite3")


class ReplayError(RuntimeError):
    """A bag cannot be replayed; the message names the problem and the fix."""


@contextmanager
def open_bag(path: Path) -> Iterator:
    """An open ``rosbags`` ``AnyReader`` whose default typestore knows foir360's types.

    Bags recorded by Humble in sqlite3 carry no type definitions, so the typestore must
    already know every type; newer bags embed theirs.
    """
    from rosbags.highlevel import AnyReader, AnyReaderError

    if not path.exists():
        raise ReplayError(f"bag {path} does not exist")
    try:
        reader = AnyReader([path], default_typestore=rosbags_typestore())
        reader.open()
    except (AnyReaderError, OSError, ValueError, KeyError) as err:
        raise ReplayError(
            f"cannot read bag {path}: {str(err).rstrip('.')}. Expected a rosbag2 folder "
            "(metadata.yaml plus .mcap or .db3 files) or a single .mcap file; check that it was "
            "fully copied") from err
    try:
        yield reader
    finally:
        reader.close()


def image_connections(reader, topic: str) -> list:
    """The bag's connections on ``topic``; a missing topic lists the image topics there are."""
    connections = [c for c in reader.connections if c.topic == topic]
    if not connections:
        images = sorted({f"{c.topic} [{c.msgtype}]" for c in reader.connections
                         if c.msgtype in IMAGE_TYPES})
        raise ReplayError(
            f"topic {topic} is not in the bag; image topics in it: "
            f"{', '.join(images) if images else 'none'} (pass one with --image-topic)")
    wrong = [c.msgtype for c in connections if c.msgtype not in IMAGE_TYPES]
    if wrong:
        raise ReplayError(
            f"topic {topic} carries {wrong[0]}, not an image; pick a sensor_msgs/Image or "
            "CompressedImage topic with --image-topic")
    return connections


def check_inputs(bag: Path, topic: str, out: Path) -> None:
    """Fail fast, before any model loads: the bag opens, has the topic, the output is new."""
    if out.exists():
        raise ReplayError(f"output {out} already exists; choose another --out or delete it")
    with open_bag(bag) as reader:
        image_connections(reader, topic)


def open_writer(path: Path, storage: str):
    """A rosbag2 ``Writer`` (format version 8, which Humble's ``ros2 bag`` also reads)."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    if path.exists():
        raise ReplayError(f"output {path} already exists; choose another --out or delete it")
    if storage not in STORAGES:
        raise ReplayError(f"unknown storage '{storage}'; use one of {', '.join(STORAGES)}")
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    return Writer(path, version=8, storage_plugin=plugin)
