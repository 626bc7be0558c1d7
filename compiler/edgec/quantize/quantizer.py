"""Post-training quantization: convert a float IR graph into an int8 IR graph.

Pipeline position: after calibration (``collect_ranges``) and before lowering. The input is a
float graph from a frontend (NHWC activations, conv2d filter OHWI, depthwise_conv2d filter
1HW(C*M), fully_connected filter (O, I)) and an observed ``(min, max)`` for each float
activation. The output computes the same function on int8 tensors, following the TFLite
integer-only spec. ``edgec.quantize.params`` contains the formulas.

Stages:
1. Plan: walk the nodes in execution order and give every float activation a ``Quant``. The
   op's rule picks its own observed range, the input's parameters, fixed parameters, or
   (concat) one common set of parameters for all inputs and the output.
2. Build: emit the int8 graph. Constants become int8 weights per channel, int32 biases, or
   int8 per-tensor values. Concat inputs whose parameters differ from the common ones get an
   int8-to-int8 ``quantize`` (requantize) node. Each float32 graph input feeds a new
   ``quantize`` node, and each float32 graph output comes from a new ``dequantize`` node.

Invariants of the result: it passes ``Graph.check()``. Its only float32 tensors are the
float graph inputs and outputs, which keep their names. Integer inputs and tensors (such as
int64 token ids) are copied unchanged.

To support another op, add a ``QuantRule`` for it to ``QUANT_RULES``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from edgec.errors import QuantizationError
from edgec.ir import Graph, Node, Quant, Tensor
from edgec.quantize.params import (
    SOFTMAX_OUTPUT,
    activation_quant,
    fixed_quant,
    quantize_bias,
    quantize_values,
    quantize_weights,
)


def quantize_graph(float_graph: Graph, ranges: dict[str, tuple[float, float]]) -> Graph:
    """Return an int8 copy of ``float_graph`` quantized with the calibration ``ranges``.

    ``ranges`` maps every non-constant float32 tensor to its observed ``(min, max)``, as
    ``collect_ranges`` returns it. ``float_graph`` is not modified. Raises QuantizationError
    for ops without a quantization rule, an already quantized graph, a missing range, or a
    NaN or infinite weight or bias.
    """
    _check_float_graph(float_graph)
    plan = _Plan(float_graph, ranges)
    plan.run()
    graph = _Builder(float_graph, plan).build()
    graph.check()
    return graph


def _check_float_graph(graph: Graph) -> None:
    """Raise QuantizationError listing every node without a rule, or a quantized tensor."""
    unsupported = [
        f"'{node.name}' ({node.op})" for node in graph.nodes if node.op not in QUANT_RULES
    ]
    if unsupported:
        raise QuantizationError(
            f"no int8 quantization rule for node(s) {', '.join(unsupported)}; supported ops: "
            f"{', '.join(sorted(QUANT_RULES))}"
        )
    for tensor in graph.tensors.values():
        if tensor.quant is not None:
            raise QuantizationError(
                f"tensor '{tensor.name}' already has quantization parameters; quantize_graph "
                "takes a float graph, so pass the model without its quantization"
            )


class _Plan:
    """The quantization parameters of every float activation, decided before building."""

    def __init__(self, graph: Graph, ranges: dict[str, tuple[float, float]]) -> None:
        self.graph = graph
        self.ranges = ranges
        self.quant: dict[str, Quant] = {}
        # Tensors whose parameters came from their own range, so a concat that is their only
        # consumer may replace them instead of inserting a requantize node.
        self.replaceable: set[str] = set()
        # (node position, input position) -> parameters the input must be requantized to.
        self.requantize: dict[tuple[int, int], Quant] = {}

    def run(self) -> None:
        for name in self.graph.inputs:
            if self.is_activation(name):
                self.quant[name] = self.observed_quant(name)
                self.replaceable.add(name)
        for position, node in enumerate(self.graph.nodes):
            QUANT_RULES[node.op].plan(self, node, position)

    def is_activation(self, name: str) -> bool:
        """Return whether ``name`` is a float32 tensor computed at run time (not a constant)."""
        tensor = self.graph.tensors[name]
        return tensor.dtype == "float32" and not tensor.is_constant

    def observed_range(self, name: str) -> tuple[float, float]:
        if name not in self.ranges:
            producer = self.graph.producer(name)
            where = f"output of node '{producer.name}'" if producer else "graph input"
            raise QuantizationError(
                f"tensor '{name}' ({where}) has no calibration range; compute the ranges "
                "with collect_ranges on this same graph"
            )
        low, high = self.ranges[name]
        return float(low), float(high)

    def observed_quant(self, name: str) -> Quant:
        return activation_quant(*self.observed_range(name), name=name)

    def can_replace(self, name: str) -> bool:
        """Return whether the parameters of ``name`` may change without affecting other nodes."""
        return (
            name in self.replaceable
            and name not in self.graph.outputs
            and len(self.graph.consumers(name)) == 1
        )


class QuantRule:
    """Quantization rule of one op. This base rule gives each output its own observed range."""

    def plan(self, plan: _Plan, node: Node, position: int) -> None:
        """Assign parameters to the node's float outputs in ``plan``."""
        for name in node.outputs:
            if plan.is_activation(name):
                plan.quant[name] = plan.observed_quant(name)
                plan.replaceable.add(name)

    def constant_input(self, plan: _Plan, node: Node, index: int, tensor: Tensor) -> Tensor:
        """Return the integer version of float constant input ``index``.

        The base rule quantizes it to int8 per tensor over its own values.
        """
        data = tensor.data
        low = float(data.min()) if data.size else 0.0
        high = float(data.max()) if data.size else 0.0
        quant = activation_quant(low, high, name=tensor.name)
        return Tensor(tensor.name, tensor.shape, "int8", quantize_values(data, quant), quant)


