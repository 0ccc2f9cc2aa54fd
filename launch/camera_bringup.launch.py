"""Example bringup: a 360° camera driver plus the foir360 ranker on its ERP stream.

The default driver is stella-cv's theta_driver (RICOH THETA V/Z1 over USB), which publishes an
already stitched equirectangular rgb8 image on image_raw. Any driver that publishes a 2:1 ERP
sensor_msgs/Image (or jpeg/png CompressedImage) works: pass its package, executable and topic.

    ros2 launch foir360 camera_bringup.launch.py
    ros2 launch foir360 camera_bringup.launch.py camera_package:=my_driver \
        camera_executable:=erp_node camera_topic:=/my_driver/erp
"""

from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description import LaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument("camera_package", default_value="theta_driver",
                              description="ROS package of the 360° camera driver"),
        DeclareLaunchArgument("camera_executable", default_value="theta_driver_node",
                              description="executable of the driver"),
        DeclareLaunchArgument("camera_topic", default_value="/image_raw",
                              description="ERP image topic the driver publishes"),
        DeclareLaunchArgument("compressed", default_value="false", choices=["true", "false"],
                              description="the driver publishes jpeg/png CompressedImage"),
        DeclareLaunchArgument("model", default_value="",
                              description="model for the ranker; empty = shipped default"),
        DeclareLaunchArgument("backend", default_value="auto",
                              choices=["auto", "tensorrt", "onnxruntime", "torch"],
                              description="inference backend of the ranker"),
        DeclareLaunchArgument("namespace", default_value="camera360",
                              description="namespace of the ranker's topics"),
    ]
    camera = Node(
        package=LaunchConfiguration("camera_package"),
        executable=LaunchConfiguration("camera_executable"),
        name="camera360_driver",
        output="screen",
    )
    ranker = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(
            PathJoinSubstitution([FindPackageShare("foir360"), "launch", "foir360.launch.py"])),
        launch_arguments={
            "image_topic": LaunchConfiguration("camera_topic"),
            "compressed": LaunchConfiguration("compressed"),
            "model": LaunchConfiguration("model"),
            "backend": LaunchConfiguration("backend"),
            "namespace": LaunchConfiguration("namespace"),
        }.items(),
    )
    return LaunchDescription([*arguments, camera, ranker])
