"""QDQ models in the ONNX frontend: build the integer IR graph from the float IR graph and the
quantization records of ``onnx_qdq``.

Where it sits: ``load_onnx`` converts the float model that ``onnx_qdq.strip_qdq`` returns with
the ordinary converters, then calls ``build_integer_graph``. The result looks like the graph
of an int8 TFLite model. Activations are int8 with per-tensor ``Quant``, weights int8 per
output channel (``Quant.axis`` in the IR layout), and biases int32 with scale input_scale *
weight_scale. A ``quantize`` node follows each float graph input, and a ``dequantize`` node
precedes each float graph output.

Stages of ``build_integer_graph``:
1. Give every IR tensor of a recorded ONNX activation its ``Quant``. The transposed forms
   of a value share it.
2. Fuse a clip (Relu, Clip) whose input the model does not quantize into the op that
   produces that input. Quantization is monotonic, so quantizing the clamped value equals
   clamping the quantized value to the quantized bounds (exact up to ties of the bounds).
3. Propagate quantization through ops that only move values (reshape, transpose, pad,
   max_pool2d): a value without its own QuantizeLinear gets the quantization that makes
   the move exact, first from its readers, then from its producer's input.
4. Emit one integer node per float node through ``RULES``, with these fix-ups:
   - a value-moving op whose output the model quantizes differently gets a requantize
     (``quantize``) node after it;
   - concat inputs are requantized to the output's parameters;
   - a global average pool whose output the model quantizes differently becomes ``mean``;
   - a softmax output with parameters other than scale 1/256, zero point -128 is
     requantized from those. Unlike the others, this one adds a rounding step.

Every node that cannot be expressed is reported, and ``raise_problems`` lists them all in one
error. To support another IR op, add a rule to ``RULES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx

from edgec.frontend.onnx_qdq import (
    WEIGHTED_OPS,
    Problem,
    QdqModel,
    QuantizedConstant,
    describe_quant,
    raise_problems,
)
from edgec.frontend.onnx_registry import display_name
from edgec.frontend.onnx_values import ConversionContext
from edgec.ir.graph import Graph, Node, Quant, Tensor
from edgec.ir.ops import OPS
from edgec.quantize.params import quantize_bias

__all__ = ["RULES", "build_integer_graph"]

# IR ops that only move input values, so quantizing before or after them gives the same integers.
MOVES_VALUES = {"reshape", "transpose", "pad", "max_pool2d"}
# Output-channel axis of the filter in the IR layout (conv2d OHWI, depthwise 1HW(C*M), fc (O, I)).
FILTER_CHANNEL_AXIS = {"conv2d": 0, "depthwise_conv2d": 3, "fully_connected": 0}
SOFTMAX_QUANT = Quant(np.array([1.0 / 256.0], np.float32), np.array([-128]))


def build_integer_graph(
    graph: Graph, ctx: ConversionContext, origins: dict[int, onnx.NodeProto], qdq: QdqModel,
    path: Path,
) -> Graph:
    """Return the integer graph of the float ``graph`` converted from ``qdq.model``.

    ``origins`` maps ``id`` of each IR node to the ONNX node it was converted from. Raises
    QuantizationError (or UnsupportedOperatorError) listing every node that edgec cannot
    express in integer arithmetic.
    """
    quant = _recorded_quant(ctx, qdq)
    _fuse_clamps(graph, quant)
    _propagate(graph, quant)
    builder = _Builder(graph, quant, origins, qdq)
    result = builder.build()
    raise_problems(path, qdq.problems + builder.problems)
    return result


# Stages 1 to 3 -------------------------------------------------------------------------------


def _recorded_quant(ctx: ConversionContext, qdq: QdqModel) -> dict[str, Quant]:
    """Map every IR tensor of a recorded ONNX activation to its ``Quant``."""
    producers = {out: node for node in qdq.model.graph.node for out in node.output}
    quant: dict[str, Quant] = {}
    owners: dict[str, str] = {}
    for value, value_quant in qdq.activations.items():
        activation = ctx.activations.get(value)
        if activation is None:
            continue
        for tensor in activation.forms.values():
            known = quant.get(tensor)
            if known is not None and not known.same_as(value_quant):
                reason = (
                    f"value '{value}' ({describe_quant(value_quant)}) holds the same values as "
                    f"'{owners[tensor]}' ({describe_quant(known)}); edgec needs one "
                    "quantization for both"
                )
                producer = producers.get(value)
                if producer is not None:
                    qdq.problem(producer, reason)
                else:
                    qdq.problems.append(Problem(-1, f"graph input '{value}'", reason))
                continue
            quant[tensor] = value_quant
            owners[tensor] = value
    return quant


def _fuse_clamps(graph: Graph, quant: dict[str, Quant]) -> None:
    """Move each clip whose input the model does not quantize into the input's producer."""
    for clip in list(graph.nodes):
        if clip.op != "clip":
            continue
        source = clip.inputs[0]
        producer = graph.producer(source)
        if source in quant or source in graph.outputs or producer is None:
            continue
        if "activation" not in OPS[producer.op].attrs or len(graph.consumers(source)) != 1:
            continue
        merged = _intersect(producer.attrs.get("activation"), clip.attrs["activation"])
        if merged[0] > merged[1]:
            continue
        producer.attrs["activation"] = merged
        producer.outputs[producer.outputs.index(source)] = clip.outputs[0]
        graph.nodes.remove(clip)
        del graph.tensors[source]


