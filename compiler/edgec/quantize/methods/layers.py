"""Weighted-layer helpers shared by the float-graph quantization methods.

The methods rescale channels of conv2d, depthwise_conv2d and fully_connected layers and
rewrite their biases. This module contains what they share. ``WEIGHTED_LAYERS`` gives the
filter layout of each weighted op, and helpers compute per-channel weight ranges, rescale
channels and find a producer that can absorb a per-channel scale. ``copy_graph`` and
``set_constant`` replace constants without touching the source graph, and
``iterate_samples`` runs the float graph over calibration samples.

Channel conventions: a weighted layer's output channels are the last axis of its output
tensor, and its input channels are the last axis of its input tensor (NHWC activations, and
fully_connected rows). Along the filter's input axis, a conv2d or fully_connected filter has
one index per input channel, while a depthwise_conv2d filter has ``M`` consecutive indices
(``c * M + m``) per input channel ``c``. Helpers find that group size from the shapes, so
adding a weighted op is one ``WEIGHTED_LAYERS`` entry.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

import numpy as np

from edgec.errors import CalibrationError, QuantizationError
from edgec.ir import Graph, Node, Tensor
from edgec.quantize.calibration import load_calibration
from edgec.quantize.padding import real_token_rows, token_mask_name
from edgec.reference.interpreter import run

# Bounds of one channel's accumulated rescaling factor. A factor outside them means a
# channel range that is tiny on one side and large on the other. Clamping keeps rescaled
# weights and biases far from float32 overflow and underflow, at the cost of leaving that
# channel less balanced.
MIN_FACTOR = 1e-4
MAX_FACTOR = 1e4

# A channel whose weight range is below this fraction of the largest channel range of the
# same filter counts as zero. Such channels occur in trained models where weight decay left
# an unused channel with weights near 1e-30. Its output is then just its bias, and scaling
# its weights up would turn that constant into a large activation that sets the per-tensor
# activation scale.
NEGLIGIBLE_RANGE = 1e-6


@dataclass(frozen=True)
class LayerLayout:
    """Axes of a weighted op's filter: the output-channel axis and the input-channel axis."""

    output_axis: int
    input_axis: int


WEIGHTED_LAYERS: dict[str, LayerLayout] = {
    "conv2d": LayerLayout(output_axis=0, input_axis=3),  # OHWI
    "depthwise_conv2d": LayerLayout(output_axis=3, input_axis=3),  # 1HW(C*M)
    "fully_connected": LayerLayout(output_axis=0, input_axis=1),  # (O, I)
}


def is_weighted(node: Node) -> bool:
    return node.op in WEIGHTED_LAYERS


def weighted_nodes(graph: Graph) -> list[Node]:
    """Return the weighted layers of ``graph`` in execution order."""
    return [node for node in graph.nodes if is_weighted(node)]


def check_float_graph(graph: Graph) -> None:
    """Raise QuantizationError unless every weighted layer has float32 constant weights.

    The methods rewrite float weights before quantization, so a tensor that already has
    quantization parameters is rejected too.
    """
    for tensor in graph.tensors.values():
        if tensor.quant is not None:
            raise QuantizationError(
                f"tensor '{tensor.name}' already has quantization parameters; the "
                "quantization methods take a float graph, so pass the model before quantize_model"
            )
    for node in weighted_nodes(graph):
        for role, name in (("filter", node.inputs[1]), ("bias", bias_name(node))):
            tensor = graph.tensors.get(name) if name else None
            if name and (tensor is None or not tensor.is_constant or tensor.dtype != "float32"):
                raise QuantizationError(
                    f"node '{node.name}' ({node.op}): {role} '{name}' is not a float32 "
                    "constant; the quantization methods rewrite only constant float weights"
                )


def bias_name(node: Node) -> str:
    """Return the node's bias tensor name, or "" when it has none."""
    return node.inputs[2] if len(node.inputs) > 2 else ""


def copy_graph(graph: Graph) -> Graph:
    """Return a copy of ``graph`` with new nodes and tensors that share the arrays.

    Callers replace a tensor with ``set_constant`` instead of writing into its array, so the
    shared arrays of ``graph`` are never modified.
    """
    nodes = [
        Node(node.op, node.name, list(node.inputs), list(node.outputs), dict(node.attrs))
        for node in graph.nodes
    ]
    tensors = {name: replace(tensor) for name, tensor in graph.tensors.items()}
    return Graph(
        tensors=tensors,
        nodes=nodes,
        inputs=list(graph.inputs),
        outputs=list(graph.outputs),
        name=graph.name,
    )


def set_constant(graph: Graph, node: Node, index: int, data: np.ndarray) -> None:
    """Replace constant input ``index`` of ``node`` with float32 ``data``.

    A tensor that another input slot also reads (a shared constant) is left as it is, and
    ``node`` gets a new tensor under a fresh name.
    """
    name = node.inputs[index]
    old = graph.tensors[name]
    readers = sum(other.inputs.count(name) for other in graph.nodes)
    if readers > 1 or name in graph.outputs:
        name = graph.unique_name(name)
        node.inputs[index] = name
    graph.tensors[name] = Tensor(name, old.shape, "float32", np.asarray(data, np.float32))


def output_ranges(weights: np.ndarray, layout: LayerLayout) -> np.ndarray:
    """Return max |w| of each output channel, in float64."""
    channels = np.moveaxis(np.abs(weights.astype(np.float64)), layout.output_axis, 0)
    return channels.reshape(channels.shape[0], -1).max(axis=1, initial=0.0)


