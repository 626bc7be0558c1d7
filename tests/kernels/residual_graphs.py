"""One-node graphs of an int16 residual stream, and their kernel cases.

- fully_connected with an int8 input (any zero point) and an int16 output (zero point 0).
  Its weights are int8 with per-channel scales (or a per-tensor zero point), or int4 per
  channel or per group. Its bias is int32 with scale input_scale * weight_scale.
- add of two int16 tensors of one shape into an int16 output, all with zero point 0.

The call builders below are written from runtime_c/include/edgec/kernels_residual.h. They
build the ``KernelCase`` directly, because the shared builders of ``tests.kernels.calls``
map fully_connected and add nodes to the int8-output kernels. The expected outputs come
from the reference interpreter, as for every kernel case.
"""

from __future__ import annotations

import numpy as np

from edgec.ir import Graph, Node, Quant
from edgec.lower.params import kernel_params
from edgec.quantize.params import accumulator_weight_scales, grouped_weights
from edgec.reference.interpreter import run
from tests.kernels.bench import KernelCase
from tests.kernels.calls import pack_int4_rows
from tests.kernels.graphs import GraphBuilder, per_tensor, random_int8
from tests.kernels.int4_graphs import int4_filter

INT16_MIN, INT16_MAX = -32768, 32767
# Without an explicit output scale, the largest |real output| lands at this fraction of the
# int16 range, so that few outputs saturate.
OUTPUT_FILL = 0.8
FC_KEYS = ("input_offset", "filter_offset", "output_offset", "activation_min",
           "activation_max")