def _intersect(first, second) -> tuple[float, float]:
    if first is None:
        return tuple(second)
    return (max(first[0], second[0]), min(first[1], second[1]))


def _propagate(graph: Graph, quant: dict[str, Quant]) -> None:
    """Give values without their own quantization the one that makes value-moving ops exact.

    A value whose readers are all value-moving ops with quantized outputs of one set of
    parameters takes those (quantizing later equals quantizing earlier). Otherwise the output
    of a value-moving op takes its input's parameters.
    """
    readers: dict[str, list[Node]] = {}
    for node in graph.nodes:
        for name in node.inputs:
            readers.setdefault(name, []).append(node)
    changed = True
    while changed:
        changed = False
        for name, tensor in graph.tensors.items():
            if name in quant or tensor.is_constant or tensor.dtype != "float32":
                continue
            moves = readers.get(name, [])
            if not moves:
                continue
            if any(r.op not in MOVES_VALUES or r.outputs[0] not in quant for r in moves):
                continue
            candidates = [quant[r.outputs[0]] for r in moves]
            if all(c.same_as(candidates[0]) for c in candidates):
                quant[name] = candidates[0]
                changed = True
        if changed:
            continue
        for node in graph.nodes:
            source, output = node.inputs[0] if node.inputs else "", node.outputs[0]
            if node.op in MOVES_VALUES and output not in quant and source in quant:
                quant[output] = quant[source]
                changed = True


# Stage 4 -------------------------------------------------------------------------------------

Rule = Callable[["_Builder", Node], None]
RULES: dict[str, Rule] = {}


