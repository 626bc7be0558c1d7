"""GPTQ: round weights one column at a time and let the later columns absorb the error.

Algorithm (Frantar, Ashkboos, Hoefler and Alistarh, "GPTQ: Accurate Post-Training
Quantization for Generative Pre-trained Transformers", arXiv:2210.17323, ICLR 2023, which
builds on Optimal Brain Quantization): a layer computes y = W x, where row c of W (K
values) is output channel c and x is one input patch of K values. Given the input patches
X (K x n) of the calibration samples, GPTQ minimizes ||W X - W_hat X||^2 with the second
moment H = 2 X X^T (K x K). It quantizes column k of every row at once, then spreads the
rounding error over the columns not yet quantized:

    err = (W[:, k] - W_hat[:, k]) / U[k, k];   W[:, k+1:] -= err * U[k, k+1:]

where U is the upper Cholesky factor of H^-1 (U^T U = H^-1). Before the inversion,
``damp`` times the mean diagonal of H is added to the diagonal, so that a rank-deficient H
(few samples, constant or linearly dependent inputs) still has an inverse.

Here the reduction index k runs over each output channel's weights in the memory order of
its layout (``params.weight_rows``). For conv2d (OHWI) k runs over (h, w, i), and the
patches are the im2col patches of the layer's stride, dilation and padding, with 0 for
padding taps. For fully_connected (O, I) k runs over i, and the patches are the input rows.
For depthwise_conv2d (1HW(C*M)) k runs over (h, w), and each input channel has its own
small H, because each output channel reads only its own input channel.

The quantization grid is fixed before GPTQ starts. It comes from the float weights,
computed exactly as the quantizer does (``params.quantize_weights`` or
``quantize_weights_int4`` with the layer's bits, granularity and group size), and consists
of the channel scales s_c and, per group, the multipliers m[c, g]. GPTQ only chooses other
integers on that grid, so the result is a set of integer weights plus the same ``Quant``
that round-to-nearest (RTN) would give. The
quantizer takes them through ``quantize_graph(..., weight_overrides=...)``.

Where it applies: every conv2d, depthwise_conv2d and fully_connected layer named in
``layers``, in execution order, as the last float step before calibration. As in the paper,
each layer takes the inputs of the already quantized model: the float graph runs with the
weights of every earlier weighted layer replaced by their dequantized values (GPTQ values
for GPTQ layers, the RTN round trip of their settings for the others). Activations stay
float in that run. A GPTQ layer whose settings request bias correction gets it here, from
the same inputs: its bias minus the mean output shift (W_hat - W) times the mean patch.

Limits: the columns are quantized in memory order, one at a time. The paper's lazy blocks
of 128 columns, which only make large layers faster, and the reference code's option to
reorder the columns by decreasing H[k, k] are not implemented. A column whose input is 0
on every sample (H[k, k] = 0) gets RTN and passes no error on, while the reference code
(github.com/IST-DASLab/gptq, gptq.py) sets such weights to 0. A layer whose filter another
node also reads, or whose weights are all zero, keeps RTN and is listed. When H plus
damping is not positive definite, the damping grows tenfold, for ``DAMP_ATTEMPTS`` tries in
all, and then the layer (or the depthwise channel) keeps RTN, with a line saying so. The
grid ignores the quantizer's raise of a channel scale that keeps the int32 bias within
2**30 units, because the activation scales are not known yet. The quantizer applies that
raise later and rounds the integers of such a channel (a near-zero channel with a large
bias) again, onto the coarser grid.

Cost: one float run of the calibration samples, node by node over all samples, so the
live activations of every sample are in memory at once. Per GPTQ layer, the sum of the
patch products (O(n K^2)), two Cholesky factorizations and a matrix inverse of size K, and
K rank-one updates of the O x K weights (O(O K^2)).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# Imported for its registrations in FLOAT_KERNELS.
import edgec.reference.float_ops  # noqa: F401
from edgec.errors import QuantizationError
from edgec.ir import Graph, Node, Quant, Tensor
from edgec.quantize.calibration import load_calibration
from edgec.quantize.config import LayerSettings
from edgec.quantize.methods.layers import (
    WEIGHTED_LAYERS,
    bias_name,
    check_float_graph,
    copy_graph,
    finite_activation,
    set_constant,
    weighted_nodes,
)
from edgec.quantize.params import (
    INT4_WEIGHT_MAX,
    WEIGHT_MAX,
    dequantize_weights,
    quantize_weights,
    quantize_weights_int4,
    round_half_away,
    round_trip_weights,
    weight_rows,
)
from edgec.reference.interpreter import FLOAT_KERNELS

# When H + damping has no Cholesky factor, the damping is multiplied by DAMP_GROWTH and
# tried again, DAMP_ATTEMPTS times in all, before the layer falls back to RTN.
DAMP_GROWTH = 10.0
DAMP_ATTEMPTS = 3

# Patch values (float64, so 32 MiB) stacked for one product X^T X. Summing many samples in
# one product is several times faster than one small product per sample.
BATCH_VALUES = 1 << 22

WeightOverrides = dict[str, tuple[np.ndarray, Quant]]


# --- input statistics -------------------------------------------------------------------------


def input_patches(graph: Graph, node: Node, x: np.ndarray) -> np.ndarray:
    """Return the input patches that the rows of ``node``'s filter multiply, in float64.

    fully_connected: (rows, I). conv2d: (positions, kh * kw * I), one im2col patch per output
    position in the filter's (h, w, i) order, padding taps 0. depthwise_conv2d:
    (positions, kh * kw, C), the (h, w) patch of every input channel.
    """
    x = np.asarray(x, dtype=np.float64)
    if node.op == "fully_connected":
        return x.reshape(-1, x.shape[-1])
    kernel = graph.tensors[node.inputs[1]].shape[1:3]
    strides = tuple(node.attrs.get("strides") or (1, 1))
    dilations = tuple(node.attrs.get("dilations") or (1, 1))
    top, left, bottom, right = tuple(node.attrs.get("pads") or (0, 0, 0, 0))
    out_h, out_w = graph.tensors[node.outputs[0]].shape[1:3]
    padded = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    taps = []
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            row, column = i * dilations[0], j * dilations[1]
            taps.append(padded[
                :,
                row: row + (out_h - 1) * strides[0] + 1: strides[0],
                column: column + (out_w - 1) * strides[1] + 1: strides[1],
                :,
            ])
    patches = np.stack(taps, axis=3)  # (N, out_h, out_w, kh * kw, C)
    if node.op == "depthwise_conv2d":
        return patches.reshape(-1, len(taps), x.shape[-1])
    return patches.reshape(-1, len(taps) * x.shape[-1])


def samples_per_batch(graph: Graph, node: Node) -> int:
    """Return how many samples' patches of ``node`` fit in ``BATCH_VALUES`` (at least 1)."""
    weights = graph.tensors[node.inputs[1]]
    reduction = weights.data.size // weights.shape[WEIGHTED_LAYERS[node.op].output_axis]
    if node.op == "depthwise_conv2d":
        reduction *= graph.tensors[node.inputs[0]].shape[-1]
    positions = int(np.prod(graph.tensors[node.outputs[0]].shape[:-1]))
    return max(1, BATCH_VALUES // max(positions * reduction, 1))


@dataclass
class LayerInputs:
    """Sums over a weighted layer's input patches on the calibration samples.

    ``gram`` is the sum of p p^T over the patches p (K x K), or one such matrix per input
    channel of a depthwise_conv2d layer (C x K x K). ``patch_sum`` is the sum of the patches
    (K, or C x K). ``abs_sum`` is the sum of |x| per input channel over the input positions,
    ``rows`` the number of patches and ``positions`` the number of input positions.
    """

    depthwise: bool
    gram: np.ndarray
    patch_sum: np.ndarray
    abs_sum: np.ndarray
    rows: int = 0
    positions: int = 0

    @classmethod
    def empty(cls, graph: Graph, node: Node) -> LayerInputs:
        """Return zero sums for the input of weighted layer ``node``."""
        channels = graph.tensors[node.inputs[0]].shape[-1]
        weights = graph.tensors[node.inputs[1]]
        width = weights.data.size // weights.shape[WEIGHTED_LAYERS[node.op].output_axis]
        groups = (channels,) if node.op == "depthwise_conv2d" else ()
        return cls(
            depthwise=node.op == "depthwise_conv2d",
            gram=np.zeros(groups + (width, width)),
            patch_sum=np.zeros(groups + (width,)),
            abs_sum=np.zeros(channels),
        )

    def add(self, graph: Graph, node: Node, x: np.ndarray) -> None:
        """Add the layer input ``x`` to the sums: one sample, or samples stacked on axis 0."""
        patches = input_patches(graph, node, x)
        if self.depthwise:
            per_channel = np.ascontiguousarray(patches.transpose(2, 0, 1))  # (C, positions, K)
            self.gram += per_channel.transpose(0, 2, 1) @ per_channel
            self.patch_sum += patches.sum(axis=0).T
        else:
            self.gram += patches.T @ patches
            self.patch_sum += patches.sum(axis=0)
        self.rows += len(patches)
        values = np.abs(np.asarray(x, dtype=np.float64)).reshape(-1, self.abs_sum.size)
        self.abs_sum += values.sum(axis=0)
        self.positions += len(values)

    def add_samples(self, graph: Graph, node: Node, samples: Sequence[np.ndarray]) -> None:
        """Add the layer inputs of ``samples``, stacked in batches of ``samples_per_batch``."""
        batch = samples_per_batch(graph, node)
        for start in range(0, len(samples), batch):
            chunk = samples[start:start + batch]
            # Token rows (edgec.quantize.padding) differ in count between samples.
            axis = 0 if len({np.shape(sample) for sample in chunk}) <= 1 else 1
            self.add(graph, node, np.concatenate(chunk, axis=axis))

    def channel_mean_abs(self) -> np.ndarray:
        """Return mean |x| of each input channel."""
        return self.abs_sum / max(self.positions, 1)

    def row_groups(self, output_channels: int) -> list[tuple[slice, np.ndarray, np.ndarray]]:
        """Split the filter rows by the input they read: (rows, mean X X^T, mean patch).

        One group with every row, or for depthwise_conv2d one group of M rows per input
        channel (rows c * M to c * M + M - 1 read input channel c).
        """
        count = max(self.rows, 1)
        if not self.depthwise:
            return [(slice(0, output_channels), self.gram / count, self.patch_sum / count)]
        multiplier = output_channels // len(self.gram)
        return [
            (slice(c * multiplier, (c + 1) * multiplier), self.gram[c] / count,
             self.patch_sum[c] / count)
            for c in range(len(self.gram))
        ]

    def output_mse(self, error_rows: np.ndarray) -> float:
        """Return the mean squared output error of weight error ``error_rows`` (O x K).

        That is the mean over patches and output channels of (e_c . p)^2, computed as
        e_c (X X^T / n) e_c^T, so it is exact on the calibration inputs.
        """
        total = 0.0
        for rows, second_moment, _ in self.row_groups(len(error_rows)):
            errors = error_rows[rows]
            total += float(np.einsum("ck,kl,cl->", errors, second_moment, errors))
        return total / max(len(error_rows), 1)


# --- the fixed grid and the column-by-column rounding -----------------------------------------


@dataclass
class WeightGrid:
    """The quantizer's grid of one filter: RTN values, their ``Quant``, and per value scales.

    ``row_scales`` (O x K, in ``weight_rows`` order) is the real step of each weight: s_c,
    or s_c * m[c, g] / 255 per group. ``max_value`` is 127 for int8 and 7 for int4.
    """

    values: np.ndarray
    quant: Quant
    row_scales: np.ndarray
    max_value: int


def weight_grid(
    weights: np.ndarray, axis: int, settings: LayerSettings, name: str = ""
) -> WeightGrid:
    """Return the grid the quantizer gives ``weights`` (output channel axis ``axis``).

    The bits, granularity and group size come from ``settings``. The channel scales are not
    raised for the bias, as ``WeightedRule`` would do for a near-zero channel with a large bias.
    """
    per_tensor = settings.weight_granularity == "per-tensor"
    if settings.weight_bits == 4:
        group_size = settings.group_size if settings.weight_granularity == "per-group" else None
        values, quant = quantize_weights_int4(
            weights, axis, name, per_tensor=per_tensor, group_size=group_size
        )
        max_value = INT4_WEIGHT_MAX
    else:
        values, quant = quantize_weights(weights, axis, name, per_tensor=per_tensor)
        max_value = WEIGHT_MAX
    unit_steps = dequantize_weights(np.ones(np.shape(weights), dtype=np.int8), quant, axis)
    return WeightGrid(values, quant, weight_rows(unit_steps, axis), max_value)


def inverse_hessian_factor(hessian: np.ndarray, damp: float) -> np.ndarray:
    """Return the upper Cholesky factor U of (H + damping)^-1, so that U^T U = (H + damping)^-1.

    A column with H[k, k] = 0 gets H[k, k] = 1 first, so that it is decoupled from the others.
    The damping is ``damp`` times the mean diagonal. Raises numpy.linalg.LinAlgError when
    the damped matrix is not positive definite.
    """
    hessian = np.array(hessian, dtype=np.float64)
    diagonal = np.diagonal(hessian).copy()
    dead = diagonal == 0
    diagonal[dead] = 1.0
    hessian[dead, :] = 0.0
    hessian[:, dead] = 0.0
    hessian[np.diag_indices_from(hessian)] = diagonal + damp * float(np.mean(diagonal))
    lower = np.linalg.cholesky(hessian)
    lower_inverse = np.linalg.inv(lower)
    inverse = lower_inverse.T @ lower_inverse
    upper = np.linalg.cholesky(inverse).T
    if not np.isfinite(upper).all():
        raise np.linalg.LinAlgError("the inverse Hessian factor has NaN or infinite values")
    return upper


def gptq_rows(
    rows: np.ndarray, hessian: np.ndarray, row_scales: np.ndarray, max_value: int, damp: float
) -> np.ndarray:
    """Quantize ``rows`` (O x K) column by column on a fixed grid with GPTQ error feedback.

    ``hessian`` is X X^T of the K inputs (any positive factor), ``row_scales`` the real step
    of each weight, and the integers are clipped to [-max_value, max_value]. Returns the
    integers (O x K, float64). Raises numpy.linalg.LinAlgError as ``inverse_hessian_factor``.

    The columns are rounded in the order of decreasing diagonal of ``hessian`` (the paper's
    "act order"): the inputs with the most energy are rounded first, while the most columns
    remain to absorb their error. The grid is fixed beforehand, so the order does not change
    which scale a weight uses.
    """
    order = np.argsort(-np.diagonal(hessian), kind="stable")
    upper = inverse_hessian_factor(hessian[np.ix_(order, order)], damp)
    work = np.array(rows, dtype=np.float64)[:, order]
    scales = np.asarray(row_scales)[:, order]
    values = np.zeros_like(work)
    for k in range(work.shape[1]):
        column = work[:, k]
        values[:, k] = np.clip(round_half_away(column / scales[:, k]), -max_value, max_value)
        error = (column - values[:, k] * scales[:, k]) / upper[k, k]
        work[:, k + 1:] -= np.outer(error, upper[k, k + 1:])
    result = np.empty_like(values)
    result[:, order] = values
    return result


def _damped_gptq_rows(
    rows: np.ndarray, hessian: np.ndarray, row_scales: np.ndarray, max_value: int, damp: float
) -> tuple[np.ndarray | None, float]:
    """Run ``gptq_rows`` with growing damping; return (integers or None, last damping)."""
    for _ in range(DAMP_ATTEMPTS):
        try:
            return gptq_rows(rows, hessian, row_scales, max_value, damp), damp
        except np.linalg.LinAlgError:
            damp *= DAMP_GROWTH
    return None, damp / DAMP_GROWTH


# --- one layer --------------------------------------------------------------------------------


@dataclass
class GptqLayer:
    """GPTQ's result for one filter: integers and real values in its shape, and a log line."""

    values: np.ndarray
    dequantized: np.ndarray
    line: str


def _from_rows(rows: np.ndarray, shape: tuple[int, ...], axis: int) -> np.ndarray:
    moved = (shape[axis],) + tuple(d for i, d in enumerate(shape) if i != axis)
    return np.moveaxis(rows.reshape(moved), 0, axis)


def quantize_layer_gptq(
    node: Node, weights: np.ndarray, grid: WeightGrid, inputs: LayerInputs, damp: float
) -> GptqLayer:
    """Quantize the filter ``weights`` of ``node`` with GPTQ on ``grid``.

    ``inputs`` are the layer's input statistics and ``damp`` the starting damping. Rows
    whose damped H has no Cholesky factor (the layer, or one depthwise channel) keep RTN.
    """
    axis = WEIGHTED_LAYERS[node.op].output_axis
    rows = weight_rows(np.asarray(weights, dtype=np.float64), axis)
    rtn_rows = weight_rows(grid.values, axis).astype(np.float64)
    values = rtn_rows.copy()
    failed, largest_damp = 0, damp
    groups = inputs.row_groups(len(rows))
    for selection, second_moment, _ in groups:
        result, used = _damped_gptq_rows(
            rows[selection], second_moment, grid.row_scales[selection], grid.max_value, damp
        )
        largest_damp = max(largest_damp, used)
        if result is None:
            failed += 1
        else:
            values[selection] = result

    rtn_mse = inputs.output_mse(rows - rtn_rows * grid.row_scales)
    gptq_mse = inputs.output_mse(rows - values * grid.row_scales)
    line = (
        f"'{node.name}': {rows.shape[1]} columns, output MSE on the calibration inputs "
        f"{rtn_mse:.3g} (RTN) -> {gptq_mse:.3g} (GPTQ)"
    )
    if largest_damp > damp:
        line += f"; damping raised to {largest_damp:g} of the mean diagonal"
    if failed:
        where = "the layer" if len(groups) == 1 else f"{failed} of {len(groups)} channels"
        line += (
            f"; {where} kept RTN: H plus damping up to {largest_damp:g} of the mean diagonal "
            "is not positive definite"
        )
    integers = _from_rows(values.astype(np.int8), np.shape(weights), axis)
    dequantized = _from_rows(values * grid.row_scales, np.shape(weights), axis)
    return GptqLayer(integers, dequantized, line)


def _bias_shift(node: Node, weights: np.ndarray, dequantized: np.ndarray,
                inputs: LayerInputs) -> np.ndarray:
    """Return the mean output shift E[(W_hat - W) p] per output channel."""
    axis = WEIGHTED_LAYERS[node.op].output_axis
    difference = weight_rows(dequantized - np.asarray(weights, dtype=np.float64), axis)
    shift = np.zeros(len(difference))
    for selection, _, mean_patch in inputs.row_groups(len(difference)):
        shift[selection] = difference[selection] @ mean_patch
    return shift


def _correct_bias(graph: Graph, node: Node, shift: np.ndarray) -> str:
    """Subtract ``shift`` from the bias of ``node`` in ``graph``, adding a zero bias first."""
    added = not bias_name(node)
    if added:
        name = graph.unique_name(f"{node.name}_bias")
        graph.add_tensor(Tensor(name, (len(shift),), "float32", np.zeros(len(shift), np.float32)))
        if len(node.inputs) > 2:
            node.inputs[2] = name
        else:
            node.inputs.append(name)
    bias = graph.tensors[bias_name(node)].data.astype(np.float64)
    set_constant(graph, node, 2, bias - shift)
    line = f"; bias corrected, max |shift| {float(np.max(np.abs(shift), initial=0.0)):.3g}"
    return line + (" (added a zero bias first)" if added else "")


# --- the sequential run -----------------------------------------------------------------------


class _SequentialRun:
    """Runs a float graph node by node over all calibration samples at once.

    Each node runs on every sample before the next node starts, so a layer's inputs on all
    samples are available before its weights are chosen. A tensor is dropped after its last
    reader.
    """

    def __init__(self, graph: Graph, feeds: dict[str, np.ndarray]) -> None:
        self.graph = graph
        count = len(feeds[graph.inputs[0]]) if graph.inputs else 1
        self.samples = [
            {name: np.asarray(feeds[name][index]).reshape(graph.tensors[name].shape)
             for name in graph.inputs}
            for index in range(count)
        ]
        self.last_reader: dict[str, int] = {}
        for position, node in enumerate(graph.nodes):
            for name in node.inputs:
                if name:
                    self.last_reader[name] = position

    def activations(self, name: str) -> list[np.ndarray]:
        return [finite_activation(self.graph, values, name) for values in self.samples]

    def run_node(self, position: int, node: Node, replaced: Mapping[int, np.ndarray]) -> None:
        """Run ``node`` on every sample, with input slot ``i`` taken from ``replaced[i]``."""
        kernel = FLOAT_KERNELS.get(node.op)
        if kernel is None:
            raise QuantizationError(
                f"GPTQ: node '{node.name}' ({node.op}) has no float reference kernel; "
                "GPTQ runs float graphs only"
            )
        for values in self.samples:
            arguments = [self._input(values, index, name, replaced)
                         for index, name in enumerate(node.inputs)]
            for name, result in zip(node.outputs, kernel(node, arguments, self.graph)):
                values[name] = result
            for name in node.inputs:
                if name and self.last_reader.get(name) == position:
                    values.pop(name, None)

    def _input(self, values: dict, index: int, name: str,
               replaced: Mapping[int, np.ndarray]) -> np.ndarray | None:
        if index in replaced:
            return replaced[index]
        if not name:
            return None
        tensor = self.graph.tensors[name]
        return tensor.data if tensor.is_constant else values[name]


# --- the method -------------------------------------------------------------------------------


def quantize_weights_gptq(
    graph: Graph,
    feeds: Mapping[str, np.ndarray] | str,
    settings_for: Callable[[Node], LayerSettings] | None = None,
    layers: Collection[str] | None = None,
) -> tuple[Graph, WeightOverrides, list[str]]:
    """Choose the integer weights of the layers named in ``layers`` with GPTQ.

    ``feeds`` are calibration samples, as ``load_calibration`` accepts them. ``settings_for``
    gives each node's ``LayerSettings``: weight bits, granularity and group size set the
    grid, ``gptq_damp`` the damping, and ``bias_correction`` requests the bias correction of
    a GPTQ layer (default: ``LayerSettings()`` for every node). ``layers`` defaults to every
    weighted node, and names of nodes without weights are ignored.

    Returns a copy of ``graph`` (with corrected biases where requested), the overrides for
    ``quantize_graph`` (filter tensor name -> integer values and their ``Quant``), and one
    line per layer. ``graph`` is not modified. Raises QuantizationError for a name in
    ``layers`` that no node has or for weights that are not float32 constants, and
    CalibrationError for invalid feeds or NaN/Inf activations.
    """
    check_float_graph(graph)
    settings_for = settings_for or (lambda node: LayerSettings())
    result = copy_graph(graph)
    selected = _select_layers(result, layers)
    feeds = load_calibration(feeds, graph)
    overrides: WeightOverrides = {}
    lines: list[str] = []
    if not selected:
        return result, overrides, lines

    run = _SequentialRun(result, feeds)
    for position, node in enumerate(result.nodes):
        replaced = {}
        if node.op in WEIGHTED_LAYERS:
            replaced[1] = _effective_weights(run, result, node, settings_for(node),
                                             node.name in selected, overrides, lines)
        run.run_node(position, node, replaced)
    return result, overrides, lines


def _select_layers(graph: Graph, names: Collection[str] | None) -> set[str]:
    layers = {node.name for node in weighted_nodes(graph)}
    if names is None:
        return layers
    unknown = sorted(set(names) - {node.name for node in graph.nodes})
    if unknown:
        raise QuantizationError(
            f"GPTQ: no node named {', '.join(repr(name) for name in unknown)} in the graph; "
            "pass names of the graph's conv2d, depthwise_conv2d or fully_connected nodes"
        )
    return layers & set(names)


def _effective_weights(
    run: _SequentialRun, graph: Graph, node: Node, settings: LayerSettings, selected: bool,
    overrides: WeightOverrides, lines: list[str],
) -> np.ndarray:
    """Return the float32 weights ``node`` runs with: GPTQ for a selected layer, else RTN."""
    weights = graph.tensors[node.inputs[1]]
    axis = WEIGHTED_LAYERS[node.op].output_axis
    skip = _skip_reason(graph, node) if selected else ""
    if skip:
        lines.append(f"skipped '{node.name}': {skip}; it keeps RTN")
    if not selected or skip:
        rounded = round_trip_weights(weights.data, axis, settings.weight_bits,
                                     settings.weight_granularity, settings.group_size)
        return rounded.astype(np.float32)

    inputs = LayerInputs.empty(graph, node)
    inputs.add_samples(graph, node, run.activations(node.inputs[0]))
    grid = weight_grid(weights.data, axis, settings, weights.name)
    layer = quantize_layer_gptq(node, weights.data, grid, inputs, settings.gptq_damp)
    overrides[weights.name] = (layer.values, grid.quant)
    line = layer.line
    if settings.bias_correction:
        shift = _bias_shift(node, weights.data, layer.dequantized, inputs)
        line += _correct_bias(graph, node, shift)
    lines.append(line)
    return layer.dequantized.astype(np.float32)


def _skip_reason(graph: Graph, node: Node) -> str:
    name = node.inputs[1]
    readers = sum(other.inputs.count(name) for other in graph.nodes)
    if readers > 1:
        return f"its filter '{name}' is read by {readers} inputs"
    if not np.any(graph.tensors[name].data):
        return "all weights are zero"
    return ""
