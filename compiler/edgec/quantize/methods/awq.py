"""AWQ: scale up the weights of input channels with large activations before rounding.

Algorithm (Lin, Tang, Tang, Yang, Dang, Gan and Han, "AWQ: Activation-aware Weight
Quantization for LLM Compression and Acceleration", arXiv:2306.00978, MLSys 2024): the
weights that multiply large activations matter most to a layer's output. Multiplying the
weights that read input channel j by s_j > 1 and dividing channel j of the input by s_j
keeps the float output, but shrinks the relative rounding error of those weights, because
the channel scale (max|w| of the output channel) grows less than they do. AWQ takes
s_j = mean|X_j|^alpha, normalised by sqrt(max(s) * min(s)), and searches alpha over a grid
(0, 0.05, ..., 1 by default) for the least output error of the layer on calibration data.
alpha = 0 gives s = 1, which is round to nearest (RTN), so the chosen alpha never has a
larger output error than RTN on that layer's calibration inputs.

The error of a candidate is the mean squared error of the layer's output without bias and
activation, W X - (Q(W diag(s)) diag(1/s)) X, over all output positions and calibration
samples. Q is the quantizer's round trip with the layer's bits, granularity and group
size (``params.round_trip_weights``). The error is computed exactly from the input's second
moment X X^T (``gptq.LayerInputs``), so one float run of the calibration samples serves
every candidate.

Where it applies: the fully_connected layers that read a LayerNorm (one alpha per
LayerNorm for all of them, the scales folded into its gamma and beta, as for SmoothQuant:
``smoothquant_norm``), and a conv2d, depthwise_conv2d or fully_connected layer B named in
``layers`` whose input comes from a producer A that can absorb a per-channel scale
(``layers.absorbing_producer``). A must be a weighted layer with a Relu or no clamp, and
only B may read its output. The division by s_j is folded into output channel j of A (weights and
bias), so the float function is unchanged. It runs on the float graph after SmoothQuant
and before bias correction and calibration. Layers are processed in reverse execution
order, so the search of each layer works on its final output channels, with the scales of
its own consumer already folded in. The statistics come from the input graph: the scale of B
divides its input, and no other step changes that input.

Limits: the reference code (github.com/mit-han-lab/llm-awq, awq/quantize/auto_scale.py)
scales the linear layers of transformer blocks, searches alpha over 0, 0.05, ..., 0.95, and
then searches a weight clipping range per layer. This module searches only the scales, and
includes alpha = 1. Activation quantization
is not modelled, so a scale that lowers the weight error can widen the int8 range of the
layer's input. A depthwise_conv2d layer with per-channel or per-group scales gains nothing,
because each of its output channels reads one input channel, so input scaling is output
scaling, which the per-channel grid follows. A layer without an absorbing producer, or
with all-zero weights, is left alone and listed. A channel with mean|X_j| = 0 keeps s_j = 1,
and every s_j is clamped to [1e-4, 1e4] (``layers.clamp_factors``).

Cost: one float run of the calibration samples, the sums X X^T of every selected layer
(O(n K^2) each), and per layer and alpha one round trip of the weights plus
O(O K^2) for the error.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

import numpy as np

from edgec.errors import QuantizationError
from edgec.ir import Graph, Node
from edgec.quantize.config import LayerSettings
from edgec.quantize.methods.gptq import LayerInputs, samples_per_batch
from edgec.quantize.methods.layers import (
    WEIGHTED_LAYERS,
    absorbing_producer,
    check_float_graph,
    clamp_factors,
    copy_graph,
    finite_activation,
    iterate_samples,
    layer_arrays,
    scale_input_channels,
    scale_output_channels,
    weighted_nodes,
    write_layer,
)
from edgec.quantize.methods.smoothquant_norm import NormGroup, fold_factors, norm_groups
from edgec.quantize.params import round_trip_weights, weight_rows

DEFAULT_ALPHAS = tuple(np.round(np.linspace(0.0, 1.0, 21), 2))
# An alpha > 0 is kept only when it lowers the output MSE of RTN by more than this fraction.
# Smaller differences are float rounding (for example a depthwise layer, whose per-channel
# grid follows any input scaling), and scaling for them would only move activation ranges.
MIN_GAIN = 1e-3


def apply_awq(
    graph: Graph,
    feeds: Mapping[str, np.ndarray] | str,
    settings_for: Callable[[Node], LayerSettings] | None = None,
    layers: Collection[str] | None = None,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
) -> tuple[Graph, list[str]]:
    """Search and fold the AWQ input-channel scales of the layers named in ``layers``.

    ``feeds`` are calibration samples, as ``load_calibration`` accepts them. ``settings_for``
    gives each node's ``LayerSettings``, whose weight bits, granularity and group size are
    the rounding the search measures (default: ``LayerSettings()``). ``layers`` defaults to
    every weighted node, and names of nodes without weights are ignored. ``alphas`` is the
    search grid, each value in [0, 1]; 0 is always tried.

    Returns a new graph that computes the same float function and one line per scaled,
    kept or skipped layer. ``graph`` is not modified. Raises QuantizationError for a name in
    ``layers`` that no node has, an alpha outside [0, 1], or weights that are not float32
    constants, and CalibrationError for invalid feeds or NaN/Inf activations.
    """
    check_float_graph(graph)
    alphas = _check_alphas(alphas)
    settings_for = settings_for or (lambda node: LayerSettings())
    result = copy_graph(graph)
    selected = _select_layers(result, layers)
    groups = _norm_groups(result, {node.name for node in selected})
    grouped = {layer.name for group in groups for layer in group.layers}
    pairs, lines = _pairs(result, [node for node in selected if node.name not in grouped])
    if not pairs and not groups:
        return result, lines

    # The copy has the same activation names and values, so the input graph is observed.
    measured = [node for _, node in pairs] + [layer for g in groups for layer in g.layers]
    inputs = _layer_inputs(graph, feeds, measured)
    for group in groups:
        lines.append(_scale_group(result, group, inputs, settings_for, alphas))
    for producer, node in reversed(pairs):
        lines.append(_scale_pair(result, producer, node, inputs[node.name],
                                 settings_for(node), alphas))
    return result, lines


def _norm_groups(graph: Graph, selected: set[str]) -> list[NormGroup]:
    """Return the LayerNorm groups (``smoothquant_norm``) restricted to the selected layers."""
    groups = []
    for group in norm_groups(graph):
        layers = [layer for layer in group.layers if layer.name in selected]
        if layers:
            groups.append(NormGroup(group.norm, layers))
    return groups


def _scale_group(
    graph: Graph, group: NormGroup, inputs: dict[str, LayerInputs],
    settings_for: Callable[[Node], LayerSettings], alphas: list[float],
) -> str:
    """Search one alpha for the layers that read a LayerNorm, by the sum of their output
    MSEs, and fold the scales into the LayerNorm. Return the change line."""
    channel_mean = inputs[group.layers[0].name].channel_mean_abs()
    arrays = {layer.name: layer_arrays(graph, layer)[0] for layer in group.layers}

    def total_error(alpha: float) -> float:
        factors = awq_factors(channel_mean, alpha)
        return sum(awq_output_mse(arrays[layer.name], layer, settings_for(layer),
                                  inputs[layer.name], factors) for layer in group.layers)

    errors = {alpha: total_error(alpha) for alpha in alphas}
    best = min(alphas, key=lambda alpha: (errors[alpha], alpha))
    names = ", ".join(f"'{layer.name}'" for layer in group.layers)
    name = f"'{group.norm.name}' -> {names}"
    if errors[best] >= (1.0 - MIN_GAIN) * errors[0.0]:
        return f"kept {name}: no alpha > 0 lowers the output MSE {errors[0.0]:.3g} of RTN"
    factors = awq_factors(channel_mean, best)
    copied = fold_factors(graph, group, factors)
    return (
        f"scaled {name}: alpha {best:g}, factors s in [{factors.min():.3g}, "
        f"{factors.max():.3g}], output MSE {errors[0.0]:.3g} (RTN) -> {errors[best]:.3g}"
        f"{copied}"
    )


def _check_alphas(alphas: Sequence[float]) -> list[float]:
    values = [float(alpha) for alpha in alphas]
    bad = [alpha for alpha in values if not 0.0 <= alpha <= 1.0]
    if bad:
        raise QuantizationError(
            f"AWQ alphas {bad} are outside [0, 1]; pass grid values between 0 (no scaling) "
            "and 1 (scales proportional to the mean |activation|)"
        )
    return sorted(set(values) | {0.0})


def _select_layers(graph: Graph, names: Collection[str] | None) -> list[Node]:
    layers = weighted_nodes(graph)
    if names is None:
        return layers
    unknown = sorted(set(names) - {node.name for node in graph.nodes})
    if unknown:
        raise QuantizationError(
            f"AWQ: no node named {', '.join(repr(name) for name in unknown)} in the graph; "
            "pass names of the graph's conv2d, depthwise_conv2d or fully_connected nodes"
        )
    return [node for node in layers if node.name in names]


def _pairs(graph: Graph, layers: list[Node]) -> tuple[list[tuple[Node, Node]], list[str]]:
    """Return the (producer, layer) pairs to search, in execution order, and skip lines."""
    pairs, lines = [], []
    for node in layers:
        producer, reason = absorbing_producer(graph, node)
        if producer is None:
            lines.append(f"skipped '{node.name}': {reason}")
        elif not np.any(graph.tensors[node.inputs[1]].data):
            lines.append(f"skipped '{node.name}': all weights are zero")
        else:
            pairs.append((producer, node))
    return pairs, lines


def _layer_inputs(
    graph: Graph, feeds: Mapping[str, np.ndarray] | str, layers: list[Node]
) -> dict[str, LayerInputs]:
    """Return the input statistics of every layer in ``layers`` on the float graph.

    Each layer's inputs are kept until ``samples_per_batch`` samples can be summed at once.
    """
    inputs = {node.name: LayerInputs.empty(graph, node) for node in layers}
    pending: dict[str, list[np.ndarray]] = {node.name: [] for node in layers}
    for values in iterate_samples(graph, feeds):
        for node in layers:
            pending[node.name].append(finite_activation(graph, values, node.inputs[0]))
            if len(pending[node.name]) >= samples_per_batch(graph, node):
                inputs[node.name].add_samples(graph, node, pending[node.name])
                pending[node.name] = []
    for node in layers:
        inputs[node.name].add_samples(graph, node, pending[node.name])
    return inputs


def awq_factors(channel_mean_abs: np.ndarray, alpha: float) -> np.ndarray:
    """Return s_j = mean|X_j|^alpha / sqrt(max(s) * min(s)), clamped to [1e-4, 1e4].

    Channels with mean|X_j| = 0 get 1 and take no part in the normalisation.
    """
    factors = np.ones(len(channel_mean_abs))
    usable = channel_mean_abs > 0
    if usable.any() and alpha > 0:
        powered = channel_mean_abs[usable] ** alpha
        factors[usable] = powered / np.sqrt(powered.max() * powered.min())
    factors, _ = clamp_factors(factors, np.ones(len(factors)))
    return factors


def awq_output_mse(
    weights: np.ndarray, node: Node, settings: LayerSettings, inputs: LayerInputs,
    factors: np.ndarray,
) -> float:
    """Return the layer's output MSE with input-channel scales ``factors`` and rounding."""
    layout = WEIGHTED_LAYERS[node.op]
    scaled = scale_input_channels(weights, layout, factors)
    rounded = round_trip_weights(scaled, layout.output_axis, settings.weight_bits,
                                 settings.weight_granularity, settings.group_size)
    effective = scale_input_channels(rounded, layout, 1.0 / factors)
    error = weight_rows(np.asarray(weights, dtype=np.float64) - effective, layout.output_axis)
    return inputs.output_mse(error)


