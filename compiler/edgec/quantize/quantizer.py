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
2. Build: emit the int8 graph. Constants become int8 weights per channel (int4 weights per
   channel or per group where the layer's ``LayerSettings`` ask for 4 bits), int32 biases, or
   int8 per-tensor values. Concat inputs whose parameters differ from the common ones get an
   int8-to-int8 ``quantize`` (requantize) node. Each float32 graph input feeds a new
   ``quantize`` node, and each float32 graph output comes from a new ``dequantize`` node.

int16 activations: a weighted layer whose ``LayerSettings.activation_bits`` is 16 reads and
writes int16 tensors (symmetric, zero point 0, ``int16_activation_quant``) with int8 weights
and an int64 bias, as TFLite's 16x8 mode. The plan gives its input and output tensors int16
parameters besides their int8 ones. The builder computes such an output as int16 (tensor
``<name>_int16``), and it adds one ``quantize`` node per tensor where an int16 value meets an
int8 reader (``<name>_to_int8``) or an int8 value meets a 16-bit layer (``<name>_to_int16``).
Graph inputs and outputs stay int8 at the boundary, so the float I/O code is unchanged.

Invariants of the result: it passes ``Graph.check()``. Its only float32 tensors are the
float graph inputs and outputs, which keep their names, and the gamma and beta constants of
layer_norm (the lowering turns them into integers). Integer inputs and tensors (such as
int64 token ids) are copied unchanged.

To support another op, add a ``QuantRule`` for it to ``QUANT_RULES``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np

from edgec.errors import QuantizationError
from edgec.ir import Graph, Node, Quant, Tensor
from edgec.ir.ops import FILTER_CHANNEL_AXIS
from edgec.quantize.config import LayerSettings
from edgec.quantize.params import (
    GROUP_MULTIPLIER_MAX,
    L2_NORMALIZE_OUTPUT,
    SOFTMAX_OUTPUT,
    accumulator_weight_scales,
    activation_quant,
    fixed_quant,
    int4_group_size,
    int16_activation_quant,
    quantize_bias,
    quantize_values,
    quantize_weights,
    quantize_weights_int4,
    round_half_away,
)


def quantize_graph(
    float_graph: Graph,
    ranges: dict[str, tuple[float, float]],
    settings: Callable[[Node], LayerSettings] | None = None,
    weight_overrides: Mapping[str, tuple[np.ndarray, Quant]] | None = None,
) -> Graph:
    """Return an int8 copy of ``float_graph`` quantized with the calibration ``ranges``.

    ``ranges`` maps every non-constant float32 tensor to its observed ``(min, max)``, as
    ``collect_ranges`` returns it. ``settings`` gives each node's ``LayerSettings`` (weight
    granularity); by default every node gets the defaults. ``float_graph`` is not modified.
    Raises QuantizationError for ops without a quantization rule, an already quantized
    graph, a missing range, or a NaN or infinite weight or bias.

    ``weight_overrides`` maps a filter tensor name to integer values (the filter's shape)
    and their ``Quant``, which replace the quantizer's rounding of that filter (GPTQ,
    ``edgec.quantize.methods.gptq``). The bias is then quantized with their scales.
    """
    _check_float_graph(float_graph)
    plan = _Plan(float_graph, ranges, settings or (lambda node: LayerSettings()))
    plan.weight_overrides = dict(weight_overrides or {})
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

    def __init__(
        self,
        graph: Graph,
        ranges: dict[str, tuple[float, float]],
        settings: Callable[[Node], LayerSettings],
    ) -> None:
        self.graph = graph
        self.ranges = ranges
        self.settings = settings
        # Filter tensor name -> integer values and Quant chosen before quantize_graph.
        self.weight_overrides: dict[str, tuple[np.ndarray, Quant]] = {}
        self.quant: dict[str, Quant] = {}
        # Tensors whose parameters came from their own range, so a concat that is their only
        # consumer may replace them instead of inserting a requantize node.
        self.replaceable: set[str] = set()
        # (node position, input position) -> parameters the input must be requantized to.
        self.requantize: dict[tuple[int, int], Quant] = {}
        # 16-bit layers by node name, the int16 parameters of the tensors they read or
        # write, and their outputs, which are computed as int16.
        self.int16_layers: set[str] = set()
        self.int16_quant: dict[str, Quant] = {}
        self.int16_outputs: set[str] = set()
        # (node name, input index) of the other int16 reads (softmax scores).
        self.int16_reads: set[tuple[str, int]] = set()

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

    def add_int16_layer(self, node: Node) -> None:
        """Make ``node`` read its input 0 and write its outputs as int16."""
        self.int16_layers.add(node.name)
        for name in (node.inputs[0], *node.outputs):
            self.int16_quant[name] = int16_activation_quant(*self.observed_range(name), name=name)
        self.int16_outputs.update(node.outputs)

    def add_int16_output(self, name: str, readers: list[Node]) -> None:
        """Make activation ``name`` int16 for its producer and for ``readers`` (input 0)."""
        self.int16_quant[name] = int16_activation_quant(*self.observed_range(name), name=name)
        self.int16_outputs.add(name)
        self.int16_reads.update((reader.name, 0) for reader in readers)

    def reads_int16(self, node: Node, index: int = 0) -> bool:
        """Return whether input ``index`` of ``node`` is read as int16."""
        return (index == 0 and node.name in self.int16_layers) or (
            (node.name, index) in self.int16_reads
        )

    def input_quant(self, node: Node) -> Quant:
        """Return the parameters of input 0 as ``node`` reads it (int16 or int8)."""
        source = node.inputs[0]
        return self.int16_quant[source] if self.reads_int16(node) else self.quant[source]

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

    Weights become int8 per output channel along ``channel_axis`` (int4 per channel or per
    group when the layer's settings say ``weight_bits = 4``), the bias int32, and the output
    is quantized over its own range. A channel's weight scale is raised when needed so that
    its quantized bias stays within 2**30. A 16-bit layer (``activation_bits = 16``) reads
    and writes int16 and gets an int64 bias, kept within 2**40.
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
        if plan.settings(node).activation_bits == 16:
            plan.add_int16_layer(node)

    def constant_input(self, plan: _Plan, node: Node, index: int, tensor: Tensor) -> Tensor:
        weights = plan.graph.tensors[node.inputs[1]]
        input_scale = float(plan.input_quant(node).scale[0])
        bias_bits = 64 if plan.reads_int16(node) else 32
        settings = plan.settings(node)
        per_tensor = settings.weight_granularity == "per-tensor"
        group_size = None
        if settings.weight_bits == 4 and settings.weight_granularity == "per-group":
            group_size = int4_group_size(weights.shape, self.channel_axis, settings.group_size)
        min_scales = None
        if len(node.inputs) > 2 and node.inputs[2]:
            # A channel whose weights are almost all zero gets a tiny scale. Raising it keeps
            # the bias within BIAS_UNITS_MAX units, so the bias and accumulator cannot overflow.
            # Per-group int4 biases have 255 times more units (scale input_scale * scale / 255).
            bias_values = np.abs(plan.graph.tensors[node.inputs[2]].data.astype(np.float64))
            min_scales = bias_values / (input_scale * BIAS_UNITS_MAX[bias_bits])
            if group_size is not None:
                min_scales = min_scales * GROUP_MULTIPLIER_MAX
        override = plan.weight_overrides.get(weights.name)
        if override is not None:
            values, weights_quant = _fitted_override(
                node, weights, override, self.channel_axis, min_scales, per_tensor
            )
            dtype = "int4" if settings.weight_bits == 4 else "int8"
        elif settings.weight_bits == 4:
            values, weights_quant = quantize_weights_int4(
                weights.data, self.channel_axis, weights.name, min_scales,
                per_tensor=per_tensor, group_size=group_size,
            )
            dtype = "int4"
        else:
            values, weights_quant = quantize_weights(
                weights.data, self.channel_axis, weights.name, min_scales, per_tensor=per_tensor
            )
            dtype = "int8"
        if index == 1:
            return Tensor(tensor.name, tensor.shape, dtype, values, weights_quant)
        bias, bias_quant = quantize_bias(
            tensor.data, input_scale, accumulator_weight_scales(weights_quant), node.name,
            bits=bias_bits,
        )
        return Tensor(tensor.name, tensor.shape, bias.dtype.name, bias, bias_quant)


def _fitted_override(
    node: Node, weights: Tensor, override: tuple[np.ndarray, Quant], axis: int,
    min_scales: np.ndarray | None, per_tensor: bool,
) -> tuple[np.ndarray, Quant]:
    """Return an override's int8 values and Quant, with the bias-fit raise of the scales.

    The override's grid was fixed before the input scale was known. A channel whose scale
    is below ``min_scales`` (a near-zero channel with a large bias) gets the raised scale,
    and its integers are rounded again onto the coarser grid: q * old_scale / new_scale.
    Raises QuantizationError when the shape or channel count does not match the filter.
    """
    values, quant = override
    values = np.asarray(values)
    channels = weights.shape[axis]
    if values.shape != weights.shape or quant.scale.size != channels:
        raise QuantizationError(
            f"node '{node.name}' ({node.op}): the weight override of '{weights.name}' has "
            f"shape {values.shape} and {quant.scale.size} scales, expected {weights.shape} "
            f"and {channels}; compute it from this graph's filter"
        )
    values = values.astype(np.int8)
    if min_scales is None:
        return values, quant
    scales = np.maximum(quant.scale, np.asarray(min_scales, dtype=np.float32))
    if per_tensor:
        scales = np.full_like(scales, scales.max())
    if np.array_equal(scales, quant.scale):
        return values, quant
    ratio = quant.scale.astype(np.float64) / scales.astype(np.float64)
    shape = [1] * values.ndim
    shape[axis] = -1
    rounded = round_half_away(values.astype(np.float64) * ratio.reshape(shape))
    return rounded.astype(np.int8), replace(quant, scale=scales)


class AttentionScoresRule(QuantRule):
    """Rule for batch_matmul: the output is quantized over its own range, as int16 when
    every reader is a softmax (attention scores), whose exponential int8 scores would
    resolve too coarsely."""

    def plan(self, plan: _Plan, node: Node, position: int) -> None:
        super().plan(plan, node, position)
        output = node.outputs[0]
        readers = plan.graph.consumers(output)
        if output in plan.graph.outputs or not readers:
            return
        if all(reader.op == "softmax" and reader.inputs[0] == output for reader in readers):
            plan.add_int16_output(output, readers)


class ResidualAddRule(QuantRule):
    """Rule for add and sub: int8 over the output's own range, except for the residual add
    of a transformer block, whose output only LayerNorms read.

    Transformer residual streams carry a few outlier channels (100x the others), so an int8
    scale covering them leaves the other channels a handful of levels. A residual add
    therefore reads and writes int16 (zero point 0). Its producers write int16 directly
    when every reader of their output takes int16: a fully_connected layer (int8 input,
    int16 output), a layer_norm. Other inputs are converted by a ``quantize`` node, and a
    constant input is quantized to int16.
    """

    def plan(self, plan: _Plan, node: Node, position: int) -> None:
        super().plan(plan, node, position)
        output = node.outputs[0]
        readers = plan.graph.consumers(output)
        if node.op != "add" or output in plan.graph.outputs or not readers or any(
                reader.op != "layer_norm" or reader.inputs[0] != output for reader in readers):
            return
        plan.add_int16_output(output, readers)
        for index, name in enumerate(node.inputs):
            if not plan.is_activation(name):
                continue
            plan.int16_reads.add((node.name, index))
            plan.int16_quant.setdefault(
                name, int16_activation_quant(*plan.observed_range(name), name=name))
            producer = plan.graph.producer(name)
            if producer is not None and producer.op in INT16_OUTPUT_PRODUCERS and all(
                    _reads_int16(plan, reader, name) or reader is node
                    for reader in plan.graph.consumers(name)) and name not in plan.graph.outputs:
                plan.int16_outputs.add(name)

    def constant_input(self, plan: _Plan, node: Node, index: int, tensor: Tensor) -> Tensor:
        if (node.name, index) not in plan.int16_reads and node.outputs[0] not in plan.int16_outputs:
            return super().constant_input(plan, node, index, tensor)
        data = tensor.data
        quant = int16_activation_quant(float(data.min()), float(data.max()), name=tensor.name)
        values = quantize_values(data, quant, dtype=np.int16)
        return Tensor(tensor.name, tensor.shape, "int16", values, quant)


# Producers that may write an int16 output for int16 readers while reading int8 inputs.
INT16_OUTPUT_PRODUCERS = {"fully_connected", "layer_norm"}


def _reads_int16(plan: _Plan, reader: Node, name: str) -> bool:
    return all(plan.reads_int16(reader, index)
               for index, value in enumerate(reader.inputs) if value == name)


class FloatParametersRule(QuantRule):
    """Rule for layer_norm: the output takes its own range, and gamma and beta stay float32
    constants, from which the lowering derives the kernel's integer multipliers."""

    def constant_input(self, plan: _Plan, node: Node, index: int, tensor: Tensor) -> Tensor:
        return Tensor(tensor.name, tensor.shape, "float32", tensor.data.copy())


class GatherRule(SharedQuantRule):
    """Rule for gather: the table is int8 per tensor over its own values, and the output
    shares its parameters, so the kernel copies rows without rescaling."""

    def plan(self, plan: _Plan, node: Node, position: int) -> None:
        data = plan.graph.tensors[node.inputs[0]].data
        quant = activation_quant(float(data.min()), float(data.max()), name=node.inputs[0])
        plan.quant[node.outputs[0]] = quant


# Largest quantized bias magnitude by bias bits: 2**30 keeps the int32 bias and accumulator
# of the int8 kernels from overflowing, and 2**40 leaves the 16x8 kernels' int64 accumulator
# far below the 2**47 that TFLite's int64 requantization accepts.
BIAS_UNITS_MAX = {32: 2.0**30, 64: 2.0**40}

_OWN_RANGE = QuantRule()
_SHARED = SharedQuantRule()

QUANT_RULES: dict[str, QuantRule] = {
    **{op: WeightedRule(channel_axis=axis) for op, axis in FILTER_CHANNEL_AXIS.items()},
    "add": ResidualAddRule(),
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
    "batch_matmul": AttentionScoresRule(),
    "gather": GatherRule(),
    "layer_norm": FloatParametersRule(),
    "gelu": _OWN_RANGE,
    "masked_mean": _OWN_RANGE,
    "l2_normalize": FixedOutputRule(*L2_NORMALIZE_OUTPUT),
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
        # Float activation name -> its int16 tensor, for the tensors a 16-bit layer writes or
        # reads, and the int16 outputs whose int8 conversion exists already.
        self.int16_names: dict[str, str] = {}
        self.converted_to_int8: set[str] = set()

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
            self.graph.nodes.append(Node("dequantize", node_name, [self._int8_view(name)], [name]))

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
            if self.plan.reads_int16(node, index):
                return self._int16_view(name)
            int8_name = self._int8_view(name)
            target = self.plan.requantize.get((position, index))
            return self._requantize(int8_name, target) if target is not None else int8_name
        if tensor.is_constant and tensor.dtype == "float32":
            rule = QUANT_RULES[node.op]
            return self._place_constant(rule.constant_input(self.plan, node, index, tensor))
        return self._copy_tensor(name)

    def _output_name(self, name: str) -> str:
        if not self.plan.is_activation(name):
            return self._copy_tensor(name)
        if name in self.plan.int16_outputs:
            int16_name = self._fresh_tensor_name(f"{name}_int16")
            self._add_int16_tensor(int16_name, name)
            self.int16_names[name] = int16_name
            return int16_name
        int8_name = self.int8_names.get(name, name)
        self._add_int8_tensor(int8_name, self.source.tensors[name].shape, self.plan.quant[name])
        return int8_name

    def _add_int8_tensor(self, name: str, shape: tuple[int, ...], quant: Quant) -> None:
        self.graph.add_tensor(Tensor(name, shape, "int8", quant=replace(quant)))

    def _add_int16_tensor(self, name: str, float_name: str) -> None:
        shape = self.source.tensors[float_name].shape
        quant = replace(self.plan.int16_quant[float_name])
        self.graph.add_tensor(Tensor(name, shape, "int16", quant=quant))

    def _int8_view(self, name: str) -> str:
        """Return the int8 tensor of activation ``name``, converting an int16 output once."""
        int8_name = self.int8_names.get(name, name)
        if name in self.plan.int16_outputs and name not in self.converted_to_int8:
            self._add_int8_tensor(int8_name, self.source.tensors[name].shape, self.plan.quant[name])
            node_name = self._fresh_node_name(f"{name}_to_int8")
            self.graph.nodes.append(
                Node("quantize", node_name, [self.int16_names[name]], [int8_name])
            )
            self.converted_to_int8.add(name)
        return int8_name

    def _int16_view(self, name: str) -> str:
        """Return the int16 tensor of activation ``name``, converting an int8 one once."""
        if name not in self.int16_names:
            int16_name = self._fresh_tensor_name(f"{name}_int16")
            self._add_int16_tensor(int16_name, name)
            node_name = self._fresh_node_name(f"{name}_to_int16")
            self.graph.nodes.append(
                Node("quantize", node_name, [self._int8_view(name)], [int16_name])
            )
            self.int16_names[name] = int16_name
        return self.int16_names[name]

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
