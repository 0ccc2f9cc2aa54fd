"""rosbag2 input and output with ``rosbags`` (MCAP and sqlite3), with errors a user can act on."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from foir360_core.errors import UserError
from foir360_ros.interfaces import rosbags_typestore
from foir360_ros.replay.recover import has_footer, salvage

log = logging.getLogger(__name__)

IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
STORAGES = ("mcap", "sqlite3")


class ReplayError(UserError, RuntimeError):
    """A bag cannot be replayed; the message names the problem and the fix."""


@contextmanager
def open_bag(path: Path, *, report_loss: bool = True) -> Iterator:
    """An open ``rosbags`` ``AnyReader`` whose default typestore knows foir360's types.

    Bags recorded by Humble in sqlite3 carry no type definitions, so the typestore must
    already know every type; newer bags embed theirs. A truncated MCAP (recorder killed,
    copy cut short) is read up to the damage, with a warning saying how much was lost
    (unless ``report_loss`` is false: a first look that the replay itself follows).
    """
    from rosbags.highlevel import AnyReaderError

    if not path.exists():
        raise ReplayError(f"bag {path} does not exist")
    with tempfile.TemporaryDirectory(prefix="foir360-bag-") as scratch:
        try:
            reader = _reader([path])
        except (AnyReaderError, OSError, ValueError, KeyError) as err:
            reader = _recovered(path, Path(scratch), err, report_loss)
        try:
            yield reader
        finally:
            reader.close()


def _reader(paths: list[Path]):
    from rosbags.highlevel import AnyReader

    reader = AnyReader(paths, default_typestore=rosbags_typestore())
    reader.open()
    return reader


def _recovered(path: Path, scratch: Path, err: Exception, report_loss: bool):
    """The readable part of a bag whose MCAP files lack their end, or the original error."""
    from rosbags.highlevel import AnyReaderError

    unreadable = ReplayError(
        f"cannot read bag {path}: {str(err).rstrip('.')}. Expected a rosbag2 folder "
        "(metadata.yaml plus .mcap or .db3 files) or a single .mcap file; check that it was "
        "fully copied")
    files = [path] if path.is_file() else sorted(path.glob("*.mcap"))
    if not files or all(has_footer(f) for f in files):
        raise unreadable from err
    parts, torn = [], {}
    for file in files:
        if has_footer(file):
            parts.append(file)
            continue
        repaired = scratch / file.name
        salvaged = salvage(file, repaired)
        if salvaged is None:
            raise unreadable from err
        parts.append(repaired)
        torn[file.name] = salvaged
    try:
        reader = _reader(parts)
    except (AnyReaderError, OSError, ValueError, KeyError):
        raise unreadable from err
    if not report_loss:
        return reader
    recorded = _recorded_count(path)
    lost = ", ".join(f"{name}: the last {s.total_bytes - s.kept_bytes} of {s.total_bytes} bytes"
                     for name, s in torn.items())
    of = "" if recorded is None else (
        f" of {recorded} recorded ({recorded - reader.message_count} lost)")
    log.warning("bag %s is truncated (%s unreadable); recovered %d messages%s, up to %.3f s "
                "after its start", path, lost, reader.message_count, of,
                (reader.end_time - reader.start_time) / 1e9 if reader.message_count else 0.0)
    return reader


def _recorded_count(path: Path) -> int | None:
    """The message count metadata.yaml records for the bag, when there is one."""
    import yaml

    metadata = path / "metadata.yaml" if path.is_dir() else None
    if metadata is None or not metadata.is_file():
        return None
    try:
        info = yaml.safe_load(metadata.read_text(encoding="utf-8"))
        return int(info["rosbag2_bagfile_information"]["message_count"])
    except (yaml.YAMLError, KeyError, TypeError, ValueError):
        return None


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
    with open_bag(bag, report_loss=False) as reader:  # the replay reports it
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
