"""foir360_ros: the ROS 2 layer (node, message conversion, replay)."""
