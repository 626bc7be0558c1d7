"""Cross-layer equalization: balance per-channel weight ranges of consecutive layers.

Algorithm (Nagel et al. 2019, "Data-Free Quantization Through Weight Equalization and Bias
Correction", ICCV 2019, arXiv:1906.04721): for two weighted layers A -> B where B alone
reads A's output, y = B(f(A(x))) is unchanged when output channel i of A (weights and
bias) is divided by s_i and the weights of B that read channel i are multiplied by s_i,
provided the fused activation f commutes with positive scaling (no clamp or Relu, see
``layers.commutes_with_scaling``). With r_A_i = max |w| of A's output channel i and
r_B_i = max |w| of B's input channel i, the choice s_i = sqrt(r_A_i * r_B_i) / r_B_i makes
both ranges sqrt(r_A_i * r_B_i). Per-tensor weight quantization then wastes fewer levels on
channels with small ranges. Each round visits every pair in execution order. A layer in a
chain belongs to two pairs, so one pair's step unbalances its neighbor. Repeating the
rounds converges to a state where every pair is balanced at once. The rounds stop when no
factor of a round differs from 1 by more than ``tolerance``, or after ``rounds`` rounds.

Where it applies: the float graph after the graph passes and before ``quantize_model``.
Pairs are conv2d, depthwise_conv2d or fully_connected layers in any combination (for
example conv2d -> depthwise_conv2d, whose channel c * M + m reads input channel c). It needs
no data.

Limits: a pair is skipped when A's output has several readers or is a graph output (residual
additions), or when an op other than a fused activation sits between A and B (pooling,
reshape). It is also skipped when A's fused clamp has a finite non-zero bound (Relu6),
because such a bound would have to be rescaled per channel. A channel whose range is zero,
or negligible next to the largest range of its filter (``layers.NEGLIGIBLE_RANGE``), on
either side keeps factor 1.
Each channel's accumulated factor is clamped to [1e-4, 1e4] to keep the rescaled weights far
from float32 overflow and underflow. The paper's high-bias absorption is not implemented.
edgec quantizes weights per output channel, so dividing an output channel of A by s_i leaves
A's relative rounding error as it was, while B's per-channel ranges and the per-tensor
activation range between A and B do change. The int8 model can become more or less accurate.
"""

from __future__ import annotations

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
    input_channels,
    input_ranges,
    layer_arrays,
    output_ranges,
    scale_input_channels,
    scale_output_channels,
    significant,
    weighted_nodes,
    write_layer,
)

# A chain converges geometrically but slowly. On the MLPerf Tiny keyword_spotting and
# visual_wake_words models, 10 rounds leave every pair's ranges within about 10% of each
# other, and reaching DEFAULT_TOLERANCE takes 45 and 205 rounds. Full convergence gave a
# lower int8 end-output SQNR there (eval data, minmax ranges), so the default stops early.
DEFAULT_ROUNDS = 10
# Rounds stop once no channel factor of a round differs from 1 by more than this.
DEFAULT_TOLERANCE = 1e-3


class _Layer:
    """Float64 working copy of one layer's filter and bias, written back once at the end."""

    def __init__(self, graph: Graph, node: Node) -> None:
        self.node = node
        self.layout = WEIGHTED_LAYERS[node.op]
        self.weights, self.bias = layer_arrays(graph, node)


class _Pair:
    """Two equalized layers and the factors applied to their shared channels so far."""

    def __init__(self, first: _Layer, second: _Layer, channels: int) -> None:
        self.first = first
        self.second = second
        self.factors = np.ones(channels)
        self.clamped = 0
        self.negligible = 0


