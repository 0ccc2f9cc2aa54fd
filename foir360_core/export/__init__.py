"""Export of PanoRank checkpoints to ONNX (metadata embedded, parity-checked against PyTorch).

TensorRT engines are built from these ONNX files by ``foir360_core.runtime`` (engine cache)
and ``foir360 build-engine``.
"""

from foir360_core.export.onnx_export import ExportError, ExportResult, check_parity, export_onnx
from foir360_core.export.parity import ParityReport, compare_instances, compare_outputs

__all__ = [
    "ExportError",
    "ExportResult",
    "ParityReport",
    "check_parity",
    "compare_instances",
    "compare_outputs",
    "export_onnx",
]
