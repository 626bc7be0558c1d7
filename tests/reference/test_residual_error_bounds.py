"""Error bounds of the int16 residual stream against float: fully_connected with an int8 input
and an int16 output (int8 and int4 weights), and the int16 add.

Each sweep builds one-node quantized graphs over seeded random configurations. They cover
depths 1 to 1536, input zero points -128 to 127 and weight and input scales over several
decades. They also cover per-tensor filter zero points, int4 weights per channel and per
group, layers with and without bias, and output scales from wide to saturating. The sweeps
run the reference interpreter, which the C kernels match bit for bit (tests/kernels), with
double and with single rounding. The error of an output is
|output - clamp(float result / output scale)| in output steps. The float result is computed
in float64 from the dequantized integer tensors, so the error is the requantization's alone.
The asserted bounds are the ones in the docstrings of edgec.reference.int_ops.fully_connected
and add, and at the top of the C kernels.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgec.lower.params import kernel_params
from edgec.quantize.params import accumulator_weight_scales, grouped_weights
from edgec.reference.interpreter import run
from tests.kernels.int4_graphs import GROUP_SIZES
from tests.kernels.random_cases import _log_uniform, _zero_point
from tests.kernels.residual_graphs import (
    add_s16_graph,
    fully_connected_s16_graph,
    normal_int16,
    random_int16,
)

DEPTHS = (1, 7, 16, 33, 100, 384, 1536)
ROUNDINGS = ("double", "single")
# The Q31 rounding of the multipliers moves an output of at most 2**15 steps by 2**-16.
MULTIPLIER_ERROR = 2.0**-16
SWEEP_CONFIGURATIONS = 150


def _float32(value) -> np.float64:
    return np.float64(np.float32(value))


def fully_connected_bound(shifts: np.ndarray, rounding: str) -> np.ndarray:
    """Return the documented error bound per output channel, in output steps."""
    first_rounding = np.where(shifts < 0, 2.0 ** (np.minimum(shifts, 0) - 1), 0.0)
    if rounding == "single":
        first_rounding = np.zeros(shifts.shape)
    return 0.5 + first_rounding + MULTIPLIER_ERROR


def fully_connected_steps(graph, feeds) -> np.ndarray:
    """Compute the float64 layer on the dequantized tensors, in output steps (not clamped)."""
    node = graph.nodes[0]
    source = graph.tensors[node.inputs[0]]
    filt = graph.tensors[node.inputs[1]]
    depth = filt.shape[1]
    inputs = feeds[node.inputs[0]].reshape(-1, depth).astype(np.float64)
    centered = inputs - float(source.quant.zero_point[0])
    weights = grouped_weights(filt.data, filt.quant, 0) - float(filt.quant.zero_point[0])
    acc = centered @ weights.astype(np.float64).T
    if len(node.inputs) > 2 and node.inputs[2]:
        acc = acc + graph.tensors[node.inputs[2]].data.astype(np.float64)
    scales = _float32(source.quant.scale[0]) * accumulator_weight_scales(filt.quant)
    output = graph.tensors[node.outputs[0]]
    return acc * np.broadcast_to(scales, (filt.shape[0],)) / _float32(output.quant.scale[0])


def fully_connected_errors(graph, feeds, rounding: str) -> tuple[np.ndarray, np.ndarray]:
    """Return the errors of the interpreter's outputs and their bounds, both in output steps."""
    graph.requantize_rounding = rounding
    node = graph.nodes[0]
    params = kernel_params(node, graph)
    outputs = run(graph, feeds)[node.outputs[0]].astype(np.float64)
    expected = np.clip(fully_connected_steps(graph, feeds), params["activation_min"],
                       params["activation_max"])
    bounds = np.broadcast_to(fully_connected_bound(params.shifts, rounding), outputs.shape)
    return np.abs(outputs - expected), bounds


def random_fully_connected_graph(rng: np.random.Generator, int4: bool):
    rows, depth = int(rng.integers(1, 5)), int(rng.choice(DEPTHS))
    output_depth = int(rng.integers(1, 9))
    options = {}
    if int4:
        options["group_size"] = GROUP_SIZES[int(rng.integers(len(GROUP_SIZES)))]
    elif rng.random() < 0.2:
        options["weight_zero_point"] = int(rng.integers(-20, 21))
    graph, feeds = fully_connected_s16_graph(
        rng, input_shape=(rows, depth), output_depth=output_depth,
        input_quant=(_log_uniform(rng, 1e-3, 1.0), _zero_point(rng)),
        weight_scales=[_log_uniform(rng, 1e-4, 0.1) for _ in range(output_depth)],
        bias="random" if rng.random() < 0.7 else None, **options,
    )
    # From 30 times the filling scale (outputs of a few steps) to 1/20 (most saturate).
    quant = graph.tensors["output"].quant
    quant.scale[:] = np.float32(quant.scale[0] * _log_uniform(rng, 0.05, 30.0))
    return graph, feeds


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("int4", [False, True], ids=["int8 weights", "int4 weights"])
def test_fully_connected_s16_error_within_bound(rounding, int4):
    rng = np.random.default_rng(5101 + int4)
    worst_ratio, largest = 0.0, 0.0
    for _ in range(SWEEP_CONFIGURATIONS):
        graph, feeds = random_fully_connected_graph(rng, int4)
        errors, bounds = fully_connected_errors(graph, feeds, rounding)

        assert np.all(errors <= bounds), (
            f"error {errors.max():.6f} steps above the bound {bounds.min():.6f}"
        )
        worst_ratio = max(worst_ratio, float((errors / bounds).max()))
        largest = max(largest, float(errors.max()))

    # The sweep reaches the bound: rounding errors close to half a step, and more.
    assert worst_ratio > 0.95
    assert largest > 0.49


