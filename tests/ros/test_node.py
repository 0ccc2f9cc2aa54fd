"""The ranker node end to end over real ROS 2 (rclpy + Fast DDS on loopback).

Raw and compressed frames go in, ranked instances come out with the input header; bad frames
of every kind are counted in /diagnostics while the node keeps answering; with no input the
node names the publishers it sees and their QoS.
"""

from __future__ import annotations

import numpy as np
import pytest

from foir360_core.geometry import (
    lonlat_grid,
    lonlat_to_vector,
    solid_angle_weights,
    spherical_centroid,
)
from tests.ros.helpers import (
    Harness,
    domain_id,
    header,
    ros,
    stamp_ns,
    synthetic_frames,
    tiny_ranker,
    wait_for,
)

pytestmark = ros

RANKED = "foir360/msg/RankedInstanceArray"
IMAGE = "sensor_msgs/msg/Image"
COMPRESSED = "sensor_msgs/msg/CompressedImage"
MASK_H = 32


@pytest.fixture(scope="module")
def harness(node_model, tiny_model):
    h = Harness(domain_id(__name__))
    h.model_name = tiny_ranker(node_model).info["model_name"]
    h.raw = h.add_ranker(tiny_ranker(node_model), "raw", image_topic="/cam/image",
                         mask_height=MASK_H, publish_label_image=True, publish_overlay=True)
    h.compressed = h.add_ranker(tiny_ranker(node_model), "jpeg", image_topic="/cam/image",
                                compressed=True, mask_height=0)
    h.raw_out = h.collect(RANKED, "/raw/foir360_ranker/ranked_instances")
    h.jpeg_out = h.collect(RANKED, "/jpeg/foir360_ranker/ranked_instances")
    h.labels = h.collect(IMAGE, "/raw/foir360_ranker/label_image")
    h.overlays = h.collect(IMAGE, "/raw/foir360_ranker/overlay")
    h.diagnostics = h.collect("diagnostic_msgs/msg/DiagnosticArray", "/diagnostics", depth=100)
    h.image_pub = h.publisher(IMAGE, "/cam/image")
    h.jpeg_pub = h.publisher(COMPRESSED, "/cam/image/compressed")
    h.frames = synthetic_frames(3, height=64)
    wait_for(lambda: h.image_pub.get_subscription_count() >= 1
             and h.jpeg_pub.get_subscription_count() >= 1
             and h.peer.count_publishers("/raw/foir360_ranker/overlay") >= 1,
             10, "discovery of the ranker nodes")
    yield h
    h.close()


def _resend_until(done, publish, what: str, tries: int = 5) -> None:
    """Publish until ``done()``: best-effort input may lose a frame, so resend a few times."""
    for _ in range(tries):
        publish()
        try:
            wait_for(done, 2.0, what)
            return
        except AssertionError:
            continue
    raise AssertionError(f"no {what} after {tries} tries")


def _answer(out: list, stamp: int, publish):
    """Publish a frame until the ranked answer carrying its stamp arrives; return it."""
    _resend_until(lambda: any(stamp_ns(m.header.stamp) == stamp for m in out), publish,
                  f"answer to frame {stamp}")
    return next(m for m in out if stamp_ns(m.header.stamp) == stamp)


def _resultant(mask: np.ndarray) -> float:
    """Length of the solid-angle weighted mean unit vector: ~0 when the centre is undefined
    (a mask covering the whole sphere or a full ring)."""
    height, width = mask.shape
    lon, lat = lonlat_grid(height, width)
    vectors = lonlat_to_vector(*np.broadcast_arrays(lon[None, :], lat[:, None]))
    weights = solid_angle_weights(height, width) * mask
    return float(np.linalg.norm((vectors * weights[..., None]).sum((0, 1))) / weights.sum())


