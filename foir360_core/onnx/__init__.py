"""ONNX Runtime plumbing shared by every part that runs an ONNX file (runtime, labeling adapters,
segmenters): one session builder and one tensor-name picker."""

from foir360_core.onnx.session import onnx_session, pick_name

__all__ = ["onnx_session", "pick_name"]
