"""Error bounds of the integer attention nonlinearities against float64.

Each test sweeps an integer reference function over its input range and asserts the
maximum error that edgec.reference.int_attention documents. The C kernels repeat the bound
at the top of their files and equal these functions bit for bit (tests/kernels).

- the fixed-point exp of the softmax, ``exp_on_negative_values(a, 5)``, over the Q5.26
  inputs in [-2**31, 0]. The sweep covers a grid of step 2**11, every input in
  [-2**21, 0] (where the error peaks), and the ends of the range and of the softmax's
  radius (-31).
- the int16 and the masked int8 softmax against the float64 softmax of the dequantized
  inputs over the unmasked positions (uniform for a row whose positions are all masked).
- the int8 GELU table against the float64 GELU for every int8 input, and the int16 i-GELU
  polynomial for every int16 input.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgec.ir import Graph, Node, Quant, Tensor
from edgec.lower.params import kernel_params
from edgec.lower.params_attention import gelu_table
from edgec.quantize.fixed_point import INT32_MAX, exp_on_negative_values
from edgec.reference.float_ops import gelu_values
from edgec.reference.int_attention import (
    EXP_MAX_ERROR_Q31,
    GELU_MAX_ERROR_LSB,
    IGELU_MAX_ERROR,
    SOFTMAX_MAX_ERROR_LSB,
    integer_gelu,
    softmax_rows,
)

Q5_26_ONE = 2**26
# The minimum scaled difference the softmax kernels pass to the exp: -31 in Q5.26.
SOFTMAX_EXP_RADIUS = 31 * Q5_26_ONE
# Float64 rounding in the table computation and in this test's own float arithmetic.
FLOAT_EPSILON = 1e-9


# --- exp_on_negative_values ------------------------------------------------------------------


@pytest.fixture(scope="module")
def exp_sweep() -> tuple[np.ndarray, np.ndarray]:
    """Return the swept Q5.26 inputs in increasing order and their exp_on_negative_values."""
    grid = np.arange(-(2**31), 1, 2**11, dtype=np.int64)
    near_zero = np.arange(-(2**21), 1, dtype=np.int64)
    ends = np.array([-(2**31), -(2**31) + 1, -SOFTMAX_EXP_RADIUS, -SOFTMAX_EXP_RADIUS - 1, -1, 0])
    inputs = np.unique(np.concatenate([grid, near_zero, ends]))
    return inputs, exp_on_negative_values(inputs, 5)


def test_exp_on_negative_values_error_bound(exp_sweep):
    inputs, got = exp_sweep

    want = np.exp(inputs / Q5_26_ONE) * 2.0**31
    errors = np.abs(got - want)

    worst = int(np.argmax(errors))
    assert errors[worst] <= EXP_MAX_ERROR_Q31, (
        f"exp error {errors[worst]:.1f} units of 2**-31 at a = {inputs[worst] / Q5_26_ONE:.9f}"
    )


def test_exp_on_negative_values_monotonic_with_exact_ends(exp_sweep):
    _, got = exp_sweep

    assert (np.diff(got) >= 0).all()
    assert got[-1] == INT32_MAX
    assert got[0] == 0


# --- softmax ---------------------------------------------------------------------------------

INT16_SCALES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 2e-2, 5e-2)
INT8_QUANTS = ((0.01, 0), (0.03, -128), (0.1, 127), (0.2, 5))
MASK_KINDS = ("none", "random", "all masked", "single kept")
ROWS_PER_DEPTH = 96


def _softmax_params(scale: float, zero_point: int, dtype: str, depth: int, beta: float = 1.0):
    graph = Graph()
    graph.add_tensor(Tensor("x", (1, depth), dtype, quant=_quant(scale, zero_point)))
    graph.add_tensor(Tensor("mask", (1, depth), "int32"))
    graph.add_tensor(Tensor("y", (1, depth), "int8", quant=_quant(1 / 256, -128)))
    node = Node("softmax", "softmax", ["x", "mask"], ["y"], {"beta": beta})
    graph.nodes.append(node)
    return kernel_params(node, graph)


def _quant(scale: float, zero_point: int) -> Quant:
    return Quant(np.array([scale], dtype=np.float32), np.array([zero_point]))


def _mask(rng: np.random.Generator, kind: str, depth: int) -> np.ndarray | None:
    if kind == "none":
        return None
    if kind == "random":
        return (rng.random(depth) < 0.6).astype(np.int32)
    mask = np.zeros(depth, dtype=np.int32)
    if kind == "single kept":
        mask[rng.integers(depth)] = 1
    return mask


def _rows(rng: np.random.Generator, depth: int, low: int, high: int) -> np.ndarray:
    """Draw random rows with spreads from 1 step to the whole range.

    The first three rows are replaced by rows of the extremes, and the fourth gets ties at
    its maximum.
    """
    spread = rng.choice([1, 10, 100, 1000, 10000, high - low], size=(ROWS_PER_DEPTH, 1))
    centre = rng.integers(low, high + 1, size=(ROWS_PER_DEPTH, 1))
    noise = rng.standard_normal((ROWS_PER_DEPTH, depth)) * spread
    rows = np.clip(centre + noise.astype(np.int64), low, high)
    rows[0] = high
    rows[1] = low
    rows[2] = rng.choice([low, high], size=depth)
    rows[3, : (depth + 1) // 2] = rows[3].max()
    return rows


def _float_softmax(real: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Compute the float64 softmax over the unmasked positions.

    A row whose positions are all masked gets the uniform distribution.
    """
    keep = np.ones(real.shape[-1], dtype=bool) if mask is None else mask != 0
    if not keep.any():
        return np.full(real.shape, 1.0 / real.shape[-1])
    unmasked = np.where(keep, real, -np.inf)
    exps = np.where(keep, np.exp(unmasked - unmasked.max(axis=-1, keepdims=True)), 0.0)
    return exps / exps.sum(axis=-1, keepdims=True)


