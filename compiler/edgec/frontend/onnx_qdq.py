"""QDQ models in the ONNX frontend: read QuantizeLinear/DequantizeLinear into quantization records.

Where it sits: ``load_onnx`` calls ``strip_qdq`` on a model that contains QuantizeLinear or
DequantizeLinear nodes (as onnxruntime's ``quantize_static`` with ``QuantFormat.QDQ`` and QAT
exporters write them), then ``check_qdq_nodes``. The float model that ``strip_qdq`` returns goes
through the ordinary converters, and ``onnx_qdq_build`` turns the float IR graph and the
records into the integer IR graph.

What ``strip_qdq`` rewrites:
- DequantizeLinear of an integer constant (an initializer, a Constant node, or a
  QuantizeLinear of a float constant) becomes a float initializer holding the dequantized
  values. The integer values and their ``Quant`` are kept in ``QdqModel.constants`` under the
  DequantizeLinear output name.
- QuantizeLinear followed by DequantizeLinear on an activation becomes an Identity node. Both
  the QuantizeLinear input and the DequantizeLinear output get the pair's ``Quant`` in
  ``QdqModel.activations``.

Invariants of the records: every ``Quant`` describes signed values, because uint8 maps exactly
to int8 by subtracting 128 from the values and from the zero point. Scales are float32.
Per-axis parameters keep their ONNX ``axis``, in the ONNX layout of the constant.

``check_qdq_nodes`` lists every node whose integer arithmetic edgec cannot express exactly
(weights with a zero point, a bias scale that is not input_scale * weight_scale, an op with
no integer kernel ...). The loader reports these problems together, one line per node.

To accept another ONNX op between DequantizeLinear and QuantizeLinear, add it to
``INTEGER_OPS`` (and to ``WEIGHTED_OPS`` or ``CONSTANT_OPERAND_OPS`` if its constant inputs
need checks), and give the IR op it converts to a rule in ``onnx_qdq_build.RULES``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from edgec.errors import QuantizationError, UnsupportedOperatorError
from edgec.frontend.onnx_registry import attribute_value, display_name
from edgec.ir.graph import Quant
from edgec.quantize.params import MIN_SCALE

__all__ = [
    "CONSTANT_OPERAND_OPS",
    "INTEGER_OPS",
    "WEIGHTED_OPS",
    "Problem",
    "QdqModel",
    "QuantizedConstant",
    "check_qdq_nodes",
    "describe_quant",
    "is_qdq_model",
    "raise_problems",
    "strip_qdq",
]

QDQ_OPS = {"QuantizeLinear", "DequantizeLinear"}

# ONNX ops that edgec runs with integer kernels when their inputs and outputs are quantized.
INTEGER_OPS = {
    "Add", "AveragePool", "Cast", "Clip", "Concat", "Conv", "Dropout", "Flatten", "Gemm",
    "GlobalAveragePool", "GlobalMaxPool", "Identity", "MatMul", "MaxPool", "Mul", "Pad",
    "ReduceMean", "Relu", "Reshape", "Softmax", "Squeeze", "Sub", "Transpose", "Unsqueeze",
}

# Ops that only move input values, so a value they produce has the quantization of their input
# when the model gives it none.
MOVES_VALUES = {
    "Cast", "Dropout", "Flatten", "GlobalMaxPool", "Identity", "MaxPool", "Pad", "Reshape",
    "Squeeze", "Transpose", "Unsqueeze",
}

# Constant operands that must be quantized per tensor: op type -> input positions.
CONSTANT_OPERAND_OPS = {"Add": (0, 1), "Sub": (0, 1), "Mul": (0, 1), "Concat": None}


# Integer types of QuantizeLinear/DequantizeLinear values: the offset that maps them to the
# signed type of the IR, and that type.
_SIGNED_FORM = {
    onnx.TensorProto.INT8: (0, np.int8),
    onnx.TensorProto.UINT8: (-128, np.int8),
    onnx.TensorProto.INT32: (0, np.int32),
}
_QDQ_ATTRS = {"axis", "block_size", "output_dtype", "saturate", "precision"}


@dataclass(frozen=True)
class WeightedOp:
    """An op with a constant weight (and optional bias) input, quantized per output channel."""

    weight_input: int
    bias_input: int | None

    def channel_axis(self, node: onnx.NodeProto) -> int:
        """Return the output-channel axis of the weight tensor in ONNX layout."""
        if node.op_type == "Conv":
            return 0
        if node.op_type == "Gemm":
            return 0 if _attr(node, "transB", 0) else 1
        return 1  # MatMul: B is (K, N)


WEIGHTED_OPS = {
    "Conv": WeightedOp(1, 2),
    "Gemm": WeightedOp(1, 2),
    "MatMul": WeightedOp(1, None),
}


@dataclass
class QuantizedConstant:
    """An integer constant read through DequantizeLinear, in the IR's signed form.

    ``values`` are int8 (uint8 shifted by -128) or int32. ``quant.axis`` is the ONNX axis of
    per-axis parameters, None for per-tensor ones.
    """

    values: np.ndarray
    quant: Quant
    node: str  # the DequantizeLinear node
    onnx_type: int  # TensorProto element type as stored in the model


@dataclass
class Problem:
    """A node whose integer arithmetic edgec cannot express, for the loader's error list."""

    position: int  # index of the node in the model (-1: none), to list problems in model order
    subject: str  # "node 'name' (OpType)", or "graph input 'name'"
    reason: str
    unsupported: bool = False  # the node has no converter at all

    def line(self) -> str:
        return f"{self.subject}: {self.reason}"


