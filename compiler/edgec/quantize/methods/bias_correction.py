"""Bias correction: remove the mean output shift that weight quantization causes.

Algorithm (the empirical bias correction of Nagel et al. 2019, "Data-Free Quantization
Through Weight Equalization and Bias Correction", arXiv:1906.04721): a layer with float
weights W computes y = W * x + b. With dequantized weights W_hat it computes
y_hat = y + (W_hat - W) * x, so its output shifts on average by e = E[(W_hat - W) * x] per
output channel. The expectation is the mean over calibration samples and over output
positions (all axes but the channel axis). Setting the bias to b - e makes the mean of y_hat
equal the mean of y on the calibration data. The layer is linear in x, so e is computed by
applying the layer (no bias, no fused activation) with weights W_hat - W to the mean input
over samples, then averaging over positions. That is exact, zero padding included.

Where it applies: every conv2d, depthwise_conv2d and fully_connected layer of the float
graph, after the graph passes and after any rescaling method (cross-layer equalization,
SmoothQuant), right before ``quantize_model``. The weights themselves are not changed: the
quantizer must quantize them exactly as ``quantize_fn`` does, otherwise the correction
targets another W_hat.

Limits: layers are corrected in execution order, but each layer's inputs are taken from the
float graph, not from a graph whose earlier layers are already quantized. So the correction
removes the shift from each layer's own weight rounding. Shifts that earlier layers'
quantization carries into its input are not removed. Activation quantization is not modelled.
A layer without bias gets a new zero bias before correction. A layer with all-zero weights,
or whose dequantized weights equal its float weights, is left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

import numpy as np

# Imported for its registrations in FLOAT_KERNELS.
import edgec.reference.float_ops  # noqa: F401
from edgec.errors import QuantizationError
from edgec.ir import Graph, Node, Tensor
from edgec.quantize.methods.layers import (
    WEIGHTED_LAYERS,
    bias_name,
    check_float_graph,
    copy_graph,
    finite_activation,
    iterate_samples,
    set_constant,
    weighted_nodes,
)
from edgec.quantize.params import quantize_weights
from edgec.reference.interpreter import FLOAT_KERNELS

QuantizeFn = Callable[[np.ndarray, int], np.ndarray]


def dequantized_int8_weights(weights: np.ndarray, channel_axis: int) -> np.ndarray:
    """Return ``weights`` after int8 symmetric per-channel quantization and dequantization.

    This is the quantizer's weight rounding (``params.quantize_weights`` along the output
    channel axis), so it is the default ``quantize_fn`` of ``correct_bias``.
    NOTE: the quantizer raises a channel's scale when its int32 bias would not fit in 2**30
    units (channels with almost-zero weights and a large bias). This function does not, so
    the corrected bias of such a channel targets slightly different weights.
    """
    values, quant = quantize_weights(weights, channel_axis)
    shape = [1] * np.ndim(weights)
    shape[channel_axis] = -1
    return values.astype(np.float64) * quant.scale.astype(np.float64).reshape(shape)


def correct_bias(
    graph: Graph,
    feeds: Mapping[str, np.ndarray] | str,
    quantize_fn: QuantizeFn | None = None,
    layers: Collection[str] | None = None,
) -> tuple[Graph, list[str]]:
    """Correct the biases of the float ``graph`` for the rounding of its weights.

    ``feeds`` are calibration samples, as ``load_calibration`` accepts them.
    ``quantize_fn(weights, channel_axis)`` returns the dequantized weights that the
    quantizer will use (default ``dequantized_int8_weights``). ``channel_axis`` is the
    output-channel axis of the filter. ``layers`` names the nodes to correct (default: all
    weighted nodes), and names of nodes without weights are ignored. Returns a new graph
    with corrected (or added) biases and one line per corrected or skipped layer. ``graph``
    is not modified, and a graph without weighted layers comes back as an unchanged copy
    with an empty list. Raises QuantizationError when ``layers`` contains a name that no
    node of the graph has, when ``quantize_fn`` returns an array of another shape or NaN/Inf
    values, or when weights are not float32 constants.
    """
    check_float_graph(graph)
    quantize_fn = quantize_fn or dequantized_int8_weights
    result = copy_graph(graph)
    selected = _select_layers(result, layers)
    if not selected:
        return result, []

    mean_inputs = _mean_inputs(graph, feeds, [node.inputs[0] for node in selected])
    changes = []
    for node in selected:
        changes.append(_correct_layer(result, node, mean_inputs[node.inputs[0]], quantize_fn))
    return result, changes


def _select_layers(graph: Graph, names: Collection[str] | None) -> list[Node]:
    """Return the weighted nodes named in ``names`` (all when None), in graph order.

    Names of nodes without weights are ignored, so a caller may pass any set of nodes.
    """
    layers = weighted_nodes(graph)
    if names is None:
        return layers
    unknown = sorted(set(names) - {node.name for node in graph.nodes})
    if unknown:
        raise QuantizationError(
            f"bias correction: no node named {', '.join(repr(name) for name in unknown)} in "
            "the graph; pass names of the graph's conv2d, depthwise_conv2d or "
            "fully_connected nodes"
        )
    return [node for node in layers if node.name in names]


def _mean_inputs(
    graph: Graph, feeds: Mapping[str, np.ndarray] | str, names: list[str]
) -> dict[str, np.ndarray]:
    """Return the mean over the calibration samples of each activation in ``names``."""
    names = list(dict.fromkeys(names))
    sums = {name: np.zeros(graph.tensors[name].shape) for name in names}
    count = 0
    for values in iterate_samples(graph, feeds):
        for name in names:
            sums[name] += finite_activation(graph, values, name)
        count += 1
    return {name: (total / count).astype(np.float32) for name, total in sums.items()}


def _correct_layer(
    graph: Graph, node: Node, mean_input: np.ndarray, quantize_fn: QuantizeFn
) -> str:
    """Correct the bias of one layer; return its change line."""
    layout = WEIGHTED_LAYERS[node.op]
    weights = graph.tensors[node.inputs[1]].data
    if not np.any(weights):
        return f"skipped '{node.name}': all weights are zero"
    dequantized = _dequantize(quantize_fn, weights, layout.output_axis, node)
    difference = (dequantized - weights.astype(np.float64)).astype(np.float32)
    if not np.any(difference):
        return f"skipped '{node.name}': the quantized weights equal the float weights"

    shift = _mean_output_shift(graph, node, mean_input, difference)
    added = not bias_name(node)
    if added:
        _add_zero_bias(graph, node, len(shift))
    bias = graph.tensors[bias_name(node)].data.astype(np.float64)
    set_constant(graph, node, 2, bias - shift)

    line = (
        f"corrected bias of '{node.name}': mean |shift| {np.mean(np.abs(shift)):.3g}, "
        f"max |shift| {np.max(np.abs(shift)):.3g} over {len(shift)} channels"
    )
    return line + (" (added a zero bias first)" if added else "")


def _dequantize(quantize_fn: QuantizeFn, weights: np.ndarray, axis: int, node: Node) -> np.ndarray:
    dequantized = np.asarray(quantize_fn(weights, axis), dtype=np.float64)
    if dequantized.shape != weights.shape:
        raise QuantizationError(
            f"node '{node.name}': quantize_fn returned shape {dequantized.shape} for weights "
            f"of shape {weights.shape}; it must return the dequantized weights in the same shape"
        )
    if not np.isfinite(dequantized).all():
        raise QuantizationError(
            f"node '{node.name}': quantize_fn returned NaN or Inf values; it must return "
            "finite dequantized weights"
        )
    return dequantized


def _mean_output_shift(
    graph: Graph, node: Node, mean_input: np.ndarray, difference: np.ndarray
) -> np.ndarray:
    """Return E[(W_hat - W) * x] per output channel, from the mean input and W_hat - W."""
    attrs = {key: value for key, value in node.attrs.items() if key != "activation"}
    linear = Node(node.op, node.name, [node.inputs[0], node.inputs[1], ""], node.outputs, attrs)
    (output,) = FLOAT_KERNELS[node.op](linear, [mean_input, difference, None], graph)
    output = np.asarray(output, dtype=np.float64)
    return output.reshape(-1, output.shape[-1]).mean(axis=0)


def _add_zero_bias(graph: Graph, node: Node, channels: int) -> None:
    name = graph.unique_name(f"{node.name}_bias")
    graph.add_tensor(Tensor(name, (channels,), "float32", np.zeros(channels, np.float32)))
    if len(node.inputs) > 2:
        node.inputs[2] = name
    else:
        node.inputs.append(name)