def _softmax_errors(rng, scale, zero_point, dtype, low, high) -> tuple[float, float]:
    """Return the largest errors in output LSB over depths 1 .. 64 and every mask kind.

    The first error is against the float probability capped at 255/256, the second against
    the uncapped one.
    """
    capped_worst, uncapped_worst = 0.0, 0.0
    for depth in range(1, 65):
        params = _softmax_params(scale, zero_point, dtype, depth)
        for kind in MASK_KINDS:
            rows = _rows(rng, depth, low, high)
            mask = _mask(rng, kind, depth)
            real = (rows - zero_point) * np.float64(np.float32(scale))
            expected = _float_softmax(real, mask) * 256.0
            got = softmax_rows(rows, params, mask) + 128
            capped_worst = max(capped_worst, float(np.abs(got - np.minimum(expected, 255)).max()))
            uncapped_worst = max(uncapped_worst, float(np.abs(got - expected).max()))
    return capped_worst, uncapped_worst


@pytest.mark.parametrize("scale", INT16_SCALES)
def test_int16_softmax_error_bound(scale):
    rng = np.random.default_rng(int(scale * 1e6))

    capped, uncapped = _softmax_errors(rng, scale, 0, "int16", -32768, 32767)

    assert capped <= SOFTMAX_MAX_ERROR_LSB
    assert uncapped <= 1.0 + FLOAT_EPSILON


@pytest.mark.parametrize("quant", INT8_QUANTS, ids=lambda q: f"{q[0]}-{q[1]}")
def test_masked_int8_softmax_error_bound(quant):
    rng = np.random.default_rng(int(quant[0] * 1e3) + quant[1] + 1000)

    capped, uncapped = _softmax_errors(rng, quant[0], quant[1], "int8", -128, 127)

    assert capped <= SOFTMAX_MAX_ERROR_LSB
    assert uncapped <= 1.0 + FLOAT_EPSILON


