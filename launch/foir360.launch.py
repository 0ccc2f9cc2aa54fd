"""Start the foir360 ranker node.

    ros2 launch foir360 foir360.launch.py image_topic:=/theta/image_raw
    ros2 launch foir360 foir360.launch.py image_topic:=/cam/image compressed:=true namespace:=front
    ros2 launch foir360 foir360.launch.py managed:=true   # a lifecycle node, for a manager

Every other parameter lives in the params file (default: the package's config/foir360.yaml);
the arguments below override it.
"""

from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition, UnlessCondition
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument(
            "image_topic", default_value="image",
            description="ERP image topic (sensor_msgs/Image; with compressed:=true the node "
                        "subscribes CompressedImage on <image_topic>/compressed)"),
        DeclareLaunchArgument(
            "compressed", default_value="false", choices=["true", "false"],
            description="subscribe jpeg/png sensor_msgs/CompressedImage instead of Image"),
        DeclareLaunchArgument(
            "model", default_value="",
            description="checkpoint (.safetensors), ONNX file or TensorRT engine; empty = the "
                        "shipped default model"),
        DeclareLaunchArgument(
            "backend", default_value="auto",
            choices=["auto", "tensorrt", "onnxruntime", "torch"],
            description="inference backend (auto: TensorRT with a GPU, else ONNX Runtime)"),
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([FindPackageShare("foir360"), "config",
                                                "foir360.yaml"]),
            description="YAML parameters of the node (QoS, thresholds, sizes, outputs)"),
        DeclareLaunchArgument(
            "namespace", default_value="",
            description="namespace of the node and its topics (one per camera)"),
        DeclareLaunchArgument(
            "log_level", default_value="info", choices=["debug", "info", "warn", "error"],
            description="ROS log level of the node"),
        DeclareLaunchArgument(
            "managed", default_value="false", choices=["true", "false"],
            description="start a managed (lifecycle) node: it waits unconfigured for a "
                        "lifecycle manager (configure loads the model, activate subscribes)"),
    ]
    common = dict(
        package="foir360",
        executable="ranker_node",
        name="foir360_ranker",
        namespace=LaunchConfiguration("namespace"),
        parameters=[
            LaunchConfiguration("params_file"),
            {
                "image_topic": ParameterValue(LaunchConfiguration("image_topic"), value_type=str),
                "compressed": ParameterValue(LaunchConfiguration("compressed"), value_type=bool),
                "model": ParameterValue(LaunchConfiguration("model"), value_type=str),
                "backend": ParameterValue(LaunchConfiguration("backend"), value_type=str),
            },
        ],
        output="screen",
        emulate_tty=True,
    )
    log_level = ["--ros-args", "--log-level", LaunchConfiguration("log_level")]
    managed = LaunchConfiguration("managed")
    plain = Node(**common, arguments=log_level, condition=UnlessCondition(managed))
    lifecycle = LifecycleNode(**common, arguments=["--managed", *log_level],
                              condition=IfCondition(managed))
    return LaunchDescription([*arguments, plain, lifecycle])
