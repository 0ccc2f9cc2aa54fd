"""Checkpoint -> ONNX, with the model's description embedded and a parity check built in.

The file is exported to a temporary path, checked with ``onnx.checker``, run once through
ONNX Runtime on a synthetic panorama and compared with PyTorch (same ranked objects, masks
within tolerance), and only then renamed into place: a file at ``--out`` has passed parity.

Shapes: fixed by default (what TensorRT serves best). ``dynamic=True`` marks height and
width as symbolic; parity then runs at the traced size *and* at a second size, because the
TorchScript tracer freezes any shape the model reads into a Python number, and such a
graph only fails at other sizes. The legacy TorchScript exporter is used (``dynamo=False``):
it needs no extra package and its output parses on TensorRT 10 and 11.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from foir360_core.deps import require
from foir360_core.io.atomic import atomic_path
from foir360_core.models.artifact import (
    INPUT_NAME,
    THRESHOLD_INPUT,
    ModelInfo,
    info_from_checkpoint,
    output_names,
)
from foir360_core.runtime.parity import ParityReport, compare_outputs

log = logging.getLogger(__name__)

DEFAULT_OPSET = 17


class ExportError(RuntimeError):
    """Export or its parity check failed; nothing was written at the output path."""


@dataclass
class ExportResult:
    path: Path
    info: ModelInfo
    parity: list[ParityReport] = field(default_factory=list)


def sample_panorama(input_size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A synthetic panorama with objects, so parity covers real masks, not only noise."""
    from foir360_core.synth import render_panorama

    return render_panorama(seed, height=int(input_size[0])).image


def _second_size(size: tuple[int, int]) -> tuple[int, int]:
    """Another valid input size (multiple of 32, 2:1) for the dynamic-shape check."""
    height = size[0] + 32 if size[0] < 512 else size[0] - 32
    return height, 2 * height


def _torch_export(
    model, example, path: Path, *, dynamic: bool, opset: int, loop: bool
) -> None:
    """Trace ``model`` to ONNX at ``path``; with ``loop``, the rank head's picks as a Loop."""
    torch = require("torch", "ONNX export")
    from foir360_core.runtime.rank_loop import LoopExportModule, loops

    axes = None
    if dynamic:
        axes = {INPUT_NAME: {2: "height", 3: "width"},
                "mask_logits": {2: "mask_height", 3: "mask_width"}}
    module, args, inputs = model.export_module().eval(), (example,), [INPUT_NAME]
    if loop and loops(model):
        module = LoopExportModule(model, example).eval()
        args, inputs = (example, torch.tensor(0.0)), [INPUT_NAME, THRESHOLD_INPUT]
    with warnings.catch_warnings():
        # The tracer's shape warnings are expected; parity is what decides.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, args, str(path), dynamo=False, input_names=inputs,
            output_names=list(model.output_names), dynamic_axes=axes, opset_version=opset,
            do_constant_folding=True,
        )


def _finish_export(path: Path, info: ModelInfo) -> None:
    """Embed the foir360 metadata and, in a Loop export, give ``rank_threshold`` a default
    (0: never stop early, so feeding it is optional); one load and save of the file."""
    onnx = require("onnx", "ONNX export")
    model = onnx.load(str(path))
    if any(i.name == THRESHOLD_INPUT for i in model.graph.input):
        model.graph.initializer.append(
            onnx.numpy_helper.from_array(np.zeros((), np.float32), THRESHOLD_INPUT))
    del model.metadata_props[:]
    for key, value in sorted(info.to_onnx_metadata().items()):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.producer_name = "foir360"
    model.model_version = int(info.version) if info.version.isdigit() else 0
    model.doc_string = (f"PanoRank '{info.name}' v{info.version}: ERP panorama "
                        f"{info.input_size[0]}x{info.input_size[1]} -> "
                        f"{', '.join(output_names(info.rank_head))} ({info.rank_head} rank "
                        "head; decode with foir360_core.models.postprocess)")
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def check_parity(
    model, onnx_path: Path, input_size: tuple[int, int], *, seed: int = 0,
    **tolerances: float,
) -> ParityReport:
    """Run PyTorch and ONNX Runtime on one synthetic panorama and compare (see parity)."""
    torch = require("torch", "the parity check")
    from foir360_core.models.postprocess import outputs_to_instances
    from foir360_core.models.preprocess import prepare_input
    from foir360_core.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend

    image = sample_panorama(input_size, seed)
    batch = prepare_input(image, input_size)
    with torch.inference_mode():
        ref_out = model.export_module()(torch.from_numpy(batch))
    ref = {n: t.numpy() for n, t in zip(model.output_names, ref_out, strict=True)}
    try:
        test = OnnxRuntimeBackend(onnx_path, device="cpu").infer(batch)
    except Exception as err:  # ONNX Runtime raises its own types for shape errors
        report = ParityReport(input_size=input_size)
        report.problems.append(f"ONNX Runtime failed at {input_size}: {str(err)[:300]}")
        return report
    # Every query with a non-empty mask takes part (threshold 0), not only the confident
    # ones: parity must hold for the whole output, and an untrained model has few of those.
    post = {"rank_head": model.rank_type, "out_size": image.shape[:2], "score_threshold": 0.0}
    return compare_outputs(
        ref, test, outputs_to_instances(ref, **post), outputs_to_instances(test, **post),
        input_size, **tolerances,
    )


def export_onnx(
    checkpoint: str | Path,
    out: str | Path,
    *,
    input_size: tuple[int, int] | None = None,
    dynamic: bool = False,
    opset: int = DEFAULT_OPSET,
    parity: bool = True,
    loop: bool = True,
    **tolerances: float,
) -> ExportResult:
    """Export a PanoRank checkpoint to ONNX at ``out`` (atomic; parity-checked unless told).

    ``loop``: the sequential rank head's picks as one ONNX ``Loop`` (``rank_loop``: ~5x
    fewer nodes, faster session start and inference); False unrolls them as before.
    """
    torch = require("torch", "ONNX export")
    from foir360_core.models.checkpoint import load_checkpoint
    from foir360_core.models.config import check_input_size
    from foir360_core.models.preprocess import prepare_input

    out = Path(out)
    model, meta = load_checkpoint(checkpoint)
    model = model.float().eval()
    info = info_from_checkpoint(meta, input_size, dynamic)
    check_input_size(*info.input_size)
    example = torch.from_numpy(prepare_input(sample_panorama(info.input_size), info.input_size))
    with atomic_path(out, suffix=".onnx") as tmp:
        log.info("exporting %s (%s shapes, input %dx%d, opset %d)", checkpoint,
                 "dynamic" if dynamic else "fixed", *info.input_size, opset)
        _torch_export(model, example, tmp, dynamic=dynamic, opset=opset, loop=loop)
        _finish_export(tmp, info)
        result = ExportResult(out, info)
        if parity:
            sizes = [info.input_size, _second_size(info.input_size)] if dynamic else [
                info.input_size]
            for size in sizes:
                report = check_parity(model, tmp, size, **tolerances)
                log.info("%s", report.summary())
                result.parity.append(report)
                if not report.ok:
                    hint = (" (this model's graph is shape-specialised: export with fixed "
                            "shapes, one file per input size)" if size != info.input_size else "")
                    raise ExportError(f"ONNX parity check failed: {report.summary()}{hint}")
    return result
