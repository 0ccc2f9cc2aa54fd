"""``foir360 replay``: rank the frames of a recorded rosbag2 bag, offline or through a live node."""