@dataclass
class QdqModel:
    """A QDQ model split into a float ONNX model and its quantization records."""

    model: onnx.ModelProto
    activations: dict[str, Quant] = field(default_factory=dict)
    constants: dict[str, QuantizedConstant] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)  # node name -> position
    # Outputs of reported QuantizeLinear/DequantizeLinear nodes: their readers report nothing.
    rejected: set[str] = field(default_factory=set)

    def problem(self, node: onnx.NodeProto, reason: str, unsupported: bool = False) -> None:
        name = display_name(node)
        subject = f"node '{name}' ({node.op_type})"
        self.problems.append(Problem(self.positions.get(name, -1), subject, reason, unsupported))

    def activation_quant(self, name: str, producers: dict[str, onnx.NodeProto]) -> Quant | None:
        """Return the quantization of activation ``name``, looking through value-moving ops."""
        while name not in self.activations:
            producer = producers.get(name)
            if producer is None or producer.op_type not in MOVES_VALUES:
                return None
            name = producer.input[0]
        return self.activations[name]


def describe_quant(quant: Quant) -> str:
    """Return ``scale S, zero point Z`` of per-tensor parameters, for messages."""
    return f"scale {float(quant.scale[0]):.9g}, zero point {int(quant.zero_point[0])}"


def raise_problems(path: Path, problems: list[Problem]) -> None:
    """Raise one error that lists every problem, one line per node, in model order.

    The error is UnsupportedOperatorError when every problem is a node without a converter,
    QuantizationError otherwise; both exit with status 2.
    """
    if not problems:
        return
    ordered = sorted(problems, key=lambda problem: problem.position)
    header = (
        f"'{path}': {len(ordered)} node(s) of this QDQ model cannot run as edgec integer "
        "arithmetic:"
    )
    lines = [header] + [problem.line() for problem in ordered]
    error = UnsupportedOperatorError if all(p.unsupported for p in ordered) else QuantizationError
    raise error("\n".join(lines))


def is_qdq_model(model: onnx.ModelProto) -> bool:
    """Return whether the model contains QuantizeLinear or DequantizeLinear of the ONNX domain."""
    return any(
        node.op_type in QDQ_OPS and node.domain in ("", "ai.onnx") for node in model.graph.node
    )