class SharedQuantRule(QuantRule):
    """Rule that gives the output the input's parameters (reshape, transpose, pooling, pad).

    The int8 kernels of these ops then move or pick values without rescaling them. The
    MLPerf Tiny int8 TFLite models quantize their reshape and average pool the same way.
    """

    def plan(self, plan: _Plan, node: Node, position: int) -> None:
        source = node.inputs[0]
        if source not in plan.quant:
            # The input is a constant or an integer tensor, so there is nothing to share.
            super().plan(plan, node, position)
            return
        for name in node.outputs:
            if plan.is_activation(name):
                plan.quant[name] = replace(plan.quant[source])

    def constant_input(self, plan: _Plan, node: Node, index: int, tensor: Tensor) -> Tensor:
        quant = plan.quant[node.outputs[0]]
        return Tensor(tensor.name, tensor.shape, "int8", quantize_values(tensor.data, quant), quant)


class FixedOutputRule(QuantRule):
    """Rule that gives the output fixed parameters.

    Softmax gets scale 1/256 and zero point -128, like the softmax outputs of the MLPerf Tiny
    int8 TFLite models.
    """

    def __init__(self, scale: float, zero_point: int) -> None:
        self.scale = scale
        self.zero_point = zero_point

    def plan(self, plan: _Plan, node: Node, position: int) -> None:
        for name in node.outputs:
            if plan.is_activation(name):
                plan.quant[name] = fixed_quant(self.scale, self.zero_point)


class ConcatRule(SharedQuantRule):
    """All inputs and the output share one set of parameters covering all their ranges.

    An input with other parameters gets them replaced when the concat is its only consumer
    and its parameters came from its own range. Otherwise a requantize node converts it.
    """

    def plan(self, plan: _Plan, node: Node, position: int) -> None:
        output = node.outputs[0]
        if not plan.is_activation(output):
            # An integer concat (shape arithmetic) stays as it is.
            return
        bounds = [plan.observed_range(output)]
        for name in node.inputs:
            if plan.is_activation(name):
                bounds.append(plan.observed_range(name))
            elif plan.graph.tensors[name].is_constant and plan.graph.tensors[name].data.size:
                data = plan.graph.tensors[name].data
                bounds.append((float(data.min()), float(data.max())))
        low = min(bound[0] for bound in bounds)
        high = max(bound[1] for bound in bounds)
        common = activation_quant(low, high, name=output)
        plan.quant[output] = common

        for index, name in enumerate(node.inputs):
            if not plan.is_activation(name) or plan.quant[name].same_as(common):
                continue
            if plan.can_replace(name):
                plan.quant[name] = replace(common)
                plan.replaceable.discard(name)
            else:
                plan.requantize[(position, index)] = common


