"""A second settings class (as a tracker would add), to show the generators are generic."""

import dataclasses

from foir360_core.settings import check_fields, setting


@dataclasses.dataclass(frozen=True)
class TrackerSettings:
    max_age_s: float = setting(1.0, "forget a track after this silence")
    method: str = setting("iou", "association", ("iou", "sphere"))

    def __post_init__(self) -> None:
        check_fields(self)
