"""Core results (``PanoInstances``) ↔ ``foir360/RankedInstanceArray``, plus derived outputs.

Plain code over any message classes with the ROS field names (see :mod:`foir360_ros.interfaces`):
the node passes rclpy classes, replay and the tests pass rosbags ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from foir360_core.structures import PanoInstances, decode_rle
from foir360_core.structures.instances import ranks_from_scores
from foir360_core.tracking import TrackedFrame
from foir360_ros.interfaces import MessageTypes

UINT16_MAX = np.iinfo(np.uint16).max


@dataclass(frozen=True)
class ProducerInfo:
    """The model that produced a ranked message: its name, version and class names.

    (Not the model contract: that is ``foir360_core.models.artifact.ModelInfo``.)
    """

    name: str
    version: str
    class_names: tuple[str, ...]


def ranks_of(instances: PanoInstances) -> np.ndarray:
    """Unique ranks 1..N: given ones, else derived from scores (higher = more important)."""
    if instances.ranks is not None:
        return instances.ranks
    if instances.scores is not None:
        return ranks_from_scores(instances.scores)
    raise ValueError("instances carry neither ranks nor scores; nothing to publish as a rank")


def _optional(values: np.ndarray | None, index: int) -> float:
    """NaN marks a value the producer did not give (documented in the README)."""
    return float("nan") if values is None else float(values[index])


def untracked(instances: PanoInstances) -> TrackedFrame:
    """The track fields of instances ranked frame by frame (tracking off): id 0, raw ranks."""
    ranks = ranks_of(instances)
    zeros = np.zeros(len(instances), dtype=np.int64)
    importance = (instances.scores if instances.scores is not None
                  else np.full(len(instances), np.nan))
    return TrackedFrame(track_ids=zeros, age_frames=zeros, age_s=zeros.astype(np.float64),
                        smoothed=importance, ranks=ranks, raw_ranks=ranks)


def instances_to_msg(
    types: MessageTypes,
    header,
    instances: PanoInstances,
    *,
    image_size: tuple[int, int],
    model: ProducerInfo,
    tracked: TrackedFrame | None = None,
    rles: list[dict] | None = None,
):
    """Build a ``RankedInstanceArray``; ``header`` is used verbatim, masks are RLE-encoded.

    ``image_size`` is the source image's (height, width); masks may be smaller (the mask
    resolution) and boxes are scaled to source pixels. Instances are ordered by the published
    rank: ``tracked.ranks`` when a tracker ran (see ``foir360_core.tracking``), else their own.
    ``rles`` passes masks already encoded (the tracker needed them too).
    """
    if instances.class_ids.size and int(instances.class_ids.max()) > UINT16_MAX:
        raise ValueError(f"class id {int(instances.class_ids.max())} does not fit a uint16")
    image_h, image_w = image_size
    mask_h, mask_w = instances.image_size
    scale_x, scale_y = image_w / mask_w, image_h / mask_h
    track = tracked if tracked is not None else untracked(instances)
    ranks = track.ranks
    rles = rles if rles is not None else instances.to_rle()
    geometry = instances.geometry
    vector3 = types["geometry_msgs/msg/Vector3"]
    ranked_cls = types["foir360/msg/RankedInstance"]
    items = []
    for i in np.argsort(ranks, kind="stable"):
        geom = geometry[i]
        x, y, w, h = geom.bbox_xywh
        items.append(ranked_cls(
            id=int(i),
            rank=int(ranks[i]),
            raw_rank=int(track.raw_ranks[i]),
            importance=_optional(instances.scores, i),
            class_id=int(instances.class_ids[i]),
            class_score=_optional(instances.class_scores, i),
            box_x=x * scale_x, box_y=y * scale_y, box_width=w * scale_x, box_height=h * scale_y,
            direction=vector3(x=geom.direction[0], y=geom.direction[1], z=geom.direction[2]),
            azimuth=geom.azimuth,
            elevation=geom.elevation,
            angular_width=math.radians(geom.extent_deg[0]),
            angular_height=math.radians(geom.extent_deg[1]),
            solid_angle=geom.solid_angle,
            mask_counts=rles[i]["counts"],
            mask_area=geom.area_px,
            track_id=int(track.track_ids[i]),
            track_age=int(track.age_frames[i]),
            track_duration=float(track.age_s[i]),
            smoothed_importance=float(track.smoothed[i]),
        ))
    return types["foir360/msg/RankedInstanceArray"](
        header=header,
        image_height=int(image_h), image_width=int(image_w),
        mask_height=int(mask_h), mask_width=int(mask_w),
        model_name=model.name, model_version=model.version,
        class_names=list(model.class_names),
        instances=items,
    )


def msg_to_instances(msg) -> PanoInstances:
    """Decode a ``RankedInstanceArray`` back to ``PanoInstances`` at mask resolution.

    Ranks, importance (as scores), class ids and class scores come back in array order.
    """
    size = [int(msg.mask_height), int(msg.mask_width)]
    items = list(msg.instances)
    if not items:
        return PanoInstances(masks=np.zeros((0, *size), dtype=bool), ranks=np.zeros(0))
    masks = decode_rle([{"size": size, "counts": item.mask_counts} for item in items])
    return PanoInstances(
        masks=masks,
        class_ids=np.array([item.class_id for item in items]),
        ranks=np.array([item.rank for item in items]),
        scores=np.array([item.importance for item in items]),
        class_scores=np.array([item.class_score for item in items]),
    )


def _class_label(msg, class_id: int) -> str:
    names = list(msg.class_names)
    return names[class_id] if 0 <= class_id < len(names) else str(class_id)


def ranked_to_detections(types: MessageTypes, msg):
    """A ``vision_msgs/Detection2DArray`` (4.x layout) companion of a ranked message.

    One detection per instance in rank order, ``id`` = str(track id) when tracking is on, else
    str(per-frame instance id), ``results[0]`` = class
    name and class score, box in source pixels. A box crossing the ERP seam keeps its true
    width and has its centre wrapped into [0, image_width), so it pokes out of one image edge.
    """
    point2d, pose2d = types["vision_msgs/msg/Point2D"], types["vision_msgs/msg/Pose2D"]
    box_cls = types["vision_msgs/msg/BoundingBox2D"]
    hypothesis_cls = types["vision_msgs/msg/ObjectHypothesis"]
    with_pose = types["vision_msgs/msg/ObjectHypothesisWithPose"]
    detection_cls = types["vision_msgs/msg/Detection2D"]
    width = float(msg.image_width)
    detections = []
    for item in msg.instances:
        centre_x = (item.box_x + item.box_width / 2.0) % width
        centre_y = item.box_y + item.box_height / 2.0
        hypothesis = hypothesis_cls(
            class_id=_class_label(msg, int(item.class_id)), score=float(item.class_score))
        detections.append(detection_cls(
            header=msg.header,
            results=[with_pose(hypothesis=hypothesis, pose=_identity_pose(types))],
            bbox=box_cls(center=pose2d(position=point2d(x=centre_x, y=centre_y), theta=0.0),
                         size_x=float(item.box_width), size_y=float(item.box_height)),
            id=str(item.track_id or item.id),
        ))
    return types["vision_msgs/msg/Detection2DArray"](header=msg.header, detections=detections)


def _identity_pose(types: MessageTypes):
    """An unused, all-zero-covariance pose (rosbags classes need every field spelled out)."""
    pose = types["geometry_msgs/msg/Pose"](
        position=types["geometry_msgs/msg/Point"](x=0.0, y=0.0, z=0.0),
        orientation=types["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
    )
    return types["geometry_msgs/msg/PoseWithCovariance"](pose=pose, covariance=np.zeros(36))


def label_image(instances: PanoInstances, ranks: np.ndarray | None = None) -> np.ndarray:
    """(H, W) uint16 at mask resolution: pixel = rank of the instance there, 0 = background.

    ``ranks`` are the published ones (default: the instances' own). Lossless (mono16, never
    JPEG it). Where masks overlap the more important instance wins.
    """
    ranks = ranks_of(instances) if ranks is None else np.asarray(ranks)
    labels = np.zeros(instances.image_size, dtype=np.uint16)
    for i in np.argsort(ranks, kind="stable")[::-1]:
        labels[instances.masks[i]] = ranks[i]
    return labels