class WeightedRule(QuantRule):
    """Rule for conv2d, depthwise_conv2d and fully_connected.

    Weights become int8 per output channel along ``channel_axis``, the bias int32, and the
    output is quantized over its own range. A channel's weight scale is raised when needed
    so that its quantized bias stays within 2**30.
    """

    def __init__(self, channel_axis: int) -> None:
        self.channel_axis = channel_axis

    def plan(self, plan: _Plan, node: Node, position: int) -> None:
        source, weights = node.inputs[0], node.inputs[1]
        bias = node.inputs[2] if len(node.inputs) > 2 else ""
        if not plan.is_activation(source):
            raise QuantizationError(
                f"node '{node.name}' ({node.op}): input '{source}' is not a float activation; "
                "fold constant subgraphs before quantization"
            )
        for role, name in (("filter", weights), ("bias", bias)):
            tensor = plan.graph.tensors.get(name) if name else None
            if name and (tensor is None or not tensor.is_constant or tensor.dtype != "float32"):
                raise QuantizationError(
                    f"node '{node.name}' ({node.op}): {role} '{name}' is not a float32 "
                    "constant; edgec quantizes only constant weights"
                )
        channels = plan.graph.tensors[weights].shape[self.channel_axis]
        if bias and plan.graph.tensors[bias].shape != (channels,):
            raise QuantizationError(
                f"node '{node.name}' ({node.op}): bias '{bias}' has shape "
                f"{plan.graph.tensors[bias].shape}, expected ({channels},) for {channels} "
                "output channels"
            )
        super().plan(plan, node, position)

    def constant_input(self, plan: _Plan, node: Node, index: int, tensor: Tensor) -> Tensor:
        weights = plan.graph.tensors[node.inputs[1]]
        input_scale = float(plan.quant[node.inputs[0]].scale[0])
        min_scales = None
        if len(node.inputs) > 2 and node.inputs[2]:
            # A channel whose weights are almost all zero gets a tiny scale. Raising it keeps
            # the bias within 2**30 units, so the int32 bias and accumulator cannot overflow.
            bias_values = np.abs(plan.graph.tensors[node.inputs[2]].data.astype(np.float64))
            min_scales = bias_values / (input_scale * 2.0**30)
        values, weights_quant = quantize_weights(
            weights.data, self.channel_axis, weights.name, min_scales
        )
        if index == 1:
            return Tensor(tensor.name, tensor.shape, "int8", values, weights_quant)
        bias, bias_quant = quantize_bias(tensor.data, input_scale, weights_quant.scale, node.name)
        return Tensor(tensor.name, tensor.shape, "int32", bias, bias_quant)


_OWN_RANGE = QuantRule()
_SHARED = SharedQuantRule()

QUANT_RULES: dict[str, QuantRule] = {
    "conv2d": WeightedRule(channel_axis=0),
    "depthwise_conv2d": WeightedRule(channel_axis=3),
    "fully_connected": WeightedRule(channel_axis=0),
    "add": _OWN_RANGE,
    "sub": _OWN_RANGE,
    "mul": _OWN_RANGE,
    "mean": _OWN_RANGE,
    "clip": _OWN_RANGE,
    "average_pool2d": _SHARED,
    "max_pool2d": _SHARED,
    "reshape": _SHARED,
    "transpose": _SHARED,
    "pad": _SHARED,
    "concat": ConcatRule(),
    "softmax": FixedOutputRule(*SOFTMAX_OUTPUT),
}