def _check_ranked(msg, image_hw, mask_hw, frame_id, model_name):
    from foir360_ros.ranked import msg_to_instances

    assert msg.header.frame_id == frame_id
    assert (msg.image_height, msg.image_width) == image_hw
    assert (msg.mask_height, msg.mask_width) == mask_hw
    assert msg.model_name == model_name
    ranks = [item.rank for item in msg.instances]
    assert ranks == list(range(1, len(ranks) + 1)), "unique ranks 1..N in rank order"
    assert len(ranks) >= 1
    masks = msg_to_instances(msg).masks
    assert masks.shape == (len(ranks), *mask_hw)
    for item, mask in zip(msg.instances, masks, strict=True):
        assert item.mask_area == int(mask.sum()) > 0
        direction = [item.direction.x, item.direction.y, item.direction.z]
        assert np.linalg.norm(direction) == pytest.approx(1.0, abs=1e-5)
        if _resultant(mask) > 0.05:
            np.testing.assert_allclose(direction, spherical_centroid(mask), atol=1e-4)


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "mono8"])
def test_raw_frames_come_back_ranked_with_their_header(harness, encoding):
    from foir360_ros.images import array_to_image

    types = harness.types
    rgb = harness.frames[0]
    pixels = {"rgb8": rgb, "bgr8": rgb, "mono8": rgb[:, :, 0],
              "rgba8": np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])}[encoding]
    stamp = harness.now_ns()
    msg = array_to_image(types, header(types, stamp, "pano_link"), pixels,
                         "rgb8" if encoding == "rgba8" else encoding)
    if encoding == "rgba8":  # array_to_image writes 3 channels; build the 4-channel one here
        msg = types[IMAGE](header=msg.header, height=64, width=128, encoding="rgba8",
                           is_bigendian=0, step=4 * 128, data=types.uint8_field(pixels))
    ranked = _answer(harness.raw_out, stamp, lambda: harness.image_pub.publish(msg))
    _check_ranked(ranked, (64, 128), (MASK_H, 2 * MASK_H), "pano_link", harness.model_name)


def test_compressed_frames_come_back_ranked_at_full_mask_resolution(harness):
    from foir360_ros.images import rgb_to_compressed

    types = harness.types
    stamp = harness.now_ns()
    msg = rgb_to_compressed(types, header(types, stamp, "front_360"), harness.frames[1])
    ranked = _answer(harness.jpeg_out, stamp, lambda: harness.jpeg_pub.publish(msg))
    _check_ranked(ranked, (64, 128), (64, 128), "front_360", harness.model_name)


def test_label_image_and_overlay_match_the_ranked_message(harness):
    from foir360_ros.images import array_to_image

    types = harness.types
    stamp = harness.now_ns()
    msg = array_to_image(types, header(types, stamp), harness.frames[2], "rgb8")
    ranked = _answer(harness.raw_out, stamp, lambda: harness.image_pub.publish(msg))
    wait_for(lambda: any(stamp_ns(m.header.stamp) == stamp for m in harness.overlays)
             and any(stamp_ns(m.header.stamp) == stamp for m in harness.labels), 5,
             "label image and overlay")
    label = next(m for m in harness.labels if stamp_ns(m.header.stamp) == stamp)
    assert (label.encoding, label.height, label.width) == ("mono16", MASK_H, 2 * MASK_H)
    values = np.frombuffer(label.data, np.uint8).view("<u2")
    assert set(np.unique(values).tolist()) <= set(range(len(ranked.instances) + 1))
    assert (values == 1).any()
    overlay = next(m for m in harness.overlays if stamp_ns(m.header.stamp) == stamp)
    assert (overlay.encoding, overlay.height, overlay.width) == ("rgb8", 64, 128)
    assert not np.array_equal(np.frombuffer(overlay.data, np.uint8), harness.frames[2].ravel())


def test_overlay_is_drawn_after_the_ranked_answer_is_out_and_counted(harness, monkeypatch):
    """The debug overlay must not delay the ranked message nor count in its latency."""
    from foir360_ros.images import array_to_image

    node, types = harness.raw, harness.types
    counted_when_drawn = []
    draw = node.pipeline.overlay

    def spy(result):
        counted_when_drawn.append(node.stats.processed)
        return draw(result)

    monkeypatch.setattr(node.pipeline, "overlay", spy)
    stamp = harness.now_ns()
    msg = array_to_image(types, header(types, stamp), harness.frames[1], "rgb8")
    before = node.stats.processed
    _answer(harness.raw_out, stamp, lambda: harness.image_pub.publish(msg))
    wait_for(lambda: any(stamp_ns(m.header.stamp) == stamp for m in harness.overlays), 5,
             "the overlay")
    assert counted_when_drawn and counted_when_drawn[0] == before + 1


