"""Error bounds of the integer layer_norm and l2_normalize against their float kernels.

Each sweep builds one-node quantized graphs over many rows: sizes 1 to 1536, int8 inputs of
several scales and zero points, int16 inputs, int8 and int16 layer_norm outputs, and random,
narrow, outlier, constant and type-limit rows. It runs the reference interpreter, which the
C kernels match bit for bit (tests/kernels). The error of an element is |dequantized output
- float result| in output steps, where the float result is the float kernel
(edgec.reference.float_ops) on the dequantized input, clamped to the output's range. For
layer_norm it is the float kernel's float64 arithmetic before its float32 cast, because that
cast alone moves a result near the int16 limits by up to 2**-9 steps. The asserted bounds
are the ones written in the docstrings of edgec.reference.int_norm and at the top of the C
kernels.

l2_normalize also runs against TFLite Micro's int8 L2_NORMALIZATION, which it must match
bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgec.lower.params import kernel_params
from edgec.oracles import run_tflite_micro
from edgec.reference.float_ops import l2_normalize as float_l2_normalize
from edgec.reference.int_norm import l2_normalize_rows
from edgec.reference.interpreter import run
from tests.kernels.norm_graphs import (
    INT_LIMITS,
    NUMPY_TYPES,
    dequantize,
    l2_normalize_graph,
    layer_norm_graph,
    normal_rows,
    random_rows,
)
from tests.tflite_builder import Op, T, write_model

RNG_SEED = 2611
DEPTHS = (1, 2, 7, 64, 384, 1536)

# Documented bounds, in output steps, by layer_norm output type.
LAYER_NORM_BASE_BOUNDS = {"int8": 0.5 + 2.0**-12, "int16": 0.5 + 2.0**-7}
LAYER_NORM_BASE_BOUND = LAYER_NORM_BASE_BOUNDS["int8"]
LAYER_NORM_RATIO_ERROR = 2.0**-25  # per unit of max |gamma / output_scale|
L2_NORMALIZE_BOUND = 0.75 + 2.0**-10


# --- row generators ----------------------------------------------------------------------


def _row_kinds(rng: np.random.Generator, rows: int, depth: int, dtype: str,
               zero_point: int) -> dict[str, np.ndarray]:
    """Rows of each adversarial kind, ``rows`` x ``depth`` each, in ``dtype``."""
    low, high = INT_LIMITS[dtype]
    numpy_type = NUMPY_TYPES[dtype]
    full = (high - low) / 2
    outliers = normal_rows(rng, (rows, depth), full / 300, zero_point, dtype)
    outliers[:, :: max(depth // 16, 1)] = rng.choice([low, high], size=(rows, 1))
    limits = rng.choice(np.array([low, high], dtype=numpy_type), size=(rows, depth))
    single = np.full((rows, depth), low, dtype=numpy_type)
    single[:, 0] = high
    constant = np.repeat(rng.integers(low, high + 1, size=(rows, 1)), depth, axis=1)
    return {
        "uniform": random_rows(rng, (rows, depth), dtype),
        "normal": normal_rows(rng, (rows, depth), full / 4, zero_point, dtype),
        "narrow": normal_rows(rng, (rows, depth), 1.5, zero_point, dtype),
        "two values": (zero_point + rng.integers(0, 2, size=(rows, depth))).clip(low, high),
        "outliers 100x": outliers,
        "type limits": limits,
        "one high element": single,
        "constant": constant.astype(numpy_type),
    }


# --- layer_norm --------------------------------------------------------------------------


def _exact_layer_norm(real: np.ndarray, gamma, beta, epsilon: float) -> np.ndarray:
    """Repeat the float layer_norm kernel's float64 arithmetic, without its final float32 cast.

    gamma and beta are float32 values as in the graph. A constant row with epsilon 0 gives NaN.
    """
    gamma = np.asarray(gamma, np.float32).astype(np.float64)
    beta = np.asarray(beta, np.float32).astype(np.float64)
    centered = real - real.mean(axis=-1, keepdims=True)
    variance = np.mean(centered * centered, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return centered / np.sqrt(variance + epsilon) * gamma + beta


def _layer_norm_errors(values: np.ndarray, input_quant, gamma, beta, epsilon: float,
                       dtype: str, output_quant=None,
                       output_dtype: str = "int8") -> tuple[np.ndarray, float]:
    """Return the per-element errors in output steps and max |gamma / output_scale|."""
    graph, feeds = layer_norm_graph(values, input_quant=input_quant, gamma=gamma, beta=beta,
                                    epsilon=epsilon, dtype=dtype, output_quant=output_quant,
                                    output_dtype=output_dtype)
    output = run(graph, feeds)["output"].astype(np.float64)
    quant = graph.tensors["output"].quant
    scale, zero_point = float(quant.scale[0]), int(quant.zero_point[0])
    low, high = INT_LIMITS[output_dtype]

    expected = _exact_layer_norm(dequantize(values, *input_quant), gamma, beta, epsilon)
    expected = np.clip(expected, scale * (low - zero_point), scale * (high - zero_point))
    errors = np.abs(scale * (output - zero_point) - expected) / scale
    # The float result of a constant row with epsilon 0 is NaN (0 / 0), but the kernel gives beta.
    errors = errors[np.isfinite(errors)]
    ratio = float(np.max(np.abs(np.asarray(gamma, np.float32) / np.float32(scale))))
    return errors, ratio


def _layer_norm_sweep(dtype: str, zero_points, scales,
                      output_dtype: str = "int8") -> list[tuple[str, float, float]]:
    """Return (configuration, max error, bound) for every configuration of the sweep. The
    output quantization covers the float result's range."""
    rng = np.random.default_rng(RNG_SEED)
    results = []
    for depth in DEPTHS:
        rows = max(2, 4096 // depth)
        gamma = rng.normal(1.0, 0.4, depth)
        gamma[:: max(depth // 5, 1)] *= -1
        beta = rng.normal(0.0, 0.5, depth)
        for zero_point in zero_points:
            for scale in scales:
                for kind, values in _row_kinds(rng, rows, depth, dtype, zero_point).items():
                    for epsilon in (1e-5, 1e-12, 0.1 * scale * scale):
                        errors, ratio = _layer_norm_errors(
                            values, (scale, zero_point), gamma, beta, epsilon, dtype,
                            output_dtype=output_dtype)
                        bound = (LAYER_NORM_BASE_BOUNDS[output_dtype]
                                 + LAYER_NORM_RATIO_ERROR * ratio)
                        name = (f"{dtype} to {output_dtype} depth {depth} zero point "
                                f"{zero_point} scale {scale:g} {kind} epsilon {epsilon:g}")
                        results.append((name, float(errors.max(initial=0.0)), bound))
    return results


def _over_bound(results) -> list[str]:
    return [f"{name}: {error:.6f} > {bound:.6f}" for name, error, bound in results
            if error > bound]


def test_layer_norm_int8_error_within_bound():
    results = _layer_norm_sweep("int8", zero_points=(-128, -3, 0, 127),
                                scales=(1e-3, 0.05, 30.0))

    assert not _over_bound(results), "\n".join(_over_bound(results)[:20])
    assert max(error for _, error, _ in results) <= LAYER_NORM_BASE_BOUND


def test_layer_norm_int16_error_within_bound():
    results = _layer_norm_sweep("int16", zero_points=(0,), scales=(1e-5, 1e-3, 0.1))

    assert not _over_bound(results), "\n".join(_over_bound(results)[:20])
    assert max(error for _, error, _ in results) <= LAYER_NORM_BASE_BOUND


def test_layer_norm_int8_to_int16_error_within_bound():
    results = _layer_norm_sweep("int8", zero_points=(-128, -3, 0, 127),
                                scales=(1e-3, 0.05, 30.0), output_dtype="int16")
    worst = max(error for _, error, _ in results)

    assert not _over_bound(results), "\n".join(_over_bound(results)[:20])
    # Measured 0.50066: the relative errors times outputs of up to 32767 steps add about
    # 2**-10 to the final rounding.
    assert worst <= 0.5 + 2.0**-9


def test_layer_norm_int16_to_int16_error_within_bound():
    results = _layer_norm_sweep("int16", zero_points=(0,), scales=(1e-5, 1e-3, 0.1),
                                output_dtype="int16")
    worst = max(error for _, error, _ in results)

    assert not _over_bound(results), "\n".join(_over_bound(results)[:20])
    # Measured 0.50095, of which 2**-25 * gamma / output_scale (about 26000) is 0.0008.
    assert worst <= 0.5 + 2.0**-9


def test_layer_norm_error_with_saturating_output():
    rng = np.random.default_rng(RNG_SEED + 1)
    values = normal_rows(rng, (64, 384), 40.0, 2)
    gamma, beta = rng.normal(1.0, 0.3, 384), rng.normal(0.0, 1.0, 384)

    errors, ratio = _layer_norm_errors(values, (0.05, 2), gamma, beta, 1e-5, "int8",
                                       output_quant=(0.004, -10))

    assert ratio > 200
    assert errors.max() <= LAYER_NORM_BASE_BOUND + LAYER_NORM_RATIO_ERROR * ratio


def _rows_with_sum_one_above_multiple(rng: np.random.Generator, rows: int, depth: int,
                                      spread: float) -> np.ndarray:
    """int8 rows whose sum S is 1 modulo depth: an element equal to (S - 1) / depth has
    N*x - S = -1, the smallest non-zero centered value, so it stays below saturation even
    for a huge gamma / output_scale."""
    values = normal_rows(rng, (rows, depth), spread).astype(np.int64)
    for row in values:
        delta = (1 - int(row.sum())) % depth
        if delta > depth // 2:
            delta -= depth
        movable = np.flatnonzero((row > -128) & (row < 127))[: abs(delta)]
        row[movable] += np.sign(delta)
    return values.astype(np.int8)


@pytest.mark.parametrize("output_scale", [1e-4, 1e-6, 1.2e-7])
def test_layer_norm_error_with_large_gamma_ratio(output_scale):
    rng = np.random.default_rng(RNG_SEED + 2)
    values = _rows_with_sum_one_above_multiple(rng, 32, 1536, 80.0)
    graph, feeds = layer_norm_graph(values, input_quant=(0.05, 0), gamma=1.0, beta=0.0,
                                    output_quant=(output_scale, 0))
    output = run(graph, feeds)["output"]

    errors, ratio = _layer_norm_errors(values, (0.05, 0), 1.0, 0.0, 1e-5, "int8",
                                       output_quant=(output_scale, 0))

    assert ratio >= 1e4
    assert (np.abs(output.astype(np.int64)) < 127).sum() >= 10
    assert errors.max() <= LAYER_NORM_BASE_BOUND + LAYER_NORM_RATIO_ERROR * ratio


@pytest.mark.parametrize("output_scale", [1e-5, 1e-6, 1e-7, 6.2e-8])
def test_layer_norm_int16_large_ratio_error(output_scale):
    rng = np.random.default_rng(RNG_SEED + 5)
    values = _rows_with_sum_one_above_multiple(rng, 32, 1536, 80.0)
    graph, feeds = layer_norm_graph(values, input_quant=(0.05, 0), gamma=1.0, beta=0.0,
                                    output_quant=(output_scale, 0), output_dtype="int16")
    output = run(graph, feeds)["output"]

    errors, ratio = _layer_norm_errors(values, (0.05, 0), 1.0, 0.0, 1e-5, "int8",
                                       output_quant=(output_scale, 0), output_dtype="int16")

    assert ratio >= 1e5
    assert (np.abs(output.astype(np.int64)) < 32767).sum() >= 100
    assert errors.max() <= LAYER_NORM_BASE_BOUNDS["int16"] + LAYER_NORM_RATIO_ERROR * ratio


@pytest.mark.parametrize("dtype", ["int8", "int16"])
def test_layer_norm_int16_beta_opposite_limit(dtype):
    # beta / output_scale = -31129 and gamma / output_scale = 62257: outputs below saturation
    # reach |normalized value * gamma / output_scale| of almost 2**16, the limit the bound
    # assumes.
    rng = np.random.default_rng(RNG_SEED + 6)
    depth = 64
    values = random_rows(rng, (128, depth), dtype)
    input_scale = 0.05 if dtype == "int8" else 1e-3
    gamma, beta, output_scale = 6.2257, -3.1129, 1e-4

    errors, ratio = _layer_norm_errors(values, (input_scale, 0), gamma, beta, 1e-5, dtype,
                                       output_quant=(output_scale, 0), output_dtype="int16")
    real = dequantize(values, input_scale, 0)
    normalized = (_exact_layer_norm(real, 1.0, 0.0, 1e-5) * np.float32(gamma)
                  / np.float32(output_scale))
    below_saturation = normalized[normalized + beta / output_scale < 32767]

    assert below_saturation.max() > 2.0**15.8
    assert errors.max() <= LAYER_NORM_BASE_BOUNDS["int16"] + LAYER_NORM_RATIO_ERROR * ratio


def test_layer_norm_constant_rows_give_beta():
    beta = np.linspace(-1.0, 1.0, 16)
    values = np.full((3, 16), -7, dtype=np.int8)
    graph, feeds = layer_norm_graph(values, input_quant=(0.1, 0), gamma=2.0, beta=beta,
                                    epsilon=0.0, output_quant=(0.01, 0))

    output = run(graph, feeds)["output"]

    assert np.array_equal(output, np.broadcast_to(np.round(beta / 0.01), (3, 16)))


def test_layer_norm_int16_constant_rows_beta():
    beta = np.linspace(-3.0, 3.0, 16)
    values = np.full((3, 16), 1234, dtype=np.int16)
    graph, feeds = layer_norm_graph(values, input_quant=(1e-3, 0), gamma=2.0, beta=beta,
                                    epsilon=0.0, output_quant=(1e-4, 0), dtype="int16",
                                    output_dtype="int16")

    output = run(graph, feeds)["output"]

    assert output.dtype == np.int16
    expected = np.clip(np.round(beta.astype(np.float32) / np.float32(1e-4)), -32768, 32767)
    assert np.array_equal(output, np.broadcast_to(expected, (3, 16)))


# --- l2_normalize ------------------------------------------------------------------------


def _l2_normalize_errors(values: np.ndarray, input_quant) -> np.ndarray:
    """Return the per-element errors in output steps."""
    graph, feeds = l2_normalize_graph(values, input_quant=input_quant)
    output = run(graph, feeds)["output"].astype(np.float64)
    node = graph.nodes[0]
    real = dequantize(values, *input_quant)
    expected = 128.0 * float_l2_normalize(node, [real], graph)[0].astype(np.float64)
    return np.abs(output - np.clip(expected, -128, 127))


def test_l2_normalize_error_within_bound():
    rng = np.random.default_rng(RNG_SEED + 3)
    worst, failures = 0.0, []
    for depth in DEPTHS:
        rows = max(2, 4096 // depth)
        for zero_point in (-128, -50, 0, 3, 127):
            for scale in (1e-3, 0.1, 10.0):
                for kind, values in _row_kinds(rng, rows, depth, "int8", zero_point).items():
                    error = float(_l2_normalize_errors(values, (scale, zero_point)).max())
                    worst = max(worst, error)
                    if error > L2_NORMALIZE_BOUND:
                        failures.append(f"depth {depth} zero point {zero_point} {kind}: {error}")

    assert not failures, "\n".join(failures[:20])
    # The sweep reaches the elements where both roundings of the last multiply add up.
    assert worst > 0.7


def test_l2_normalize_all_zero_rows_give_zeros():
    values = np.full((4, 33), 12, dtype=np.int8)
    graph, feeds = l2_normalize_graph(values, input_quant=(0.5, 12))

    output = run(graph, feeds)["output"]

    assert not output.any()


def _tflite_l2_normalize(tmp_path, shape, input_quant):
    tensors = [
        T("input", shape, scale=[input_quant[0]], zero_point=[input_quant[1]]),
        T("output", shape, scale=[1.0 / 128.0], zero_point=[0]),
    ]
    options = ("L2NormOptions", {"fused_activation_function": 0})
    # 11 is BuiltinOperator.L2_NORMALIZATION.
    op = Op(11, ["input"], ["output"], options)
    return write_model(tmp_path, tensors, [op], ["input"], ["output"])


@pytest.mark.parametrize("input_quant", [(0.02, 0), (0.1, -128), (0.5, 127), (0.003, 9)])
def test_l2_normalize_matches_tflite_micro(tmp_path, input_quant):
    rng = np.random.default_rng(RNG_SEED + 4)
    zero_point = input_quant[1]
    samples = np.stack([
        random_rows(rng, (6, 40)),
        normal_rows(rng, (6, 40), 2.0, zero_point),
        np.where(rng.random((6, 40)) < 0.9, zero_point, random_rows(rng, (6, 40))),
    ]).astype(np.int8)
    samples[2, 0] = zero_point
    model = _tflite_l2_normalize(tmp_path, (6, 40), input_quant)

    (expected,) = run_tflite_micro(model, [samples])
    graph, _ = l2_normalize_graph(samples[0], input_quant=input_quant)
    offset = kernel_params(graph.nodes[0], graph)["input_offset"]
    actual = l2_normalize_rows(samples, offset)

    assert np.array_equal(actual, expected.astype(np.int64))