class _Builder:
    """Emits the int8 graph from the float graph and its plan."""

    def __init__(self, source: Graph, plan: _Plan) -> None:
        self.source = source
        self.plan = plan
        self.graph = Graph(
            name=source.name, inputs=list(source.inputs), outputs=list(source.outputs)
        )
        self.reserved_tensor_names = set(source.tensors)
        self.reserved_node_names = {node.name for node in source.nodes}
        # Float activation name -> int8 tensor name; differs only at the graph boundary.
        self.int8_names: dict[str, str] = {}
        # Original constant name -> names of its integer versions placed so far.
        self.constant_versions: dict[str, list[str]] = {}
        # (int8 tensor name, scale, zero point) -> its requantized tensor.
        self.requantized: dict[tuple[str, float, int], str] = {}

    def build(self) -> Graph:
        self._name_boundary_tensors()
        self._add_inputs()
        for position, node in enumerate(self.source.nodes):
            self._add_node(node, position)
        self._add_outputs()
        return self.graph

    def _fresh_tensor_name(self, base: str) -> str:
        name, suffix = base, 1
        while name in self.reserved_tensor_names:
            name, suffix = f"{base}_{suffix}", suffix + 1
        self.reserved_tensor_names.add(name)
        return name

    def _fresh_node_name(self, base: str) -> str:
        name, suffix = base, 1
        while name in self.reserved_node_names:
            name, suffix = f"{base}_{suffix}", suffix + 1
        self.reserved_node_names.add(name)
        return name

    def _boundary_outputs(self) -> list[str]:
        """Float32 graph outputs that need a dequantize node (not graph inputs themselves)."""
        names = dict.fromkeys(self.source.outputs)
        return [
            name
            for name in names
            if self.plan.is_activation(name) and name not in self.source.inputs
        ]

    def _name_boundary_tensors(self) -> None:
        for name in self.source.inputs:
            if self.plan.is_activation(name):
                self.int8_names[name] = self._fresh_tensor_name(f"{name}_int8")
        for name in self._boundary_outputs():
            self.int8_names[name] = self._fresh_tensor_name(f"{name}_int8")

    def _add_inputs(self) -> None:
        for name in self.source.inputs:
            tensor = self.source.tensors[name]
            self.graph.add_tensor(Tensor(name, tensor.shape, tensor.dtype))
            if not self.plan.is_activation(name):
                continue
            int8_name = self.int8_names[name]
            self._add_int8_tensor(int8_name, tensor.shape, self.plan.quant[name])
            node_name = self._fresh_node_name(f"{name}_quantize")
            self.graph.nodes.append(Node("quantize", node_name, [name], [int8_name]))

    def _add_outputs(self) -> None:
        for name in self._boundary_outputs():
            tensor = self.source.tensors[name]
            self.graph.add_tensor(Tensor(name, tensor.shape, "float32"))
            node_name = self._fresh_node_name(f"{name}_dequantize")
            self.graph.nodes.append(Node("dequantize", node_name, [self.int8_names[name]], [name]))

    def _add_node(self, node: Node, position: int) -> None:
        inputs = [
            self._input_name(node, position, index, name) for index, name in enumerate(node.inputs)
        ]
        outputs = [self._output_name(name) for name in node.outputs]
        self.graph.nodes.append(Node(node.op, node.name, inputs, outputs, dict(node.attrs)))

    def _input_name(self, node: Node, position: int, index: int, name: str) -> str:
        if not name:
            return ""
        tensor = self.source.tensors[name]
        if self.plan.is_activation(name):
            int8_name = self.int8_names.get(name, name)
            target = self.plan.requantize.get((position, index))
            return self._requantize(int8_name, target) if target is not None else int8_name
        if tensor.is_constant and tensor.dtype == "float32":
            rule = QUANT_RULES[node.op]
            return self._place_constant(rule.constant_input(self.plan, node, index, tensor))
        return self._copy_tensor(name)

    def _output_name(self, name: str) -> str:
        if not self.plan.is_activation(name):
            return self._copy_tensor(name)
        int8_name = self.int8_names.get(name, name)
        self._add_int8_tensor(int8_name, self.source.tensors[name].shape, self.plan.quant[name])
        return int8_name

    def _add_int8_tensor(self, name: str, shape: tuple[int, ...], quant: Quant) -> None:
        self.graph.add_tensor(Tensor(name, shape, "int8", quant=replace(quant)))

    def _copy_tensor(self, name: str) -> str:
        """Copy an integer tensor unchanged (integer inputs, integer constants)."""
        if name not in self.graph.tensors:
            tensor = self.source.tensors[name]
            data = None if tensor.data is None else tensor.data.copy()
            self.graph.add_tensor(Tensor(name, tensor.shape, tensor.dtype, data))
        return name

    def _place_constant(self, tensor: Tensor) -> str:
        """Add an integer constant, reusing an identical version of the same original name.

        A float constant shared by several nodes can need different integer versions (a
        bias shared by convs with different input scales). The first keeps the name.
        """
        versions = self.constant_versions.setdefault(tensor.name, [])
        for name in versions:
            if _same_constant(self.graph.tensors[name], tensor):
                return name
        name = tensor.name if not versions else self._fresh_tensor_name(tensor.name)
        self.graph.add_tensor(replace(tensor, name=name))
        versions.append(name)
        return name

    def _requantize(self, int8_name: str, quant: Quant) -> str:
        """Return a tensor holding ``int8_name`` requantized to ``quant``, adding it once."""
        key = (int8_name, float(quant.scale[0]), int(quant.zero_point[0]))
        if key not in self.requantized:
            name = self._fresh_tensor_name(f"{int8_name}_requantized")
            self._add_int8_tensor(name, self.graph.tensors[int8_name].shape, quant)
            node_name = self._fresh_node_name(f"{int8_name}_requantize")
            self.graph.nodes.append(Node("quantize", node_name, [int8_name], [name]))
            self.requantized[key] = name
        return self.requantized[key]


def _same_constant(a: Tensor, b: Tensor) -> bool:
    return (
        a.dtype == b.dtype
        and a.quant is not None
        and a.quant.same_as(b.quant)
        and a.quant.axis == b.quant.axis
        and np.array_equal(a.data, b.data)
    )