def _scale_pair(
    graph: Graph, producer: Node, node: Node, inputs: LayerInputs, settings: LayerSettings,
    alphas: list[float],
) -> str:
    """Search the scales of ``node``, fold them into ``producer``; return the change line."""
    weights, _ = layer_arrays(graph, node)
    channel_mean = inputs.channel_mean_abs()
    errors = {
        alpha: awq_output_mse(weights, node, settings, inputs, awq_factors(channel_mean, alpha))
        for alpha in alphas
    }
    best = min(alphas, key=lambda alpha: (errors[alpha], alpha))
    name = f"'{producer.name}' -> '{node.name}'"
    if errors[best] >= (1.0 - MIN_GAIN) * errors[0.0]:
        return f"kept {name}: no alpha > 0 lowers the output MSE {errors[0.0]:.3g} of RTN"

    factors = awq_factors(channel_mean, best)
    producer_weights, producer_bias = layer_arrays(graph, producer)
    producer_weights, producer_bias = scale_output_channels(
        producer_weights, producer_bias, WEIGHTED_LAYERS[producer.op], 1.0 / factors
    )
    write_layer(graph, producer, producer_weights, producer_bias)
    write_layer(graph, node, scale_input_channels(weights, WEIGHTED_LAYERS[node.op], factors),
                None)
    return (
        f"scaled {name}: alpha {best:g}, factors s in [{factors.min():.3g}, "
        f"{factors.max():.3g}], output MSE {errors[0.0]:.3g} (RTN) -> {errors[best]:.3g}"
    )