def _rule(*ops: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        for op in ops:
            RULES[op] = fn
        return fn

    return register


class _Builder:
    """Emits the integer graph node by node; collects the problems of nodes it cannot emit."""

    def __init__(
        self, source: Graph, quant: dict[str, Quant], origins: dict[int, onnx.NodeProto],
        qdq: QdqModel,
    ) -> None:
        self.source = source
        self.quant = quant
        self.origins = origins
        self.qdq = qdq
        # ONNX runtimes requantize with one rounding (a float multiply). A QDQ model runs
        # with single rounding to stay within one LSB of them (quantize.fixed_point).
        self.graph = Graph(
            name=source.name, inputs=list(source.inputs), outputs=list(source.outputs),
            requantize_rounding="single",
        )
        self.problems: list[Problem] = []
        self.int_names: dict[str, str] = {}  # float tensor -> integer tensor, at the boundary
        self.reserved_tensors = set(source.tensors)
        self.reserved_nodes = {node.name for node in source.nodes}
        self.requantized: dict[tuple, str] = {}
        self.constants: dict[tuple, str] = {}

    def build(self) -> Graph:
        for name in self.source.outputs:
            if not self.source.tensors[name].is_constant and name not in self.source.inputs:
                self.int_names[name] = self.fresh_tensor(f"{name}_int8")
        for name in self.source.inputs:
            self._add_input(name)
        for node in self.source.nodes:
            RULES[node.op](self, node)
        for name in self.source.outputs:
            self._add_output(name)
        return self.graph

    # Boundary

    def _add_input(self, name: str) -> None:
        tensor = self.source.tensors[name]
        self.graph.add_tensor(Tensor(name, tensor.shape, tensor.dtype))
        if name not in self.quant:
            return  # each node that reads it reports the missing quantization
        int_name = self.fresh_tensor(f"{name}_int8")
        self.int_names[name] = int_name
        quant = replace(self.quant[name])
        self.graph.add_tensor(Tensor(int_name, tensor.shape, "int8", quant=quant))
        self.emit("quantize", self.fresh_node(f"{name}_quantize"), [name], [int_name])

    def _add_output(self, name: str) -> None:
        int_name = self.int_names.get(name)
        if int_name is None or int_name not in self.graph.tensors:
            if self.source.tensors[name].is_constant:
                reason = "it is a constant; edgec compiles computed outputs"
                self.problems.append(Problem(-1, f"graph output '{name}'", reason))
            return
        self.graph.add_tensor(Tensor(name, self.source.tensors[name].shape, "float32"))
        self.emit("dequantize", self.fresh_node(f"{name}_dequantize"), [int_name], [name])

    # Naming and emitting

    def fresh_tensor(self, base: str) -> str:
        name, suffix = base, 1
        while name in self.reserved_tensors:
            name, suffix = f"{base}_{suffix}", suffix + 1
        self.reserved_tensors.add(name)
        return name

    def fresh_node(self, base: str) -> str:
        name, suffix = base, 1
        while name in self.reserved_nodes:
            name, suffix = f"{base}_{suffix}", suffix + 1
        self.reserved_nodes.add(name)
        return name

    def emit(self, op: str, name: str, inputs: list[str], outputs: list[str], attrs=None) -> None:
        self.graph.nodes.append(Node(op, name, list(inputs), list(outputs), dict(attrs or {})))

    def origin(self, node: Node) -> onnx.NodeProto | None:
        return self.origins.get(id(node))

    def report(self, node: Node, reason: str) -> None:
        source = self.origin(node)
        if source is not None:
            name = display_name(source)
            subject = f"node '{name}' ({source.op_type})"
        else:
            name, subject = node.name, f"node '{node.name}' ({node.op})"
        self.problems.append(Problem(self.qdq.positions.get(name, -1), subject, reason))

    # Tensors

    def input(self, node: Node, index: int) -> str | None:
        """Return the integer tensor of activation input ``index``, or None after a problem."""
        name = node.inputs[index]
        if name not in self.quant:
            if self.source.producer(name) is None:
                self.report(node, f"input '{name}' is not quantized; put a QuantizeLinear/"
                                  "DequantizeLinear pair before this node")
            # Otherwise the producer reports its unquantized output.
            return None
        int_name = self.int_names.get(name, name)
        # A producer that could not be emitted has reported its problem already.
        return int_name if int_name in self.graph.tensors else None

    def output(self, node: Node, quant: Quant | None = None, index: int = 0) -> str | None:
        """Add the integer tensor of output ``index`` and return its name, or None after a
        problem. ``quant`` overrides the parameters the model gives it."""
        name = node.outputs[index]
        quant = quant or self.quant.get(name)
        if quant is None:
            self.report(node, f"output '{name}' is not quantized; add a QuantizeLinear/"
                              "DequantizeLinear pair after it (edgec runs integer kernels only)")
            return None
        int_name = self.int_names.get(name, name)
        shape = self.source.tensors[name].shape
        self.graph.add_tensor(Tensor(int_name, shape, "int8", quant=replace(quant)))
        return int_name

    def inner(self, base: str, shape: tuple[int, ...], quant: Quant) -> str:
        """Add an int8 tensor between an op and the requantize node after it."""
        name = self.fresh_tensor(base)
        self.graph.add_tensor(Tensor(name, shape, "int8", quant=replace(quant)))
        return name

    def requantize(self, int_name: str, quant: Quant) -> str:
        """Return ``int_name`` requantized to ``quant`` (a ``quantize`` node, added once)."""
        if self.graph.tensors[int_name].quant.same_as(quant):
            return int_name
        key = (int_name, float(quant.scale[0]), int(quant.zero_point[0]))
        if key not in self.requantized:
            shape = self.graph.tensors[int_name].shape
            target = self.inner(f"{int_name}_requantized", shape, quant)
            self.emit("quantize", self.fresh_node(f"{int_name}_requantize"), [int_name], [target])
            self.requantized[key] = target
        return self.requantized[key]

    def add_constant(self, tensor: Tensor) -> str:
        """Add an integer constant, reusing an identical one under the same base name."""
        key = (tensor.name, tensor.dtype, tensor.data.tobytes(), tensor.quant.scale.tobytes())
        if key not in self.constants:
            name = tensor.name
            if name in self.graph.tensors:
                name = self.fresh_tensor(name)
            self.graph.add_tensor(replace(tensor, name=name))
            self.constants[key] = name
        return self.constants[key]

    def operand(self, node: Node, index: int) -> str | None:
        """Return the integer tensor of input ``index``, an activation or a quantized constant."""
        tensor = self.source.tensors[node.inputs[index]]
        if not tensor.is_constant:
            return self.input(node, index)
        source = self.origin(node)
        record = self.qdq.constants.get(source.input[index]) if source is not None else None
        if record is None or record.quant.axis is not None:
            self.report(node, f"constant input '{tensor.name}' is not quantized per tensor")
            return None
        values = recover_integers(tensor.data, record.quant.scale, None)
        values = values + record.quant.zero_point[0]
        quant = Quant(record.quant.scale, record.quant.zero_point)
        return self.add_constant(Tensor(tensor.name, tensor.shape, "int8", values, quant))


def recover_integers(data: np.ndarray, scale: np.ndarray, axis: int | None) -> np.ndarray:
    """Return the integers ``q`` with ``float32(q * scale) == data`` (zero point 0 form).

    ``data`` contains DequantizeLinear results that the converters only moved (transposed,
    reshaped), so dividing by the float32 scale and rounding recovers ``q`` exactly. Raises
    RuntimeError when it does not, which would be a bug in the frontend.
    """
    shape = [1] * data.ndim
    if axis is not None:
        shape[axis] = -1
    scale = np.asarray(scale, np.float32).reshape(shape if axis is not None else ())
    values = np.rint(data.astype(np.float64) / scale.astype(np.float64))
    if not np.array_equal((values.astype(np.float32) * scale).astype(np.float32), data):
        raise RuntimeError("dequantized constant does not map back to integers exactly")
    return values.astype(np.int64)


# Rules, one per IR op ------------------------------------------------------------------------


@_rule("conv2d", "depthwise_conv2d", "fully_connected")
def _weighted(builder: _Builder, node: Node) -> None:
    source = builder.origin(node)
    op = WEIGHTED_OPS[source.op_type]
    x = builder.input(node, 0)
    out = builder.output(node)
    filter_name, weights_quant = _filter(builder, node, builder.qdq.constants[source.input[1]])
    bias_name = ""
    if len(node.inputs) > 2 and node.inputs[2] and x is not None:
        record = builder.qdq.constants.get(source.input[op.bias_input])
        input_scale = float(builder.graph.tensors[x].quant.scale[0])
        bias_name = _bias(builder, node, record, input_scale, weights_quant)
    if x is None or out is None:
        return
    builder.emit(node.op, node.name, [x, filter_name, bias_name], [out], node.attrs)


def _filter(builder: _Builder, node: Node, record: QuantizedConstant) -> tuple[str, Quant]:
    tensor = builder.source.tensors[node.inputs[1]]
    axis = FILTER_CHANNEL_AXIS[node.op]
    channels = tensor.shape[axis]
    scale = np.broadcast_to(record.quant.scale, (channels,)).astype(np.float32)
    values = recover_integers(tensor.data, scale, axis)
    quant = Quant(scale, np.zeros(channels, np.int64), axis=axis)
    return builder.add_constant(Tensor(tensor.name, tensor.shape, "int8", values, quant)), quant


def _bias(
    builder: _Builder, node: Node, record: QuantizedConstant | None, input_scale: float,
    weights_quant: Quant,
) -> str:
    """Return the int32 bias: the model's integers, or the float bias quantized at
    input_scale * weight_scale (how every int8 converter quantizes a float bias)."""
    tensor = builder.source.tensors[node.inputs[2]]
    channels = weights_quant.scale.size
    scale = (np.float64(input_scale) * weights_quant.scale.astype(np.float64)).astype(np.float32)
    if record is not None:
        values = np.broadcast_to(record.values.reshape(-1), (channels,)).astype(np.int32)
    else:
        values, _ = quantize_bias(tensor.data, input_scale, weights_quant.scale, node.name)
    quant = Quant(scale, np.zeros(channels, np.int64), axis=0)
    return builder.add_constant(Tensor(tensor.name, (channels,), "int32", values, quant))


@_rule("add", "sub", "mul")
def _elementwise(builder: _Builder, node: Node) -> None:
    inputs = [builder.operand(node, index) for index in range(len(node.inputs))]
    out = builder.output(node)
    if out is not None and None not in inputs:
        builder.emit(node.op, node.name, inputs, [out], node.attrs)


@_rule("mean", "clip")
def _rescaling(builder: _Builder, node: Node) -> None:
    """Ops whose integer kernel rescales from the input's to the output's parameters."""
    x = builder.input(node, 0)
    out = builder.output(node)
    if x is not None and out is not None:
        builder.emit(node.op, node.name, [x], [out], node.attrs)


@_rule("reshape", "transpose", "pad", "max_pool2d", "average_pool2d")
def _keeps_quant(builder: _Builder, node: Node) -> None:
    """Ops whose integer kernel keeps the input's parameters.

    When the model quantizes the output differently, a requantize node follows (exact,
    because these ops only move values), except for average_pool2d: a global average pool
    becomes ``mean``, whose kernel rescales (TFLite's MEAN), and any other is rejected.
    """
    x = builder.input(node, 0)
    if x is None:
        return
    input_quant = builder.graph.tensors[x].quant
    output_quant = builder.quant.get(node.outputs[0])
    if output_quant is None:
        builder.output(node)  # reports the unquantized output of an average pool
        return
    if output_quant.same_as(input_quant):
        out = builder.output(node, input_quant)
        builder.emit(node.op, node.name, [x], [out], node.attrs)
        return
    if node.op == "average_pool2d":
        _rescaling_average_pool(builder, node, x, input_quant, output_quant)
        return
    out = builder.output(node)
    inner = builder.inner(f"{out}/{node.op}", builder.graph.tensors[out].shape, input_quant)
    builder.emit(node.op, node.name, [x], [inner], node.attrs)
    builder.emit("quantize", builder.fresh_node(f"{node.name}/requantize"), [inner], [out])


def _rescaling_average_pool(
    builder: _Builder, node: Node, x: str, input_quant: Quant, output_quant: Quant
) -> None:
    height, width = builder.graph.tensors[x].shape[1:3]
    is_global = (
        tuple(node.attrs["kernel"]) == (height, width)
        and not any(node.attrs.get("pads", (0, 0, 0, 0)))
        and node.attrs.get("activation") is None
    )
    if not is_global:
        builder.report(
            node,
            f"the output ({describe_quant(output_quant)}) is quantized differently from the "
            f"input ({describe_quant(input_quant)}); edgec's integer average pool keeps the "
            "input's parameters, as TFLite's does, and only a global average pool may rescale",
        )
        return
    out = builder.output(node)
    builder.emit("mean", node.name, [x], [out], {"axes": (1, 2), "keepdims": True})


@_rule("concat")
def _concat(builder: _Builder, node: Node) -> None:
    out = builder.output(node)
    inputs = [builder.operand(node, index) for index in range(len(node.inputs))]
    if out is None or None in inputs:
        return
    quant = builder.graph.tensors[out].quant
    inputs = [builder.requantize(name, quant) for name in inputs]
    builder.emit("concat", node.name, inputs, [out], node.attrs)


@_rule("softmax")
def _softmax(builder: _Builder, node: Node) -> None:
    """Emit the integer softmax, which writes scale 1/256, zero point -128 (as TFLite's int8
    SOFTMAX), and a requantize node when the model quantizes the output otherwise.

    NOTE: another output quantization, such as onnxruntime's 1/255 for the [0, 1] range,
    costs a requantize node and so one more rounding: up to 1 LSB beyond the softmax's own.
    """
    x = builder.input(node, 0)
    out = builder.output(node)
    if x is None or out is None:
        return
    if builder.graph.tensors[out].quant.same_as(SOFTMAX_QUANT):
        builder.emit("softmax", node.name, [x], [out], node.attrs)
        return
    inner = builder.inner(f"{out}/softmax", builder.graph.tensors[out].shape, SOFTMAX_QUANT)
    builder.emit("softmax", node.name, [x], [inner], node.attrs)
    builder.emit("quantize", builder.fresh_node(f"{node.name}/requantize"), [inner], [out])