def input_ranges(weights: np.ndarray, layout: LayerLayout, channels: int) -> np.ndarray:
    """Return max |w| of each of the ``channels`` input channels, in float64."""
    columns = np.moveaxis(np.abs(weights.astype(np.float64)), layout.input_axis, 0)
    per_index = columns.reshape(columns.shape[0], -1).max(axis=1, initial=0.0)
    return per_index.reshape(channels, -1).max(axis=1)


def significant(ranges: np.ndarray) -> np.ndarray:
    """Return a mask of the channel ranges that are not negligible (see NEGLIGIBLE_RANGE)."""
    largest = float(np.max(ranges, initial=0.0))
    return (ranges > 0) & (ranges >= NEGLIGIBLE_RANGE * largest)


def scaled_along(values: np.ndarray, axis: int, factors: np.ndarray) -> np.ndarray:
    """Return ``values`` in float64 with index ``k`` of ``axis`` multiplied by ``factors[k]``."""
    shape = [1] * np.ndim(values)
    shape[axis] = -1
    return np.asarray(values, dtype=np.float64) * np.asarray(factors).reshape(shape)


def scale_output_channels(
    weights: np.ndarray, bias: np.ndarray | None, layout: LayerLayout, factors: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    """Return weights and bias with output channel ``k`` multiplied by ``factors[k]``."""
    scaled_bias = None if bias is None else np.asarray(bias, dtype=np.float64) * factors
    return scaled_along(weights, layout.output_axis, factors), scaled_bias


def scale_input_channels(
    weights: np.ndarray, layout: LayerLayout, factors: np.ndarray
) -> np.ndarray:
    """Return weights with every weight that reads input channel ``c`` times ``factors[c]``."""
    group = weights.shape[layout.input_axis] // len(factors)
    return scaled_along(weights, layout.input_axis, np.repeat(factors, group))


def layer_arrays(graph: Graph, node: Node) -> tuple[np.ndarray, np.ndarray | None]:
    """Return a weighted layer's filter and bias (None when it has none) in float64."""
    weights = graph.tensors[node.inputs[1]].data.astype(np.float64)
    if not bias_name(node):
        return weights, None
    return weights, graph.tensors[bias_name(node)].data.astype(np.float64)


def write_layer(graph: Graph, node: Node, weights: np.ndarray, bias: np.ndarray | None) -> None:
    """Store new float32 filter and bias values (bias only when not None) of ``node``."""
    set_constant(graph, node, 1, weights)
    if bias is not None:
        set_constant(graph, node, 2, bias)


def input_channels(graph: Graph, node: Node) -> int:
    return graph.tensors[node.inputs[0]].shape[-1]


def commutes_with_scaling(activation) -> bool:
    """Return whether the fused clamp ``activation`` commutes with a positive scale.

    clamp(s * x, lo, hi) == s * clamp(x, lo, hi) for every s > 0 exactly when each bound
    is 0 or infinite: no clamp, Relu (0, inf), or a clamp to (-inf, 0]. Relu6 does not.
    """
    if activation is None:
        return True
    return all(bound == 0 or np.isinf(bound) for bound in activation)


def absorbing_producer(graph: Graph, node: Node) -> tuple[Node | None, str]:
    """Find the layer that can absorb a per-channel scale of ``node``'s input.

    Returns ``(producer, "")`` when the input comes from a weighted layer whose fused
    activation commutes with positive scaling and whose output only ``node`` reads.
    Otherwise returns ``(None, reason)``.
    """
    source = node.inputs[0]
    producer = graph.producer(source)
    if producer is None:
        return None, f"its input '{source}' is a graph input"
    if not is_weighted(producer):
        return None, f"its input comes from {producer.op} node '{producer.name}'"
    if source in graph.outputs:
        return None, f"its input '{source}' is also a graph output"
    readers = len(graph.consumers(source))
    if readers != 1:
        return None, f"its input '{source}' has {readers} readers"
    activation = producer.attrs.get("activation")
    if not commutes_with_scaling(activation):
        return None, (
            f"the fused activation {tuple(activation)} of '{producer.name}' does not commute "
            "with per-channel scaling"
        )
    return producer, ""


def clamp_factors(factors: np.ndarray, accumulated: np.ndarray) -> tuple[np.ndarray, int]:
    """Limit ``accumulated * factors`` to [MIN_FACTOR, MAX_FACTOR].

    Returns the adjusted factors and how many channels hit a bound.
    """
    total = accumulated * factors
    bounded = np.clip(total, MIN_FACTOR, MAX_FACTOR)
    return bounded / accumulated, int(np.count_nonzero(bounded != total))


def iterate_samples(
    graph: Graph, feeds: Mapping[str, np.ndarray] | str
) -> Iterator[dict[str, np.ndarray]]:
    """Run the float graph on each calibration sample and yield every computed tensor.

    ``feeds`` is what ``load_calibration`` accepts (a mapping of input name to samples on
    the leading axis, or an .npz path). One sample's activations are in memory at a time.
    """
    feeds = load_calibration(feeds, graph)
    count = len(feeds[graph.inputs[0]]) if graph.inputs else 1
    for index in range(count):
        yield run(graph, {name: feeds[name][index] for name in graph.inputs}, keep_all=True)


def finite_activation(graph: Graph, values: dict[str, np.ndarray], name: str) -> np.ndarray:
    """Return activation ``name`` from ``values``, or raise CalibrationError on NaN or Inf.

    The rows of padding tokens are left out (``edgec.quantize.padding``).
    """
    array = np.asarray(values[name])
    if not np.isfinite(array).all():
        raise CalibrationError(
            f"tensor '{name}' has NaN or Inf values on a calibration sample; check the "
            "calibration data and the model's float weights"
        )
    return real_token_rows(array, values, token_mask_name(graph))
