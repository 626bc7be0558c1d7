"""SmoothQuant: move activation outliers into the weights of the layer that reads them.

Algorithm (Xiao et al. 2023, "SmoothQuant: Accurate and Efficient Post-Training
Quantization for Large Language Models", arXiv:2211.10438): for a weighted layer B with
input X, divide input channel j of X by s_j and multiply the weights of B that read channel
j by s_j, with s_j = max|X_j|^alpha / max|W_B_j|^(1 - alpha). max|X_j| is measured on
calibration data and max|W_B_j| is the largest |w| over B's weights that read channel j.
alpha = 0.5 gives both sides the range sqrt(max|X_j| * max|W_B_j|), and a larger alpha moves
more of the activation range into the weights. A channel with an outlier range then no longer
sets the per-tensor activation scale for all the others.

Where it applies: the float graph after the graph passes and before ``quantize_model``. For
transformers the paper folds the division by s_j into the LayerNorm that produces X, and so
does edgec (``smoothquant_norm``). Otherwise the division is folded into the producer A of
X: output channel j of A, weights and bias, is divided by s_j. A must be a weighted layer (conv2d,
depthwise_conv2d or fully_connected) that only B reads. Its fused activation must be no
clamp or a Relu (``layers.commutes_with_scaling``).

Limits: a layer whose input comes from a graph input, from another op (add, pooling,
reshape), from a layer with a Relu6 clamp, or that has other readers is left alone and
listed as skipped. A channel with max|X_j| = 0, or with max|W_B_j| zero or negligible next
to the largest of B (``layers.NEGLIGIBLE_RANGE``), keeps factor 1. Each s_j
is clamped to [1e-4, 1e4] to keep the rescaled weights far from float32 overflow and
underflow. The statistics come from the input graph, so each layer's s_j is computed from
X as it was before any smoothing.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from edgec.errors import QuantizationError
from edgec.ir import Graph, Node
from edgec.quantize.methods.layers import (
    MAX_FACTOR,
    MIN_FACTOR,
    WEIGHTED_LAYERS,
    absorbing_producer,
    check_float_graph,
    clamp_factors,
    copy_graph,
    finite_activation,
    input_channels,
    input_ranges,
    iterate_samples,
    layer_arrays,
    scale_input_channels,
    scale_output_channels,
    significant,
    weighted_nodes,
    write_layer,
)
from edgec.quantize.methods.smoothquant_norm import norm_groups, smooth_group

DEFAULT_ALPHA = 0.5


def smooth_activations(
    graph: Graph, feeds: Mapping[str, np.ndarray] | str, alpha: float = DEFAULT_ALPHA
) -> tuple[Graph, list[str]]:
    """Apply SmoothQuant with migration strength ``alpha`` to the float ``graph``.

    ``feeds`` are calibration samples, as ``load_calibration`` accepts them. Returns a new
    graph that computes the same float function, and one line per smoothed or skipped
    layer. ``graph`` is not modified, and a graph without weighted layers comes back as an
    unchanged copy with an empty list. Raises QuantizationError for an ``alpha`` outside
    [0, 1] or weights that are not float32 constants, and CalibrationError for invalid
    feeds or NaN/Inf activations.
    """
    alpha = _check_alpha(alpha)
    check_float_graph(graph)
    result = copy_graph(graph)
    pairs, changes = [], []
    groups = norm_groups(result)
    grouped = {layer.name for group in groups for layer in group.layers}
    for node in weighted_nodes(result):
        if node.name in grouped:
            continue
        producer, reason = absorbing_producer(result, node)
        if producer is None:
            changes.append(f"skipped '{node.name}': {reason}")
        else:
            pairs.append((producer, node))
    if not pairs and not groups:
        return result, changes

    # The copy has the same activation names and values, so the input graph is observed.
    observed = [node.inputs[0] for _, node in pairs] + [group.activation for group in groups]
    maxima = _channel_max_abs(graph, feeds, list(dict.fromkeys(observed)))
    for group in groups:
        changes.append(smooth_group(result, group, maxima[group.activation], alpha))
    for producer, node in pairs:
        activation_max = maxima[node.inputs[0]]
        changes.append(_smooth_pair(result, producer, node, activation_max, alpha))
    return result, changes


def _check_alpha(alpha: float) -> float:
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise QuantizationError(
            f"SmoothQuant alpha = {alpha!r} is outside [0, 1]; pass a migration strength "
            "between 0 (no change to activations) and 1 (all activation range into the "
            "weights), typically 0.5"
        )
    return value


def _channel_max_abs(
    graph: Graph, feeds: Mapping[str, np.ndarray] | str, names: list[str]
) -> dict[str, np.ndarray]:
    """Return the per-channel (last axis) max |x| of activations ``names`` over ``feeds``."""
    maxima = {name: np.zeros(graph.tensors[name].shape[-1]) for name in names}
    for values in iterate_samples(graph, feeds):
        for name in names:
            array = np.abs(finite_activation(graph, values, name).astype(np.float64))
            channel_max = array.reshape(-1, array.shape[-1]).max(axis=0)
            np.maximum(maxima[name], channel_max, out=maxima[name])
    return maxima


def _smooth_pair(
    graph: Graph, producer: Node, node: Node, activation_max: np.ndarray, alpha: float
) -> str:
    """Rescale the channels between ``producer`` and ``node`` and return the change line."""
    layout = WEIGHTED_LAYERS[node.op]
    weights, _ = layer_arrays(graph, node)
    channels = input_channels(graph, node)
    weight_max = input_ranges(weights, layout, channels)

    usable = (activation_max > 0) & significant(weight_max)
    factors = np.ones(channels)
    factors[usable] = activation_max[usable] ** alpha / weight_max[usable] ** (1.0 - alpha)
    factors, clamped = clamp_factors(factors, np.ones(channels))

    name = f"'{producer.name}' -> '{node.name}'"
    if not usable.any():
        return f"skipped {name}: no channel has both a non-zero activation and weight range"
    producer_weights, producer_bias = layer_arrays(graph, producer)
    producer_weights, producer_bias = scale_output_channels(
        producer_weights, producer_bias, WEIGHTED_LAYERS[producer.op], 1.0 / factors
    )
    write_layer(graph, producer, producer_weights, producer_bias)
    write_layer(graph, node, scale_input_channels(weights, layout, factors), None)
    line = (
        f"smoothed {name}: {channels} channels, factors s in "
        f"[{factors.min():.3g}, {factors.max():.3g}]"
    )
    unused = channels - int(np.count_nonzero(usable))
    if unused:
        line += f"; {unused} of {channels} channels kept s = 1 (zero or negligible range)"
    if clamped:
        line += f"; {clamped} of {channels} channels clamped to [{MIN_FACTOR:g}, {MAX_FACTOR:g}]"
    return line
