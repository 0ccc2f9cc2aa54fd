"""Messages and conversions: one .msg definition for rosidl and rosbags, lossless round trips,
geometry that agrees with the masks, images in every supported encoding, every bad frame named."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest
import yaml

from foir360_core.geometry import azimuth_elevation, spherical_centroid
from foir360_core.structures import PanoInstances
from tests.ros.helpers import REPO, header, ros

pytestmark = ros

H, W = 64, 128


@pytest.fixture(scope="module")
def bags_types():
    from foir360_ros.interfaces import rosbags_types

    return rosbags_types()


@pytest.fixture(scope="module")
def rclpy_types():
    from foir360_ros.interfaces import rclpy_types

    return rclpy_types()


@pytest.fixture(scope="module")
def instances() -> PanoInstances:
    """A seam-crossing object, a polar cap, a plain box and one overlapping it."""
    masks = np.zeros((4, H, W), dtype=bool)
    masks[0, 20:30, W - 6:] = True
    masks[0, 20:30, :4] = True
    masks[1, :4, :] = True
    masks[2, 35:50, 40:60] = True
    masks[3, 40:55, 50:70] = True
    return PanoInstances(masks=masks, class_ids=[0, 1, 2, 1], ranks=[3, 4, 1, 2],
                         scores=[0.3, 0.1, 0.9, 0.5], class_scores=[0.8, 0.7, 0.95, 0.6])


def _model():
    from foir360_ros.ranked import ProducerInfo

    return ProducerInfo("panorank-test", "1.2", ("person", "chair", "door"))


def test_rosbags_registration_matches_the_rosidl_build():
    """The same .msg text gives the same type hash in rosbags as rosidl computed at build time."""
    from foir360_ros.interfaces import OWN_MESSAGES, rosbags_typestore

    typestore = rosbags_typestore()
    share = REPO / "install" / "ros" / "share" / "foir360" / "msg"
    if not share.is_dir():
        pytest.skip(f"{share} is missing: run `make interfaces`")
    for name in OWN_MESSAGES:
        described = json.loads((share / f"{name}.json").read_text())["type_hashes"]
        rosidl = {h["type_name"]: h["hash_string"] for h in described}
        assert typestore.hash_rihs01(f"foir360/msg/{name}") == rosidl[f"foir360/msg/{name}"]


def test_ranked_message_round_trips_across_flavours(bags_types, rclpy_types, instances):
    """rosbags-built CDR decodes in rclpy and back, losslessly, ordered by rank."""
    from rclpy.serialization import deserialize_message, serialize_message

    from foir360_ros.interfaces import rosbags_typestore
    from foir360_ros.ranked import instances_to_msg, msg_to_instances

    typestore = rosbags_typestore()
    msg = instances_to_msg(bags_types, header(bags_types, 5_000_000_007, "cam360"), instances,
                           image_size=(2 * H, 2 * W), model=_model())
    cdr = bytes(typestore.serialize_cdr(msg, "foir360/msg/RankedInstanceArray"))
    online = deserialize_message(cdr, rclpy_types["foir360/msg/RankedInstanceArray"])
    offline = typestore.deserialize_cdr(serialize_message(online),
                                        "foir360/msg/RankedInstanceArray")
    for decoded in (online, offline):
        assert (decoded.header.stamp.sec, decoded.header.stamp.nanosec) == (5, 7)
        assert decoded.header.frame_id == "cam360"
        assert (decoded.image_height, decoded.image_width) == (2 * H, 2 * W)
        assert (decoded.mask_height, decoded.mask_width) == (H, W)
        assert (decoded.model_name, decoded.model_version) == ("panorank-test", "1.2")
        assert list(decoded.class_names) == ["person", "chair", "door"]
        assert [item.rank for item in decoded.instances] == [1, 2, 3, 4]
        assert [item.id for item in decoded.instances] == [2, 3, 0, 1]
        back = msg_to_instances(decoded)
        order = np.array([2, 3, 0, 1])
        np.testing.assert_array_equal(back.masks, instances.masks[order])
        np.testing.assert_array_equal(back.class_ids, instances.class_ids[order])
        np.testing.assert_allclose(back.scores, instances.scores[order], rtol=1e-6)
        np.testing.assert_allclose(back.class_scores, instances.class_scores[order], rtol=1e-6)


def test_geometry_fields_agree_with_the_decoded_masks(bags_types, instances):
    from foir360_ros.ranked import instances_to_msg, msg_to_instances

    msg = instances_to_msg(bags_types, header(bags_types, 1), instances,
                           image_size=(2 * H, 2 * W), model=_model())
    masks = msg_to_instances(msg).masks
    for item, mask in zip(msg.instances, masks, strict=True):
        direction = np.array([item.direction.x, item.direction.y, item.direction.z])
        np.testing.assert_allclose(direction, spherical_centroid(mask), atol=1e-6)
        assert np.linalg.norm(direction) == pytest.approx(1.0, abs=1e-6)
        azimuth, elevation = azimuth_elevation(direction)
        assert item.azimuth == pytest.approx(azimuth, abs=1e-6)
        assert item.elevation == pytest.approx(elevation, abs=1e-6)
        assert item.mask_area == int(mask.sum())
    seam = next(item for item in msg.instances if item.id == 0)
    # 10 columns around the seam at mask resolution = 20 source pixels starting 12 from the end.
    assert (seam.box_x, seam.box_width) == (2 * (W - 6), 20.0)
    assert seam.box_x + seam.box_width > msg.image_width
    assert abs(seam.azimuth) == pytest.approx(math.pi, abs=0.05)  # straight behind
    assert seam.angular_width == pytest.approx(math.radians(10 * 360 / W))
    polar = next(item for item in msg.instances if item.id == 1)
    assert polar.direction.z == pytest.approx(1.0, abs=1e-6)
    assert polar.box_width == 2 * W
    # the cap's solid angle: 2π(1 - sin(latitude of its lower edge))
    assert polar.solid_angle == pytest.approx(2 * math.pi * (1 - math.cos(math.pi * 4 / H)),
                                              rel=0.02)


def test_detections_follow_vision_msgs_4(bags_types, instances):
    """Detection2DArray against vision_msgs 4.1 registered from .msg text (CDR round trip)."""
    from foir360_ros.interfaces import DETECTIONS, rosbags_typestore
    from foir360_ros.ranked import instances_to_msg, ranked_to_detections

    typestore = rosbags_typestore()
    msg = instances_to_msg(bags_types, header(bags_types, 42), instances,
                           image_size=(2 * H, 2 * W), model=_model())
    detections = ranked_to_detections(bags_types, msg)
    back = typestore.deserialize_cdr(typestore.serialize_cdr(detections, DETECTIONS), DETECTIONS)
    assert back.header.stamp.nanosec == 42
    assert [d.id for d in back.detections] == ["2", "3", "0", "1"]
    first = back.detections[0]
    assert first.results[0].hypothesis.class_id == "door"
    assert first.results[0].hypothesis.score == pytest.approx(0.95)
    assert first.bbox.center.position.x == pytest.approx(2 * 40 + 20)
    assert first.bbox.center.position.y == pytest.approx(2 * 35 + 15)
    assert (first.bbox.size_x, first.bbox.size_y) == (40.0, 30.0)
    seam = back.detections[2]
    assert 0 <= seam.bbox.center.position.x < 2 * W
    assert seam.bbox.center.position.x == pytest.approx((2 * (W - 6) + 10) % (2 * W))


def test_label_image_is_lossless_mono16_with_the_important_object_on_top(
        bags_types, rclpy_types, instances):
    from foir360_ros.images import array_to_image
    from foir360_ros.ranked import label_image

    labels = label_image(instances)
    assert labels.dtype == np.uint16
    assert set(np.unique(labels).tolist()) == {0, 1, 2, 3, 4}
    assert labels[45, 55] == 1  # overlap of rank 1 and rank 2
    for types in (bags_types, rclpy_types):
        msg = array_to_image(types, header(types, 1), labels, "mono16")
        assert (msg.encoding, msg.step, msg.is_bigendian) == ("mono16", 2 * W, 0)
        data = np.frombuffer(msg.data, np.uint8).view("<u2").reshape(H, W)
        np.testing.assert_array_equal(data, labels)


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8", "mono8"])
def test_every_supported_encoding_with_row_padding(rclpy_types, encoding):
    from foir360_ros.images import image_to_frame

    rgb = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    if encoding == "mono8":
        rgb = np.repeat(rgb[:, :, :1], 3, axis=2)
    channels = {"rgb8": rgb, "bgr8": rgb[:, :, ::-1],
                "rgba8": np.dstack([rgb, np.full((H, W), 7, np.uint8)]),
                "bgra8": np.dstack([rgb[:, :, ::-1], np.full((H, W), 7, np.uint8)]),
                "mono8": rgb[:, :, :1]}[encoding]
    row = channels.reshape(H, -1)
    padded = np.concatenate([row, np.full((H, 5), 255, np.uint8)], axis=1)  # step > width
    msg = rclpy_types["sensor_msgs/msg/Image"](
        header=header(rclpy_types, 1), height=H, width=W, encoding=encoding, is_bigendian=0,
        step=padded.shape[1], data=rclpy_types.uint8_field(padded))
    frame = image_to_frame(msg)
    assert frame.bgr == encoding.startswith("bgr")
    np.testing.assert_array_equal(frame.rgb(), rgb)


def test_compressed_jpeg_and_png(bags_types):
    from foir360_ros.images import compressed_to_frame, rgb_to_compressed

    def compressed_to_rgb(msg):
        return compressed_to_frame(msg).rgb()

    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[:, : W // 2] = (200, 30, 10)
    png = rgb_to_compressed(bags_types, header(bags_types, 1), rgb, "png")
    np.testing.assert_array_equal(compressed_to_rgb(png), rgb)
    jpeg = rgb_to_compressed(bags_types, header(bags_types, 1), rgb, "jpeg")
    assert np.abs(compressed_to_rgb(jpeg).astype(int) - rgb).mean() < 3
    transport = bags_types["sensor_msgs/msg/CompressedImage"](
        header=jpeg.header, format="bgr8; jpeg compressed bgr8", data=jpeg.data)
    assert compressed_to_rgb(transport).shape == (H, W, 3)


def _image(types, **fields):
    values = {"height": H, "width": W, "encoding": "rgb8", "is_bigendian": 0, "step": 3 * W,
              "data": np.zeros(3 * W * H, np.uint8)}
    values.update(fields)
    values["data"] = types.uint8_field(values["data"])
    return types["sensor_msgs/msg/Image"](header=header(types, 1), **values)


def _compressed(types, fmt: str, data: bytes):
    return types["sensor_msgs/msg/CompressedImage"](
        header=header(types, 1), format=fmt, data=types.uint8_field(np.frombuffer(data, np.uint8)))


def _jpeg(height: int, width: int) -> bytes:
    return cv2.imencode(".jpg", np.zeros((height, width, 3), np.uint8))[1].tobytes()


BAD_FRAMES = {
    "encoding": (lambda t: _image(t, encoding="yuv422"), "supported: rgb8"),
    "16-bit": (lambda t: _image(t, encoding="16UC1", step=2 * W), "supported: rgb8"),
    "truncated": (lambda t: _image(t, data=np.zeros(3 * W * H - 10, np.uint8)), "truncated"),
    "step": (lambda t: _image(t, step=W), "step"),
    "empty": (lambda t: _image(t, height=0, data=np.zeros(0, np.uint8)), "empty image"),
    "not_erp": (lambda t: _image(t, width=H, step=3 * H), "not a 2:1"),
    "decode": (lambda t: _compressed(t, "jpeg", _jpeg(H, W)[: 200]), "could not decode"),
    "garbage": (lambda t: _compressed(t, "png", b"not a png at all"), "could not decode"),
    "format": (lambda t: _compressed(t, "h264", b"\x00\x00\x01"), "supported: jpeg, png"),
    "depth": (lambda t: _compressed(t, "16UC1; compressedDepth png", b"x"), "supported: jpeg"),
    "compressed_not_erp": (lambda t: _compressed(t, "jpeg", _jpeg(H, H)), "not a 2:1"),
}


@pytest.mark.parametrize("kind", sorted(BAD_FRAMES))
def test_bad_frames_are_rejected_with_the_problem_and_the_fix(bags_types, kind):
    from foir360_ros.images import BadFrameError, check_erp, compressed_to_frame, image_to_frame

    build, expected = BAD_FRAMES[kind]
    msg = build(bags_types)
    with pytest.raises(BadFrameError) as caught:
        frame = compressed_to_frame(msg) if hasattr(msg, "format") else image_to_frame(msg)
        check_erp(frame.pixels)
    assert expected in str(caught.value)
    assert caught.value.reason


def test_diagnostics_count_and_serialise(bags_types, rclpy_types):
    from rclpy.serialization import serialize_message

    from foir360_ros.diagnostics import OK, WARN, NodeStats, diagnostic_array
    from foir360_ros.interfaces import rosbags_typestore

    stats = NodeStats()
    assert stats.report(model="m 1", backend="torch", silence_s=5).level == WARN  # no input yet
    for replaced in (False, True, True):
        stats.frame_received(replaced_pending=replaced)
    stats.frame_rejected("truncated")
    first = stats.report(model="m 1", backend="torch", silence_s=5)
    assert first.level == WARN and "rejected" in first.message
    stats.frame_done({"infer": 30.0, "publish": 1.0}, latency_ms=45.0)
    report = stats.report(model="m 1", backend="torch", silence_s=5)
    assert report.level == OK
    values = report.values
    assert values["frames received"] == "3" and values["frames dropped (busy)"] == "2"
    assert values["rejected: truncated"] == "1" and values["frames processed"] == "1"
    assert values["latency from stamp (ms, median)"] == "45.00"
    assert float(values["input rate (Hz)"]) > 0
    online = diagnostic_array(rclpy_types, header(rclpy_types, 1).stamp, name="n",
                              hardware_id="torch", report=report)
    assert serialize_message(online)
    offline = diagnostic_array(bags_types, header(bags_types, 1).stamp, name="n",
                               hardware_id="torch", report=report)
    cdr = rosbags_typestore().serialize_cdr(offline, "diagnostic_msgs/msg/DiagnosticArray")
    assert len(cdr) > 100


def test_config_file_lists_every_node_parameter_with_its_default():
    from foir360_ros.parameters import parameter_defaults
    from foir360_ros.ranker_node import SETTINGS_CLASSES

    config = yaml.safe_load((REPO / "config" / "foir360.yaml").read_text())
    params = config["/**"]["ros__parameters"]
    assert params == parameter_defaults(*SETTINGS_CLASSES)
    assert list(params) != sorted(params)  # grouped by purpose, not just dumped


def test_frames_in_either_channel_order_rank_the_same(bags_types, node_model):
    """bgr8 frames and decoded PNGs stay BGR until the network input: the same picture as
    rgb8, bgr8 or PNG gives the same instances, ranks and masks."""
    from foir360_core.runtime import Ranker
    from foir360_core.synth import render_panorama
    from foir360_ros.images import array_to_image, rgb_to_compressed
    from foir360_ros.pipeline import RankingPipeline

    rgb = render_panorama(4, height=128).image
    pipeline = RankingPipeline(Ranker(str(node_model), backend="onnxruntime", threads=1),
                               bags_types, mask_height=64)
    results = [pipeline.process(msg) for msg in (
        array_to_image(bags_types, header(bags_types, 1), rgb, "rgb8"),
        array_to_image(bags_types, header(bags_types, 1), rgb, "bgr8"),
        rgb_to_compressed(bags_types, header(bags_types, 1), rgb, "png"))]
    assert [r.frame.bgr for r in results] == [False, True, True]
    first = results[0].instances
    assert len(first) >= 1
    for other in results[1:]:
        np.testing.assert_array_equal(other.instances.ranks, first.ranks)
        np.testing.assert_array_equal(other.instances.masks, first.masks)
        np.testing.assert_array_equal(other.frame.rgb(), rgb)