@pytest.mark.parametrize("depth", [*range(1, 80), 255, 256, 257, 511, 512, 513, 1000, 8191])
def test_all_masked_row_outputs_uniform_value(depth):
    params = _softmax_params(1e-3, 0, "int16", depth)
    rows = np.random.default_rng(depth).integers(-32768, 32768, size=(2, depth))

    got = softmax_rows(rows, params, np.zeros(depth, dtype=np.int32))

    # round(256 / depth) with ties away from zero; 512 and above give -128.
    expected = min(math.floor(256 / depth + 0.5) - 128, 127) if depth < 512 else -128
    assert (got == expected).all()


# --- gelu ------------------------------------------------------------------------------------

GELU_QUANTS = (
    ((0.05, 0), (0.05, 0)),
    ((0.04, -128), (0.02, -128)),
    ((0.03, 127), (0.01, 127)),
    ((20 / 255, -1), (10.2 / 255, -108)),
    ((0.1, 0), (1e-3, 0)),
    ((1e-3, 17), (5e-4, -3)),
    ((0.5, -60), (0.25, -100)),
)


@pytest.mark.parametrize("quants", GELU_QUANTS, ids=lambda q: f"{q[0]}-{q[1]}")
def test_gelu_table_error_bound(quants):
    (in_scale, in_zero_point), (out_scale, out_zero_point) = quants
    in_scale, out_scale = float(np.float32(in_scale)), float(np.float32(out_scale))

    table = gelu_table(in_scale, in_zero_point, out_scale, out_zero_point).astype(np.int64)
    real = in_scale * (np.arange(-128, 128) - in_zero_point)
    want = gelu_values(real) / out_scale + out_zero_point
    inside = (want >= -128.5) & (want <= 127.5)

    assert np.abs(table - want)[inside].max() <= GELU_MAX_ERROR_LSB + FLOAT_EPSILON
    assert (table[want < -128.5] == -128).all()
    assert (table[want > 127.5] == 127).all()


# (input scale, (output scale, output zero point)) of the int16 gelu: inputs of about +-20,
# +-3, +-65 and +-1.6, outputs over GELU's range (-0.17 to the input's maximum) or wider.
IGELU_QUANTS = (
    (6e-4, (10.2 / 255, -123)),
    (1e-4, (0.0125, -128)),
    (2e-3, (0.25, 0)),
    (5e-5, (0.007, -128)),
    (3e-4, (0.02, -120)),
)


def _gelu_graph_params(input_scale: float, output_scale: float, output_zero_point: int):
    graph = Graph()
    graph.add_tensor(Tensor("x", (1,), "int16", quant=_quant(input_scale, 0)))
    graph.add_tensor(Tensor("y", (1,), "int8", quant=_quant(output_scale, output_zero_point)))
    node = Node("gelu", "gelu", ["x"], ["y"], {})
    graph.nodes.append(node)
    return kernel_params(node, graph)


@pytest.mark.parametrize("quants", IGELU_QUANTS, ids=lambda q: f"{q[0]}-{q[1][0]:.4g}")
def test_int16_gelu_error_bound(quants):
    in_scale, (out_scale, out_zero_point) = quants
    params = _gelu_graph_params(in_scale, out_scale, out_zero_point)
    in_scale, out_scale = float(np.float32(in_scale)), float(np.float32(out_scale))
    inputs = np.arange(-32768, 32768)

    got = integer_gelu(inputs, params)
    want = gelu_values(inputs * in_scale) / out_scale + out_zero_point
    inside = (want >= -128.5) & (want <= 127.5)
    errors = np.abs(got - want)[inside] * out_scale

    assert errors.max() <= 0.5 * out_scale + IGELU_MAX_ERROR
    assert (got[want < -128.5] == -128).all()
    assert (got[want > 127.5] == 127).all()
