"""Who publishes on the node's input topic, read from the ROS graph (plain code, no rclpy).

DDS does not deliver a message of another type and says little about it: the subscriber sees
silence. The node therefore looks at the graph itself. :class:`PublisherWatch` keeps the set of
publishers on the input topic and reports once per change, so a wrong publisher that appears
later is named when it appears, not only in the first silence warning.
"""

from __future__ import annotations

from dataclasses import dataclass

TYPE_FIX = {
    "sensor_msgs/msg/CompressedImage": "set compressed:=true (the node then subscribes "
                                       "<image_topic>/compressed)",
    "sensor_msgs/msg/Image": "set compressed:=false, or point image_topic at the camera's "
                             "CompressedImage topic",
}
LOSS_FIX = ("nothing retransmits a best-effort frame that loses one of its UDP fragments: set "
            "input_reliability:=reliable, let Fast DDS use shared memory between processes on "
            "this machine, or raise the socket buffers (sysctl net.core.rmem_max)")


@dataclass(frozen=True)
class Publisher:
    """One publisher endpoint on the input topic as the graph shows it."""

    node: str
    topic_type: str

    @classmethod
    def from_info(cls, info) -> Publisher:
        """From an ``rclpy.topic_endpoint_info.TopicEndpointInfo``."""
        name = f"{info.node_namespace.rstrip('/')}/{info.node_name}"
        return cls(node=name, topic_type=str(info.topic_type))


def type_problem(publisher: Publisher, topic: str, expected_type: str) -> str | None:
    """The message for a publisher of another type than the node subscribes, else None."""
    if publisher.topic_type == expected_type:
        return None
    fix = TYPE_FIX.get(publisher.topic_type,
                       "publish sensor_msgs/msg/Image or sensor_msgs/msg/CompressedImage")
    return (f"publisher {publisher.node} on {topic} sends {publisher.topic_type}, but this node "
            f"subscribes {expected_type}: none of its messages can arrive; {fix}")


class PublisherWatch:
    """The set of publishers on one topic and what changed since the last look."""

    def __init__(self, topic: str, expected_type: str) -> None:
        self.topic = topic
        self.expected_type = expected_type
        self._seen: frozenset[Publisher] | None = None

    def update(self, infos) -> list[str] | None:
        """Problems of the publishers in ``infos`` when the set changed since the last call;
        None when it did not (the caller logs nothing then)."""
        publishers = frozenset(Publisher.from_info(info) for info in infos)
        if publishers == self._seen:
            return None
        self._seen = publishers
        return [problem for publisher in sorted(publishers, key=lambda p: p.node)
                if (problem := type_problem(publisher, self.topic, self.expected_type))]
