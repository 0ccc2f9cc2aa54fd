"""``RankerNodeSettings``: the ranker node's own parameters (input, outputs, diagnostics).

With ``foir360_core.settings.RankerSettings`` (model, backend, thresholds ...) they make up
every parameter of the node; both are declared and read by ``foir360_ros.parameters``, and
``config/foir360.yaml`` lists them all.
"""

from __future__ import annotations

import dataclasses

from foir360_core.settings import SettingsError, check_fields, setting

RELIABILITIES = ("best_effort", "reliable")


@dataclasses.dataclass(frozen=True)
class RankerNodeSettings:
    """Topics, QoS, published outputs and watchdogs of the ranker node."""

    image_topic: str = setting("image", "input topic (relative names follow the namespace "
                                        "and remaps)")
    compressed: bool = setting(False, "subscribe sensor_msgs/CompressedImage on "
                                      "<image_topic>/compressed")
    input_reliability: str = setting("best_effort", "input QoS reliability", RELIABILITIES)
    input_depth: int = setting(1, "input QoS keep-last depth")
    strict_erp: bool = setting(True, "reject frames that are not 2:1 equirectangular panoramas")
    no_input_warning_s: float = setting(5.0, "warn once, with the publishers seen, after "
                                             "this silence")
    mask_height: int = setting(512, "rows of the published masks (width = 2x); 0 = image "
                                    "resolution")
    warmup: bool = setting(True, "rank one blank frame before subscribing")
    output_reliability: str = setting("reliable", "output QoS reliability", RELIABILITIES)
    output_depth: int = setting(1, "output QoS keep-last depth")
    publish_detections: bool = setting(True, "publish ~/detections when vision_msgs is "
                                             "installed")
    publish_label_image: bool = setting(False, "publish ~/label_image (mono16, pixel = rank)")
    publish_overlay: bool = setting(False, "publish ~/overlay (rgb8 debug picture)")
    diagnostics_period: float = setting(1.0, "seconds between /diagnostics messages")

    def __post_init__(self) -> None:
        check_fields(self)
        positive = ("input_depth", "output_depth", "diagnostics_period", "no_input_warning_s")
        problems = [f"'{name}' must be > 0 (got {getattr(self, name)})" for name in positive
                    if getattr(self, name) <= 0]
        if self.mask_height < 0:
            problems.append(f"'mask_height' must be >= 0 (got {self.mask_height})")
        if problems:
            raise SettingsError("; ".join(problems))