def test_fully_connected_s16_double_rounding_exceeds_half_step():
    """With double rounding and shift -1, the error exceeds half a step, as documented."""
    rng = np.random.default_rng(5103)
    graph, feeds = fully_connected_s16_graph(
        rng, input_shape=(64, 64), output_depth=4, input_quant=(0.05, 0),
        weight_scales=0.01, output_scale=float(np.float32(0.05 * 0.01 / 0.3)),
    )

    errors, bounds = fully_connected_errors(graph, feeds, "double")

    assert set(kernel_params(graph.nodes[0], graph).shifts.tolist()) == {-1}
    assert errors.max() > 0.6
    assert np.all(errors <= bounds)


def test_int16_output_error_far_below_int8_output_error():
    """The same layer with an int16 output over the same range has 128 times more steps, so
    the real error is at least 64 times smaller than with an int8 output."""
    rng = np.random.default_rng(5104)
    graph, feeds = fully_connected_s16_graph(rng, input_shape=(32, 384), output_depth=16,
                                             input_quant=(0.04, 5))
    output = graph.tensors["output"]
    scale16 = _float32(output.quant.scale[0])
    errors16, _ = fully_connected_errors(graph, feeds, "double")

    output.dtype = "int8"
    output.quant.scale[:] = np.float32(scale16 * 32767 / 127)
    errors8, _ = fully_connected_errors(graph, feeds, "double")

    real16 = errors16.max() * scale16
    real8 = errors8.max() * _float32(output.quant.scale[0])
    assert real16 * 64 < real8


# --- add -----------------------------------------------------------------------------------


def add_errors(graph, feeds, rounding: str) -> tuple[np.ndarray, float]:
    """Return the errors of the interpreter's int16 add outputs and their bound, in output steps."""
    graph.requantize_rounding = rounding
    node = graph.nodes[0]
    params = kernel_params(node, graph)
    scales = [_float32(graph.tensors[name].quant.scale[0])
              for name in (*node.inputs, node.outputs[0])]
    outputs = run(graph, feeds)[node.outputs[0]].astype(np.float64)
    real = (scales[0] * feeds[node.inputs[0]].astype(np.float64)
            + scales[1] * feeds[node.inputs[1]].astype(np.float64))
    expected = np.clip(real / scales[2], params["activation_min"], params["activation_max"])
    ratio = 2 * max(scales[0], scales[1]) / (2**15 * scales[2])
    first_rounding = 2.0 ** (params["output_shift"] - 1) if rounding == "double" else 0.0
    return np.abs(outputs - expected), 0.5 + 2 * ratio + first_rounding + MULTIPLIER_ERROR


def random_add_graph(rng: np.random.Generator):
    shape = (int(rng.integers(1, 5)), int(rng.integers(1, 100)))
    scale1 = _log_uniform(rng, 1e-6, 1.0)
    scale2 = scale1 * _log_uniform(rng, 1e-5, 1e5) if rng.random() < 0.5 else scale1
    smallest = max(scale1, scale2) / 2**14
    output_scale = max((scale1 + scale2) * _log_uniform(rng, 1e-3, 100.0), smallest * 1.001)
    if rng.random() < 0.5:
        values = (random_int16(rng, shape), random_int16(rng, shape))
    else:
        spread = _log_uniform(rng, 1.0, 30000.0)
        values = (normal_int16(rng, shape, spread), normal_int16(rng, shape, spread))
    return add_s16_graph(*values, scales=(scale1, scale2), output_scale=output_scale)


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_add_s16_error_within_bound(rounding):
    rng = np.random.default_rng(5105)
    worst_ratio = 0.0
    for _ in range(SWEEP_CONFIGURATIONS * 2):
        graph, feeds = random_add_graph(rng)
        errors, bound = add_errors(graph, feeds, rounding)

        assert np.all(errors <= bound), f"error {errors.max():.6f} steps above {bound:.6f}"
        worst_ratio = max(worst_ratio, float(errors.max() / bound))

    assert worst_ratio > 0.95


def test_add_s16_error_grows_with_output_multiplier():
    """At the smallest accepted output scale (R just below 1), the rounding of the input
    rescalings shows. The error exceeds half a step but stays within 0.5 + 2R + 2**(s - 1)."""
    rng = np.random.default_rng(5106)
    graph, feeds = add_s16_graph(rng.integers(-2, 3, size=500), rng.integers(-3, 4, size=500),
                                 scales=(1e-2, 3e-3), output_scale=1e-2 / 2**14 * 1.01)

    errors, bound = add_errors(graph, feeds, "double")

    assert errors.max() > 0.5
    assert np.all(errors <= bound)