def test_bad_frames_are_counted_and_the_node_keeps_ranking(harness):
    from foir360_ros.images import array_to_image, rgb_to_compressed

    types = harness.types
    good = harness.frames[0]

    def image(**fields):
        values = {"height": 64, "width": 128, "encoding": "rgb8", "is_bigendian": 0,
                  "step": 384, "data": types.uint8_field(good)}
        values.update(fields)
        return types[IMAGE](header=header(types, harness.now_ns()), **values)

    bad_raw = {
        "encoding": image(encoding="yuv422", step=256),
        "truncated": image(data=types.uint8_field(good.ravel()[:5000])),
        "step": image(step=100),
        "not_erp": image(width=64, step=192, data=types.uint8_field(good[:, :64])),
        "empty": image(height=0, width=0, step=0, data=types.uint8_field(b"")),
    }
    jpeg = np.frombuffer(rgb_to_compressed(types, header(types, 1), good).data, np.uint8)
    bad_jpeg = {
        "decode": types[COMPRESSED](header=header(types, 1), format="jpeg",
                                    data=types.uint8_field(jpeg[:300])),
        "format": types[COMPRESSED](header=header(types, 1), format="h264",
                                    data=types.uint8_field(b"\x00\x00\x00\x01")),
    }
    for node, publisher, frames in ((harness.raw, harness.image_pub, bad_raw),
                                    (harness.compressed, harness.jpeg_pub, bad_jpeg)):
        for reason, msg in frames.items():
            before = node.stats.rejected[reason]
            _resend_until(lambda n=node, r=reason, b=before: n.stats.rejected[r] > b,
                          lambda p=publisher, m=msg: p.publish(m), f"a '{reason}' rejection")
    stamp = harness.now_ns()
    good_msg = array_to_image(types, header(types, stamp), good, "rgb8")
    _answer(harness.raw_out, stamp, lambda: harness.image_pub.publish(good_msg))
    period = float(harness.raw.p["diagnostics_period"])

    def diagnosed():
        values = _diagnostics_of(harness, "/raw/foir360_ranker")
        return all(int(values.get(f"rejected: {reason}", 0)) >= 1 for reason in bad_raw)

    wait_for(diagnosed, 3 * period + 2, "the rejections in /diagnostics")
    values = _diagnostics_of(harness, "/raw/foir360_ranker")
    assert int(values["frames rejected"]) >= len(bad_raw)
    assert int(values["frames processed"]) >= 1
    assert values["backend"] == "torch" and values["model"].startswith(harness.model_name)


def _diagnostics_of(harness, node: str) -> dict[str, str]:
    for array in reversed(list(harness.diagnostics)):
        for status in array.status:
            if status.name == f"{node}: ranking":
                return {v.key: v.value for v in status.values}
    return {}


def test_silence_names_the_publishers_and_their_qos(harness, tiny_model):
    """A reliable subscription and a best-effort camera: the report says MISMATCH."""
    node = harness.add_ranker(tiny_ranker(tiny_model), "strict", image_topic="/quiet/image",
                              input_reliability="reliable", no_input_warning_s=0.5,
                              warmup=False)
    from rclpy.event_handler import PublisherEventCallbacks
    from rclpy.qos import qos_profile_sensor_data

    seen = []  # the camera side is told too (and rclpy would log it with a deprecated call)
    harness.peer.create_publisher(harness.types[IMAGE], "/quiet/image", qos_profile_sensor_data,
                                  event_callbacks=PublisherEventCallbacks(
                                      incompatible_qos=seen.append))
    wait_for(lambda: harness.peer.count_subscribers("/quiet/image") >= 1
             and node.count_publishers("/quiet/image") >= 1, 10, "discovery")
    wait_for(lambda: seen, 5, "the incompatible-QoS event")
    report = node.silence_report()
    assert "/quiet/image" in report and "test_peer" in report
    assert "reliability=best_effort" in report and "MISMATCH" in report
    nobody = harness.add_ranker(tiny_ranker(tiny_model), "lonely", image_topic="/none/image",
                                warmup=False)
    assert "no publisher on this topic" in nobody.silence_report()


def test_bad_parameters_and_a_missing_model_stop_the_start_with_a_clear_error(harness,
                                                                              tiny_model):
    from rclpy.parameter import Parameter

    from foir360_ros.ranker_node import RankerNode, StartupError

    with pytest.raises(StartupError, match=r"'input_reliability' must be one of .* 'sometimes'"):
        RankerNode(ranker=tiny_ranker(tiny_model), context=harness.context, namespace="bad",
                   parameter_overrides=[Parameter("input_reliability", value="sometimes")])
    with pytest.raises(StartupError, match=r"cannot load model /no/such/model\.onnx"):
        RankerNode(context=harness.context, namespace="missing",
                   parameter_overrides=[Parameter("model", value="/no/such/model.onnx")])