def equalize_cross_layer(
    graph: Graph, rounds: int = DEFAULT_ROUNDS, tolerance: float = DEFAULT_TOLERANCE
) -> tuple[Graph, list[str]]:
    """Equalize the weight ranges of consecutive weighted layers of the float ``graph``.

    Runs at most ``rounds`` rounds and stops earlier when no factor of a round differs
    from 1 by more than ``tolerance``. Returns a new graph that computes the same float
    function, and one line per equalized or skipped pair plus one line with the number of
    rounds. ``graph`` is not modified. A graph where no weighted layer reads the output of
    another comes back as an unchanged copy with an empty list. Raises QuantizationError
    for ``rounds`` below 1 or a weighted layer whose weights are not float32 constants.
    """
    if rounds < 1:
        raise QuantizationError(
            f"cross-layer equalization: rounds = {rounds} is invalid; pass 1 or more"
        )
    check_float_graph(graph)
    result = copy_graph(graph)
    pairs, changes = _find_pairs(result)
    if not pairs:
        return result, changes

    done, largest_step = 0, 0.0
    while done < rounds:
        largest_step = max(_equalize_pair(pair) for pair in pairs)
        done += 1
        if largest_step <= tolerance:
            break
    layers = {id(pair.first): pair.first for pair in pairs}
    layers.update({id(pair.second): pair.second for pair in pairs})
    for layer in layers.values():
        write_layer(result, layer.node, layer.weights, layer.bias)

    changes += [_describe(pair) for pair in pairs]
    changes.append(
        f"equalization ran {done} rounds, last step changed factors by {largest_step:.2g}"
    )
    return result, changes


def _find_pairs(graph: Graph) -> tuple[list[_Pair], list[str]]:
    """Return the pairs A -> B to equalize, and a line for each weighted A -> B not taken.

    A layer in two pairs (the B of one and the A of the next) gets one shared ``_Layer``.
    """
    layers: dict[int, _Layer] = {}

    def layer(node: Node) -> _Layer:
        return layers.setdefault(id(node), _Layer(graph, node))

    pairs, skipped = [], []
    for second in weighted_nodes(graph):
        first, reason = absorbing_producer(graph, second)
        if first is not None:
            pairs.append(_Pair(layer(first), layer(second), input_channels(graph, second)))
            continue
        producer = graph.producer(second.inputs[0])
        if producer is not None and producer.op in WEIGHTED_LAYERS:
            skipped.append(f"skipped '{producer.name}' -> '{second.name}': {reason}")
    return pairs, skipped


def _equalize_pair(pair: _Pair) -> float:
    """Apply one equalization step to ``pair`` and return its largest |s - 1|."""
    first, second = pair.first, pair.second
    first_ranges = output_ranges(first.weights, first.layout)
    second_ranges = input_ranges(second.weights, second.layout, len(pair.factors))

    usable = significant(first_ranges) & significant(second_ranges)
    pair.negligible = int(np.count_nonzero(~usable))
    factors = np.ones_like(pair.factors)
    factors[usable] = np.sqrt(first_ranges[usable] / second_ranges[usable])
    factors, clamped = clamp_factors(factors, pair.factors)
    pair.clamped = max(pair.clamped, clamped)

    first.weights, first.bias = scale_output_channels(
        first.weights, first.bias, first.layout, 1.0 / factors
    )
    second.weights = scale_input_channels(second.weights, second.layout, factors)
    pair.factors *= factors
    return float(np.max(np.abs(factors - 1.0), initial=0.0))


def _describe(pair: _Pair) -> str:
    name = f"'{pair.first.node.name}' -> '{pair.second.node.name}'"
    channels = len(pair.factors)
    if pair.negligible == channels:
        return f"skipped {name}: every channel has a zero or negligible weight range"
    line = (
        f"equalized {name}: {channels} channels, factors s in "
        f"[{pair.factors.min():.3g}, {pair.factors.max():.3g}]"
    )
    if pair.negligible:
        line += f"; {pair.negligible} of {channels} channels kept s = 1"
        line += " (zero or negligible range)"
    if pair.clamped:
        line += f"; {pair.clamped} of {channels} channels clamped"
        line += f" to [{MIN_FACTOR:g}, {MAX_FACTOR:g}]"
    return line