# Reading the Q/DQ nodes ----------------------------------------------------------------------


@dataclass
class _Params:
    """Parameters of one QuantizeLinear or DequantizeLinear node, as stored in the model."""

    scale: np.ndarray  # float32, 0-D or 1-D
    zero_point: np.ndarray  # integer, same shape as scale
    onnx_type: int
    axis: int | None  # None for per-tensor parameters

    def signed_quant(self) -> Quant:
        offset = _SIGNED_FORM[self.onnx_type][0]
        zero_point = self.zero_point.astype(np.int64).reshape(-1) + offset
        return Quant(self.scale.reshape(-1), zero_point, self.axis)

    def same_as(self, other: _Params) -> bool:
        return (
            self.onnx_type == other.onnx_type
            and self.axis == other.axis
            and np.array_equal(self.scale, other.scale)
            and np.array_equal(self.zero_point, other.zero_point)
        )


class _Rejected(Exception):
    """A Q/DQ node edgec cannot read; the message is the problem's reason."""


def _attr(node: onnx.NodeProto, name: str, default):
    for attribute in node.attribute:
        if attribute.name == name:
            return attribute_value(attribute)
    return default


def _read_constants(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Return the initializers and the outputs of Constant nodes with a tensor or number value."""
    constants = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type != "Constant" or len(node.attribute) != 1:
            continue
        attribute = node.attribute[0]
        if attribute.name in ("value", "value_float", "value_floats", "value_int", "value_ints"):
            value = np.asarray(attribute_value(attribute))
            if attribute.name.startswith("value_float"):
                value = value.astype(np.float32)
            constants[node.output[0]] = value
    return constants


def _read_params(
    node: onnx.NodeProto, constants: dict[str, np.ndarray], data_type: int | None
) -> _Params:
    """Read the scale, zero point, integer type and axis of a QuantizeLinear or
    DequantizeLinear node.

    ``data_type`` is the integer type of a DequantizeLinear input, None for a QuantizeLinear.
    """
    unknown = sorted(a.name for a in node.attribute if a.name not in _QDQ_ATTRS)
    if unknown:
        raise _Rejected(f"unknown attribute(s) {', '.join(unknown)}")
    if _attr(node, "block_size", 0):
        raise _Rejected(
            f"blocked quantization (block_size={_attr(node, 'block_size', 0)}) is not "
            "supported; quantize per tensor or per channel"
        )
    scale = _read_scale(node, constants)
    onnx_type = _value_type(node, constants, data_type)
    if len(node.input) > 2 and node.input[2]:
        zero_point = _constant_input(node, 2, constants, "zero_point")
        if zero_point.shape != scale.shape:
            raise _Rejected(
                f"zero point shape {list(zero_point.shape)} differs from scale shape "
                f"{list(scale.shape)}"
            )
    else:
        zero_point = np.zeros(scale.shape, dtype=helper.tensor_dtype_to_np_dtype(onnx_type))
    axis = int(_attr(node, "axis", 1)) if scale.size > 1 else None
    return _Params(scale, zero_point, onnx_type, axis)


def _read_scale(node: onnx.NodeProto, constants: dict[str, np.ndarray]) -> np.ndarray:
    """Return the node's scale as float32, checked to be a scalar or 1-D, finite and normal."""
    scale = _constant_input(node, 1, constants, "scale")
    if scale.dtype not in (np.float32, np.float16):
        raise _Rejected(f"scale has type {scale.dtype}; expected float32")
    if scale.ndim > 1:
        raise _Rejected(f"scale has shape {list(scale.shape)}; expected a scalar or a 1-D array")
    scale = scale.astype(np.float32)
    bad = ~np.isfinite(scale) | (scale < MIN_SCALE)
    if bad.any():
        raise _Rejected(
            f"scale {float(scale.reshape(-1)[np.flatnonzero(bad.reshape(-1))[0]]):g} is not a "
            "positive normal float32; re-export the model with valid scales"
        )
    return scale


def _constant_input(
    node: onnx.NodeProto, index: int, constants: dict[str, np.ndarray], role: str
) -> np.ndarray:
    name = node.input[index] if index < len(node.input) else ""
    if name not in constants:
        raise _Rejected(f"{role} '{name}' is not a constant; edgec needs fixed quantization")
    return constants[name]


def _value_type(
    node: onnx.NodeProto, constants: dict[str, np.ndarray], data_type: int | None
) -> int:
    """Return the integer element type of the node's quantized value, checked against edgec's."""
    if len(node.input) > 2 and node.input[2] and node.input[2] in constants:
        onnx_type = helper.np_dtype_to_tensor_dtype(constants[node.input[2]].dtype)
    elif data_type is not None:
        onnx_type = data_type
    else:
        # QuantizeLinear without a zero point produces uint8 unless output_dtype sets a type.
        onnx_type = _attr(node, "output_dtype", 0) or onnx.TensorProto.UINT8
    if onnx_type not in _SIGNED_FORM:
        name = onnx.TensorProto.DataType.Name(onnx_type)
        raise _Rejected(
            f"quantized type {name} is not supported; edgec compiles int8 and uint8 QDQ "
            "models (int32 bias)"
        )
    return onnx_type


def _quantize_constant(values: np.ndarray, params: _Params) -> np.ndarray:
    """Evaluate QuantizeLinear on a float constant: round half to even, add the zero point,
    saturate to the integer type (ONNX QuantizeLinear semantics)."""
    scale, zero_point = _broadcast(params, values.ndim)
    dtype = helper.tensor_dtype_to_np_dtype(params.onnx_type)
    info = np.iinfo(dtype)
    rounded = np.rint(values.astype(np.float32) / scale) + zero_point
    return np.clip(rounded, info.min, info.max).astype(dtype)


def _dequantize_constant(values: np.ndarray, params: _Params) -> np.ndarray:
    """Evaluate DequantizeLinear in float32, as onnxruntime does."""
    scale, zero_point = _broadcast(params, values.ndim)
    return ((values.astype(np.float32) - zero_point.astype(np.float32)) * scale).astype(np.float32)


def _broadcast(params: _Params, ndim: int) -> tuple[np.ndarray, np.ndarray]:
    if params.axis is None:
        return params.scale.reshape(()), params.zero_point.reshape(()).astype(np.int64)
    shape = [1] * ndim
    shape[params.axis % ndim] = -1
    return params.scale.reshape(shape), params.zero_point.astype(np.int64).reshape(shape)


# Stripping -----------------------------------------------------------------------------------


@dataclass
class _PendingQuantize:
    """A QuantizeLinear waiting for the DequantizeLinear nodes that read its output."""

    node: onnx.NodeProto
    params: _Params
    constant: np.ndarray | None  # the integer values when the input is a constant


def strip_qdq(model: onnx.ModelProto) -> QdqModel:
    """Split a QDQ model into a float ONNX model and its quantization records.

    Q/DQ nodes edgec cannot read are listed in ``QdqModel.problems`` and left out of the
    float model.
    """
    return _Stripper(model).run()


class _Stripper:
    """One walk over the model's nodes, in order, building a ``QdqModel``."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.source = model
        self.qdq = QdqModel(model)
        self.qdq.positions = {display_name(node): i for i, node in enumerate(model.graph.node)}
        self.constants = _read_constants(model)
        self.pending: dict[str, _PendingQuantize] = {}
        self.rejected = self.qdq.rejected
        self.kept: list[onnx.NodeProto] = []
        self.new_initializers: list[onnx.TensorProto] = []

    def run(self) -> QdqModel:
        for node in self.source.graph.node:
            if node.op_type not in QDQ_OPS or node.domain not in ("", "ai.onnx"):
                self.kept.append(node)
            elif node.op_type == "QuantizeLinear":
                self._read_quantize(node)
            else:
                self._read_dequantize(node)
        self._check_quantize_readers()
        graph = helper.make_graph(
            self.kept, self.source.graph.name, list(self.source.graph.input),
            list(self.source.graph.output), initializer=self._used_initializers(),
        )
        self.qdq.model = helper.make_model(
            graph, opset_imports=list(self.source.opset_import), ir_version=self.source.ir_version
        )
        return self.qdq

    def _reject(self, node: onnx.NodeProto, reason: str) -> None:
        self.qdq.problem(node, reason)
        self.rejected.update(node.output)

    def _read_quantize(self, node: onnx.NodeProto) -> None:
        source = node.input[0]
        if source in self.rejected:
            self.rejected.update(node.output)
            return
        try:
            params = _read_params(node, self.constants, None)
        except _Rejected as error:
            self._reject(node, str(error))
            return
        if source in self.constants:
            values = self.constants[source]
            if not np.issubdtype(values.dtype, np.floating):
                self._reject(node, f"input '{source}' is not a float constant")
                return
            integers = _quantize_constant(values, params)
            self.pending[node.output[0]] = _PendingQuantize(node, params, integers)
            return
        if params.axis is not None:
            self._reject(
                node,
                f"activation '{source}' is quantized per channel ({params.scale.size} scales "
                f"along axis {params.axis}); edgec quantizes activations per tensor",
            )
            return
        quant = params.signed_quant()
        known = self.qdq.activations.get(source)
        if known is not None and not known.same_as(quant):
            self._reject(
                node,
                f"activation '{source}' is quantized twice with different parameters "
                f"({describe_quant(known)} and {describe_quant(quant)} in signed form); edgec "
                "gives each value one quantization",
            )
            return
        self.qdq.activations[source] = quant
        self.pending[node.output[0]] = _PendingQuantize(node, params, None)

    def _read_dequantize(self, node: onnx.NodeProto) -> None:
        source = node.input[0]
        if source in self.rejected:
            self.rejected.update(node.output)
            return
        quantize = self.pending.get(source)
        if source not in self.constants and quantize is None:
            self._reject(
                node,
                f"input '{source}' is neither an integer constant nor the output of a "
                "QuantizeLinear; edgec needs float graph inputs and a QuantizeLinear before "
                "every DequantizeLinear of an activation",
            )
            return
        if quantize is None:
            values = self.constants[source]
            data_type = helper.np_dtype_to_tensor_dtype(values.dtype)
        else:
            values = quantize.constant
            data_type = quantize.params.onnx_type
        try:
            params = _read_params(node, self.constants, data_type)
        except _Rejected as error:
            self._reject(node, str(error))
            return
        if quantize is not None and not params.same_as(quantize.params):
            self._reject(
                node,
                f"its scale and zero point differ from those of QuantizeLinear "
                f"'{display_name(quantize.node)}'; edgec reads a QuantizeLinear/"
                "DequantizeLinear pair as one quantization",
            )
        elif values is None:
            self._alias_activation(node, quantize)
        else:
            self._record_constant(node, values, params)

    def _record_constant(self, node: onnx.NodeProto, values: np.ndarray, params: _Params) -> None:
        """Record the integer constant that ``node`` dequantizes, and add its float values as
        an initializer of the DequantizeLinear output's name."""
        source = node.input[0]
        if helper.np_dtype_to_tensor_dtype(values.dtype) != params.onnx_type:
            self._reject(
                node, f"input '{source}' of type {values.dtype} does not match its zero point"
            )
            return
        if params.axis is not None and (
            not -values.ndim <= params.axis < values.ndim
            or values.shape[params.axis] != params.scale.size
        ):
            self._reject(
                node,
                f"{params.scale.size} scales along axis {params.axis} do not fit input "
                f"'{source}' of shape {list(values.shape)}",
            )
            return
        output = node.output[0]
        offset, signed = _SIGNED_FORM[params.onnx_type]
        signed_values = (values.astype(np.int64) + offset).astype(signed)
        self.qdq.constants[output] = QuantizedConstant(
            signed_values, params.signed_quant(), display_name(node), params.onnx_type
        )
        dequantized = _dequantize_constant(values, params)
        self.new_initializers.append(numpy_helper.from_array(dequantized, output))

    def _alias_activation(self, node: onnx.NodeProto, quantize: _PendingQuantize) -> None:
        """Replace the Q -> DQ pair by an Identity from the QuantizeLinear input."""
        source = quantize.node.input[0]
        self.qdq.activations[node.output[0]] = self.qdq.activations[source]
        identity = helper.make_node("Identity", [source], [node.output[0]], name=display_name(node))
        self.kept.append(identity)

    def _check_quantize_readers(self) -> None:
        """Report every QuantizeLinear whose integer output reaches a graph output or an op
        other than DequantizeLinear."""
        outputs = {value.name for value in self.source.graph.output}
        readers: dict[str, list[onnx.NodeProto]] = {}
        for node in self.source.graph.node:
            for name in node.input:
                readers.setdefault(name, []).append(node)
        for name, quantize in self.pending.items():
            if name in outputs:
                self.qdq.problem(
                    quantize.node,
                    f"its integer output '{name}' is a graph output; edgec gives QDQ models "
                    "float outputs, so end the graph with DequantizeLinear",
                )
            for node in readers.get(name, []):
                if node.op_type != "DequantizeLinear":
                    self.qdq.problem(
                        quantize.node,
                        f"its integer output '{name}' is read by node '{display_name(node)}' "
                        f"({node.op_type}); edgec needs a DequantizeLinear after every "
                        "QuantizeLinear",
                    )

    def _used_initializers(self) -> list[onnx.TensorProto]:
        used = {name for node in self.kept for name in node.input}
        used.update(value.name for value in self.source.graph.output)
        initializers = list(self.source.graph.initializer) + self.new_initializers
        return [init for init in initializers if init.name in used]


# Checks of the nodes between DequantizeLinear and QuantizeLinear --------------------------------


def check_qdq_nodes(qdq: QdqModel, skip: set[str]) -> None:
    """Add a problem for every node of the float model that edgec cannot run in integers.

    ``skip`` contains the names of nodes reported already (no converter) or folded to
    constants.
    """
    producers = {out: node for node in qdq.model.graph.node for out in node.output}
    for node in qdq.model.graph.node:
        name = display_name(node)
        if name in skip:
            continue
        if node.op_type not in INTEGER_OPS:
            qdq.problem(
                node,
                f"edgec has no integer kernel for {node.op_type}; ops it runs between "
                f"DequantizeLinear and QuantizeLinear: {', '.join(sorted(INTEGER_OPS))}",
            )
            continue
        if node.op_type in WEIGHTED_OPS:
            _check_weighted(qdq, node, producers)
        if node.op_type in CONSTANT_OPERAND_OPS:
            _check_constant_operands(qdq, node)


def _check_weighted(qdq: QdqModel, node: onnx.NodeProto, producers: dict) -> None:
    op = WEIGHTED_OPS[node.op_type]
    weight_name = node.input[op.weight_input]
    weights = qdq.constants.get(weight_name)
    if weight_name in qdq.rejected:
        return
    if weights is None:
        qdq.problem(
            node,
            f"weights '{weight_name}' are float; a QDQ model must dequantize them from an int8 "
            "initializer (DequantizeLinear), or compile the float model with --calibration",
        )
        return
    reasons = _weight_problems(node, op, weights)
    if node.op_type == "Gemm":
        for attribute in ("alpha", "beta"):
            if float(_attr(node, attribute, 1.0)) != 1.0:
                reasons.append(
                    f"{attribute}={_attr(node, attribute, 1.0):g} would scale quantized values; "
                    "edgec needs 1.0"
                )
    bias_name = node.input[op.bias_input] if op.bias_input is not None and \
        op.bias_input < len(node.input) else ""
    if bias_name and not reasons:
        input_quant = qdq.activation_quant(node.input[0], producers)
        bias = qdq.constants.get(bias_name)
        if bias is not None and input_quant is not None:
            reasons += _bias_problems(bias_name, bias, input_quant, weights)
    for reason in reasons:
        qdq.problem(node, reason)


def _weight_problems(node: onnx.NodeProto, op: WeightedOp, weights: QuantizedConstant) -> list[str]:
    reasons = []
    if weights.values.dtype != np.int8:
        reasons.append(
            f"weights are {onnx.TensorProto.DataType.Name(weights.onnx_type)}; edgec needs int8 "
            "(or uint8 with zero point 128)"
        )
    nonzero = weights.quant.zero_point[weights.quant.zero_point != 0]
    if nonzero.size:
        offset = _SIGNED_FORM[weights.onnx_type][0]
        reasons.append(
            f"weight zero point is {int(nonzero[0]) - offset} (DequantizeLinear "
            f"'{weights.node}'); edgec needs symmetric weights with zero point 0 (128 for "
            "uint8), so quantize the weights symmetrically"
        )
    if weights.quant.axis is not None:
        ndim = weights.values.ndim
        expected = op.channel_axis(node)
        if weights.quant.axis % ndim != expected:
            reasons.append(
                f"weights are quantized per channel along axis {weights.quant.axis % ndim}; "
                f"edgec needs the output-channel axis {expected}"
            )
    return reasons


def _bias_problems(
    name: str, bias: QuantizedConstant, input_quant: Quant, weights: QuantizedConstant
) -> list[str]:
    if bias.values.dtype != np.int32:
        type_name = onnx.TensorProto.DataType.Name(bias.onnx_type)
        return [f"bias '{name}' is {type_name}; edgec needs int32"]
    reasons = []
    if np.any(bias.quant.zero_point != 0):
        reasons.append(f"bias '{name}' has a non-zero zero point; edgec needs 0")
    channels = max(weights.quant.scale.size, bias.quant.scale.size)
    expected = (np.float64(input_quant.scale[0]) * weights.quant.scale.astype(np.float64))
    expected = np.broadcast_to(expected.astype(np.float32), (channels,))
    actual = np.broadcast_to(bias.quant.scale, (channels,))
    # Exporters multiply the two float32 scales in float32 or float64; allow their rounding.
    wrong = ~np.isclose(actual, expected, rtol=4 * np.finfo(np.float32).eps, atol=0.0)
    if wrong.any():
        channel = int(np.flatnonzero(wrong)[0])
        reasons.append(
            f"bias scale {float(actual[channel]):.9g} (channel {channel}) is not input_scale x "
            f"weight_scale = {float(expected[channel]):.9g}; edgec's integer bias needs that "
            "scale, so re-quantize the bias with it"
        )
    return reasons


def _check_constant_operands(qdq: QdqModel, node: onnx.NodeProto) -> None:
    positions = CONSTANT_OPERAND_OPS[node.op_type] or range(len(node.input))
    initializers = {init.name for init in qdq.model.graph.initializer}
    for index in positions:
        name = node.input[index] if index < len(node.input) else ""
        if not name or name not in initializers:
            continue
        constant = qdq.constants.get(name)
        if constant is None:
            qdq.problem(
                node,
                f"constant input '{name}' is float; a QDQ model must dequantize it from an "
                "int8 or uint8 initializer",
            )
        elif constant.quant.axis is not None or constant.values.dtype != np.int8:
            qdq.problem(
                node,
                f"constant input '{name}' must be int8 or uint8 quantized per tensor",
            )