def random_int16(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.integers(INT16_MIN, INT16_MAX + 1, size=shape).astype(np.int16)


def normal_int16(rng: np.random.Generator, shape, spread: float) -> np.ndarray:
    """Rounded normal int16 values with standard deviation ``spread`` steps, clamped."""
    values = np.rint(rng.normal(0.0, spread, size=shape))
    return np.clip(values, INT16_MIN, INT16_MAX).astype(np.int16)


def residual_case(name: str, graph: Graph, feeds: dict[str, np.ndarray]) -> KernelCase:
    """Return the kernel case of the single node of ``graph`` run on ``feeds``."""
    graph.check()
    (node,) = graph.nodes
    expected = run(graph, feeds)[node.outputs[0]]
    builder = _add_s16_call if node.op == "add" else _fully_connected_s16_call
    macro, fields, arrays = builder(node, graph, feeds)
    return KernelCase(name, macro, fields, arrays, np.ascontiguousarray(expected).tobytes(),
                      graph=graph, feeds=feeds)


# --- call builders -------------------------------------------------------------------------


def _fully_connected_s16_call(node: Node, graph: Graph, feeds: dict):
    params = kernel_params(node, graph)
    filt = graph.tensors[node.inputs[1]]
    output_depth, input_depth = filt.shape
    fields = {
        "params": {key: params[key] for key in FC_KEYS},
        "rows": graph.tensors[node.inputs[0]].size // input_depth,
        "input_depth": input_depth,
        "output_depth": output_depth,
    }
    arrays = {
        "input": np.asarray(feeds[node.inputs[0]], dtype=np.int8),
        "filter": filt.data,
        "multipliers": params.multipliers.astype(np.int32),
        "shifts": params.shifts.astype(np.int32),
    }
    if len(node.inputs) > 2 and node.inputs[2]:
        arrays["bias"] = graph.tensors[node.inputs[2]].data.astype(np.int32)
    if filt.dtype != "int4":
        return "fully_connected_s8_s16", fields, arrays
    arrays["filter"] = pack_int4_rows(filt.data, 0)
    fields["group_size"] = filt.quant.group_size if filt.quant.per_group else 0
    if filt.quant.per_group:
        arrays["group_multipliers"] = filt.quant.group_multipliers.astype(np.uint8)
    return "fully_connected_s8_s4_s16", fields, arrays


def _add_s16_call(node: Node, graph: Graph, feeds: dict):
    fields = {
        "params": dict(kernel_params(node, graph).values),
        "size": graph.tensors[node.outputs[0]].size,
    }
    arrays = {
        "input1": np.asarray(feeds[node.inputs[0]], dtype=np.int16),
        "input2": np.asarray(feeds[node.inputs[1]], dtype=np.int16),
    }
    return "add_s16", fields, arrays


# --- fully_connected with an int16 output --------------------------------------------------


def _int8_filter(rng: np.random.Generator, output_depth: int, input_depth: int, weights,
                 weight_scales, weight_zero_point: int) -> tuple[np.ndarray, Quant]:
    if isinstance(weights, np.ndarray):
        values = weights.astype(np.int8)
    elif weights == "extreme":
        values = rng.choice(np.array([-127, 127], dtype=np.int8), size=(output_depth, input_depth))
    else:
        values = rng.integers(-127, 128, size=(output_depth, input_depth)).astype(np.int8)
    if weight_scales is None:
        weight_scales = rng.uniform(0.002, 0.02, size=output_depth)
    scales = np.broadcast_to(np.asarray(weight_scales, dtype=np.float32), (output_depth,))
    if weight_zero_point:
        return values, per_tensor(float(scales[0]), weight_zero_point)
    return values, Quant(scales.copy(), np.zeros(output_depth, dtype=np.int64), axis=0)


def _fill_scale(inputs: np.ndarray, input_quant, values: np.ndarray, quant: Quant,
                bias: np.ndarray | None) -> float:
    """The output scale that puts the largest |real output| at OUTPUT_FILL of int16's range."""
    centered = inputs.reshape(-1, values.shape[1]).astype(np.float64) - input_quant[1]
    # Zero points are 0 except for a per-tensor filter zero point.
    weights = grouped_weights(values, quant, 0).astype(np.float64) - float(quant.zero_point[0])
    acc = centered @ weights.T + (0.0 if bias is None else bias.astype(np.float64))
    scales = np.float64(np.float32(input_quant[0])) * accumulator_weight_scales(quant)
    largest = float(np.abs(acc * np.broadcast_to(scales, (values.shape[0],))).max(initial=0.0))
    return max(largest / (OUTPUT_FILL * INT16_MAX), 1e-9)


def fully_connected_s16_graph(rng: np.random.Generator, *, input_shape, output_depth,
                              input_quant=(0.05, 0), output_scale=None, input_values=None,
                              weights="random", weight_scales=None, weight_zero_point: int = 0,
                              group_size="int8", multipliers="random", activation=None,
                              bias="random") -> tuple[Graph, dict[str, np.ndarray]]:
    """A fully_connected graph with an int8 input and an int16 output, and its feeds.

    ``group_size`` "int8" gives int8 weights, None int4 weights per channel and a number
    int4 weights per group. ``weights`` is "random", "extreme" (the largest magnitudes
    only) or the values. ``bias`` is "random", None or the int32 values. ``output_scale``
    None picks the scale of ``_fill_scale``.
    """
    input_depth = input_shape[-1]
    rows = int(np.prod(input_shape)) // input_depth
    data = random_int8(rng, input_shape) if input_values is None else input_values
    if group_size == "int8":
        values, quant = _int8_filter(rng, output_depth, input_depth, weights, weight_scales,
                                     weight_zero_point)
        dtype = "int8"
    else:
        values, quant = int4_filter(rng, (output_depth, input_depth), 0, group_size=group_size,
                                    weights=weights, multipliers=multipliers,
                                    weight_scales=weight_scales)
        dtype = "int4"
    if isinstance(bias, str):
        bias = rng.integers(-(2**14), 2**14, size=output_depth)
    bias = None if bias is None else np.asarray(bias, dtype=np.int64).astype(np.int32)
    if output_scale is None:
        output_scale = _fill_scale(data, input_quant, values, quant, bias)

    builder = GraphBuilder()
    x = builder.input("input", np.asarray(data, dtype=np.int8), per_tensor(*input_quant))
    f = builder.constant("filter", values, dtype, quant)
    b = ""
    if bias is not None:
        scales = np.float32(input_quant[0]) * np.broadcast_to(
            accumulator_weight_scales(quant), (output_depth,))
        bias_quant = Quant(scales.astype(np.float32), np.zeros(output_depth, dtype=np.int64),
                           axis=0)
        b = builder.constant("bias", bias, "int32", bias_quant)
    y = builder.output("output", (rows, output_depth), per_tensor(output_scale, 0), "int16")
    builder.graph.nodes.append(
        Node("fully_connected", "fully_connected", [x, f, b], [y], {"activation": activation})
    )
    return builder.graph, builder.feeds


def fully_connected_s16_case(name: str, rng: np.random.Generator, **kwargs) -> KernelCase:
    """The kernel case of ``fully_connected_s16_graph(rng, **kwargs)``."""
    return residual_case(name, *fully_connected_s16_graph(rng, **kwargs))


# --- add of int16 tensors ------------------------------------------------------------------


def add_s16_graph(input1: np.ndarray, input2: np.ndarray, *, scales, output_scale=None,
                  activation=None) -> tuple[Graph, dict[str, np.ndarray]]:
    """An int16 add graph of ``input1 + input2`` (same shapes) and its feeds.

    ``scales`` are the two input scales. ``output_scale`` None covers the sum of the two
    inputs' ranges, as a calibrated residual add does.
    """
    input1 = np.asarray(input1, dtype=np.int16)
    input2 = np.asarray(input2, dtype=np.int16)
    if output_scale is None:
        output_scale = float(scales[0]) + float(scales[1])
    builder = GraphBuilder()
    a = builder.input("input1", input1, per_tensor(scales[0]), dtype="int16")
    b = builder.input("input2", input2, per_tensor(scales[1]), dtype="int16")
    y = builder.output("output", input1.shape, per_tensor(output_scale), "int16")
    builder.graph.nodes.append(Node("add", "add", [a, b], [y], {"activation": activation}))
    return builder.graph, builder.feeds


def add_s16_case(name: str, input1: np.ndarray, input2: np.ndarray, *, in_place: bool = False,
                 **kwargs) -> KernelCase:
    """The kernel case of ``add_s16_graph``; ``in_place`` writes the output over input1."""
    case = residual_case(name, *add_s16_graph(input1, input2, **kwargs))
    if in_place:
        case.macro = "add_s16_in_place"
    return case
