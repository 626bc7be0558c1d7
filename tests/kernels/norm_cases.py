"""Kernel test cases of the norm transformer kernels: layer_norm (int8 and int16 input, int8
and int16 output) and l2_normalize.

``PROGRAMS`` lists (program name, C sources in runtime_c/kernels/ref, case builder). Each
program has named scenarios (sizes 1 and odd, zero points at the limits, constant rows,
saturation, outlier channels, the largest sums the parameters allow), cases with invalid
arguments (EDGEC_ERROR_ARGUMENT and an untouched output) and seeded random configurations.
The call builders below are written from runtime_c/include/edgec/kernels_norm.h.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy as np

from edgec.lower.params import kernel_params
from tests.kernels.bench import KernelCase, untouched_output
from tests.kernels.calls import builds
from tests.kernels.norm_graphs import (
    NUMPY_TYPES,
    dequantize,
    float_layer_norm_values,
    l2_normalize_case,
    layer_norm_case,
    normal_rows,
    random_rows,
    range_quant,
)

EDGEC_ERROR_ARGUMENT = 1
LAYER_NORM_ROW_FIELDS = ("depth", "input_offset", "epsilon_mantissa", "epsilon_exponent")
# Call macro of kernel_calls_norm.c.j2 by (input type, output type).
LAYER_NORM_MACROS = {
    ("int8", "int8"): "layer_norm",
    ("int16", "int8"): "layer_norm_s16",
    ("int8", "int16"): "layer_norm_s8_s16",
    ("int16", "int16"): "layer_norm_s16_s16",
}


# --- call builders -------------------------------------------------------------------------


@builds("layer_norm")
def _layer_norm_call(node, graph, feeds):
    params = kernel_params(node, graph)
    source = graph.tensors[node.inputs[0]]
    depth = source.shape[-1]
    fields = {
        "params": {key: params[key] for key in LAYER_NORM_ROW_FIELDS},
        "rows": source.size // depth,
    }
    arrays = {
        "input": np.asarray(feeds[node.inputs[0]], dtype=NUMPY_TYPES[source.dtype]),
        "multipliers": params.multipliers.astype(np.int32),
        "right_shifts": params.shifts.astype(np.int32),
        "offsets": params.offsets.astype(np.int64),
    }
    macro = LAYER_NORM_MACROS[(source.dtype, graph.tensors[node.outputs[0]].dtype)]
    return macro, fields, arrays


@builds("l2_normalize")
def _l2_normalize_call(node, graph, feeds):
    params = kernel_params(node, graph)
    source = graph.tensors[node.inputs[0]]
    fields = {
        "input_offset": params["input_offset"],
        "rows": source.size // source.shape[-1],
        "depth": source.shape[-1],
    }
    return "l2_normalize", fields, {"input": np.asarray(feeds[node.inputs[0]], dtype=np.int8)}


# --- rejected arguments --------------------------------------------------------------------


def rejected(case: KernelCase, name: str, change: Callable[[KernelCase], None]) -> KernelCase:
    """Copy ``case`` under ``name`` and let ``change`` make its arguments invalid.

    The kernel must return EDGEC_ERROR_ARGUMENT and write nothing.
    """
    bad = copy.deepcopy(case)
    bad.name = name
    bad.symbols = {}
    change(bad)
    bad.expected = untouched_output(case.output_size)
    bad.expected_status = EDGEC_ERROR_ARGUMENT
    return bad


def _set_field(*path: str, value) -> Callable[[KernelCase], None]:
    def change(case: KernelCase) -> None:
        target = case.fields
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _set_element(role: str, index: int, value) -> Callable[[KernelCase], None]:
    def change(case: KernelCase) -> None:
        values = case.arrays[role].copy()
        values[index] = value
        case.arrays[role] = values

    return change


# --- layer_norm ----------------------------------------------------------------------------


def _gamma_beta(rng: np.random.Generator, depth: int, spread: float = 0.3):
    return rng.normal(1.0, spread, depth), rng.normal(0.0, 0.2, depth)


def _alternating(depth: int, low: int, high: int, dtype: str) -> np.ndarray:
    row = np.where(np.arange(depth) % 2 == 0, low, high)
    return row.reshape(1, depth).astype(NUMPY_TYPES[dtype])


def layer_norm_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2601)
    gamma, beta = _gamma_beta(rng, 384)
    outlier_gamma, outlier_beta = _gamma_beta(rng, 64)
    outlier_rows = normal_rows(rng, (4, 64), 3.0)
    outlier_rows[:, 5] = 120
    outlier_rows[:, 40] = -128

    constant = np.full((3, 9), 17, dtype=np.int8)
    constant[1] = -128
    constant[2] = 127
    signs = np.array([1.0, -1.5, 0.0, 2.0, -0.25, 0.0, 1.0, -3.0])

    cases = [
        layer_norm_case("MiniLM block: 32 rows of 384", normal_rows(rng, (32, 384), 30.0, 4),
                        input_quant=(0.05, 4), gamma=gamma, beta=beta),
        layer_norm_case("depth 1 outputs beta", random_rows(rng, (5, 1)), input_quant=(0.1, 3),
                        gamma=[2.0], beta=[0.7], output_quant=(0.01, -20)),
        layer_norm_case("depth 2", random_rows(rng, (6, 2)), input_quant=(0.1, 0),
                        gamma=[1.0, -1.0], beta=[0.0, 0.5]),
        layer_norm_case("odd depth 7", random_rows(rng, (4, 7)), input_quant=(0.02, -9),
                        gamma=rng.normal(1, 0.5, 7), beta=rng.normal(0, 0.5, 7)),
        layer_norm_case("constant rows output beta", constant, input_quant=(0.1, 17),
                        gamma=rng.normal(1, 0.5, 9), beta=rng.normal(0, 0.5, 9)),

        # Zero points at the int8 limits.
        layer_norm_case("rows alternating -128 and 127, zero point -128",
                        np.tile(_alternating(16, -128, 127, "int8"), (2, 1)),
                        input_quant=(0.05, -128), gamma=1.0, beta=0.0),
        layer_norm_case("input zero point 127", random_rows(rng, (3, 33)),
                        input_quant=(0.03, 127), gamma=rng.normal(1, 0.2, 33), beta=0.1),
        layer_norm_case("output zero point -128", random_rows(rng, (3, 20)),
                        input_quant=(0.03, 0), gamma=1.0, beta=2.0, output_quant=(0.02, -128)),
        layer_norm_case("output zero point 127", random_rows(rng, (3, 20)),
                        input_quant=(0.03, 0), gamma=1.0, beta=-2.0, output_quant=(0.02, 127)),

        # gamma, beta and epsilon.
        layer_norm_case("negative and zero gamma", random_rows(rng, (4, 8)),
                        input_quant=(0.05, 1), gamma=signs, beta=rng.normal(0, 0.3, 8)),
        layer_norm_case("outlier channels with 100x the others", outlier_rows,
                        input_quant=(0.5, 0), gamma=outlier_gamma, beta=outlier_beta),
        layer_norm_case("epsilon dominates a small variance", normal_rows(rng, (3, 16), 2.0),
                        input_quant=(0.01, 0), gamma=1.0, beta=0.0, epsilon=0.1),
        layer_norm_case("epsilon 0", random_rows(rng, (3, 16)), input_quant=(0.01, 5),
                        gamma=1.0, beta=0.0, epsilon=0.0),
        layer_norm_case("epsilon term 2**59, near its 2**60 limit", random_rows(rng, (2, 100)),
                        input_quant=(4e-10, 0), gamma=1.0, beta=0.0, epsilon=1e-5),

        # Limits of the parameters, the largest depth and a 4-D input.
        layer_norm_case("output scale 0.002 saturates", random_rows(rng, (3, 24)),
                        input_quant=(0.05, 0), gamma=1.0, beta=0.1, output_quant=(0.002, 0)),
        layer_norm_case("gamma ratio near 2**24", random_rows(rng, (2, 12)),
                        input_quant=(0.05, 0), gamma=1.0, beta=0.0, output_quant=(6.0e-8, 0)),
        layer_norm_case("gamma ratio 4e-9: right shift capped at 62", random_rows(rng, (2, 12)),
                        input_quant=(0.05, 0), gamma=4e-11, beta=0.3, output_quant=(0.01, 0)),
        layer_norm_case("beta far beyond the output range clamps the offset",
                        random_rows(rng, (2, 10)), input_quant=(0.05, 0), gamma=1.0,
                        beta=np.array([1e12, -1e12] * 5), output_quant=(0.01, 0)),
        layer_norm_case("depth 8192 at the input limits, zero point 127",
                        _alternating(8192, -128, 127, "int8"), input_quant=(0.01, 127),
                        gamma=rng.normal(1, 0.3, 8192), beta=0.0),
        layer_norm_case("4-D input (1, 2, 3, 40)", random_rows(rng, (1, 2, 3, 40)),
                        input_quant=(0.1, -3), gamma=rng.normal(1, 0.3, 40), beta=0.05),
    ]

    valid = cases[2]
    cases += [
        rejected(valid, "rejects negative rows", _set_field("rows", value=-1)),
        rejected(valid, "rejects depth 0", _set_field("params", "depth", value=0)),
        rejected(valid, "rejects depth 8193", _set_field("params", "depth", value=8193)),
        rejected(valid, "rejects input_offset 129", _set_field("params", "input_offset",
                                                               value=129)),
        rejected(valid, "rejects an unnormalized epsilon mantissa",
                 _set_field("params", "epsilon_mantissa", value=5)),
        rejected(valid, "rejects epsilon exponent 31",
                 _set_field("params", "epsilon_exponent", value=31)),
        rejected(valid, "rejects right shift 63", _set_element("right_shifts", 1, 63)),
        rejected(valid, "rejects offset above 2**56", _set_element("offsets", 0, 2**56 + 1)),
    ]

    return cases + _random_layer_norm_cases(rng, 25, "int8")


def layer_norm_s16_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2602)
    s16 = {"dtype": "int16"}
    gamma, beta = _gamma_beta(rng, 384)
    outlier_rows = normal_rows(rng, (3, 64), 300.0, dtype="int16")
    outlier_rows[:, 7] = 30000

    constant = np.full((3, 5), -32768, dtype=np.int16)
    constant[1] = 32767
    constant[2] = 0

    cases = [
        layer_norm_case("MiniLM block: 32 rows of 384",
                        normal_rows(rng, (32, 384), 3000.0, dtype="int16"),
                        input_quant=(5e-4, 0), gamma=gamma, beta=beta, **s16),
        layer_norm_case("depth 1 outputs beta", random_rows(rng, (4, 1), "int16"),
                        input_quant=(1e-3, 0), gamma=[1.5], beta=[-0.4],
                        output_quant=(0.01, 3), **s16),
        layer_norm_case("depth 2", random_rows(rng, (5, 2), "int16"), input_quant=(1e-3, 0),
                        gamma=[1.0, 2.0], beta=[0.1, -0.1], **s16),
        layer_norm_case("odd depth 7", random_rows(rng, (4, 7), "int16"),
                        input_quant=(1e-4, 0), gamma=rng.normal(1, 0.5, 7), beta=0.2, **s16),

        # Extreme input values and a non-zero output zero point.
        layer_norm_case("constant rows at the int16 limits", constant, input_quant=(1e-3, 0),
                        gamma=rng.normal(1, 0.5, 5), beta=rng.normal(0, 0.5, 5), **s16),
        layer_norm_case("rows alternating -32768 and 32767",
                        np.tile(_alternating(12, -32768, 32767, "int16"), (2, 1)),
                        input_quant=(1e-3, 0), gamma=1.0, beta=0.0, **s16),
        layer_norm_case("values 0 and 1 only", rng.integers(0, 2, (4, 10)),
                        input_quant=(2.0, 0), gamma=1.0, beta=0.0, **s16),
        layer_norm_case("output zero point -128", random_rows(rng, (2, 30), "int16"),
                        input_quant=(1e-3, 0), gamma=1.0, beta=2.0,
                        output_quant=(0.02, -128), **s16),

        # gamma and epsilon.
        layer_norm_case("negative gamma", random_rows(rng, (2, 30), "int16"),
                        input_quant=(1e-3, 0), gamma=-rng.uniform(0.5, 2, 30), beta=0.0, **s16),
        layer_norm_case("outlier channel with 100x the others", outlier_rows,
                        input_quant=(1e-3, 0), gamma=rng.normal(1, 0.3, 64), beta=0.0, **s16),
        layer_norm_case("epsilon dominates a small variance",
                        normal_rows(rng, (3, 16), 3.0, dtype="int16"), input_quant=(1e-4, 0),
                        gamma=1.0, beta=0.0, epsilon=1e-7, **s16),
        layer_norm_case("epsilon 0", random_rows(rng, (2, 16), "int16"), input_quant=(1e-3, 0),
                        gamma=1.0, beta=0.0, epsilon=0.0, **s16),
        layer_norm_case("epsilon 1e-12 on scale 1", random_rows(rng, (2, 16), "int16"),
                        input_quant=(1.0, 0), gamma=1.0, beta=0.0, epsilon=1e-12, **s16),

        # Saturation and the largest depth.
        layer_norm_case("output scale 0.001 saturates", random_rows(rng, (2, 24), "int16"),
                        input_quant=(1e-3, 0), gamma=1.0, beta=0.0,
                        output_quant=(0.001, 0), **s16),
        layer_norm_case("depth 8192 alternating -32768 and 32767: largest variance",
                        _alternating(8192, -32768, 32767, "int16"), input_quant=(1e-3, 0),
                        gamma=rng.normal(1, 0.3, 8192), beta=0.0, **s16),
        layer_norm_case("depth 8192 with one element at -32768",
                        np.where(np.arange(8192) == 100, -32768, 32767)
                        .reshape(1, 8192).astype(np.int16),
                        input_quant=(1e-3, 0), gamma=1.0, beta=0.0, **s16),
    ]

    valid = cases[2]
    cases += [
        rejected(valid, "rejects input_offset 1", _set_field("params", "input_offset", value=1)),
        rejected(valid, "rejects depth 0", _set_field("params", "depth", value=0)),
        rejected(valid, "rejects negative rows", _set_field("rows", value=-2)),
        rejected(valid, "rejects negative right shift", _set_element("right_shifts", 0, -1)),
        rejected(valid, "rejects offset below -2**56", _set_element("offsets", 1, -(2**56) - 1)),
    ]

    return cases + _random_layer_norm_cases(rng, 20, "int16")


def _one_outlier_row(depth: int, low: int, high: int, dtype: str) -> np.ndarray:
    """Return one row of ``high`` with a single ``low`` element.

    The normalized value of that element is -sqrt(depth - 1), the largest magnitude a row
    of this depth can have.
    """
    row = np.full((1, depth), high, dtype=NUMPY_TYPES[dtype])
    row[0, depth // 3] = low
    return row


def _int16_output_cases(rng: np.random.Generator, dtype: str) -> list[KernelCase]:
    """Build the scenarios of the int16-output kernels for an int8 or int16 input.

    They cover saturation at the int16 limits, constant rows, depths 1 to 8192 and extreme
    gamma / output_scale.
    """
    low, high = (-128, 127) if dtype == "int8" else (-32768, 32767)
    spread = 30.0 if dtype == "int8" else 3000.0
    input_scale = 0.05 if dtype == "int8" else 5e-4
    kinds = {"dtype": dtype, "output_dtype": "int16"}
    gamma, beta = _gamma_beta(rng, 384)
    constant = np.full((3, 9), low, dtype=NUMPY_TYPES[dtype])
    constant[1] = high
    constant[2] = 17
    # beta / output_scale at and around the rounding boundaries of the int16 clamp.
    boundary_steps = np.array([32767.49, 32767.5, 32768.0, -32768.49, -32768.5, -32769.0, 0.5,
                               -0.5])
    signs = np.array([1.0, -1.5, 0.0, 2.0, -0.25, 0.0, 1.0, -3.0])

    return [
        layer_norm_case("MiniLM block: 32 rows of 384", normal_rows(rng, (32, 384), spread,
                                                                   dtype=dtype),
                        input_quant=(input_scale, 0), gamma=gamma, beta=beta, **kinds),
        layer_norm_case("depth 1 outputs beta", random_rows(rng, (5, 1), dtype),
                        input_quant=(input_scale, 0), gamma=[2.0], beta=[0.7],
                        output_quant=(1e-4, 0), **kinds),
        layer_norm_case("depth 2", random_rows(rng, (6, 2), dtype), input_quant=(input_scale, 0),
                        gamma=[1.0, -1.0], beta=[0.0, 0.5], **kinds),
        layer_norm_case("odd depth 7", random_rows(rng, (4, 7), dtype),
                        input_quant=(input_scale, 0), gamma=rng.normal(1, 0.5, 7),
                        beta=rng.normal(0, 0.5, 7), **kinds),
        layer_norm_case("constant rows output beta", constant, input_quant=(input_scale, 0),
                        gamma=rng.normal(1, 0.5, 9), beta=rng.normal(0, 0.5, 9),
                        output_quant=(1e-4, 0), **kinds),
        layer_norm_case("rows alternating between the input limits",
                        np.tile(_alternating(16, low, high, dtype), (2, 1)),
                        input_quant=(input_scale, 0), gamma=1.0, beta=0.0, **kinds),
        layer_norm_case("negative and zero gamma", random_rows(rng, (4, 8), dtype),
                        input_quant=(input_scale, 0), gamma=signs, beta=rng.normal(0, 0.3, 8),
                        **kinds),
        layer_norm_case("output scale 5e-5 saturates at both int16 limits",
                        random_rows(rng, (3, 24), dtype), input_quant=(input_scale, 0),
                        gamma=1.0, beta=0.1, output_quant=(5e-5, 0), **kinds),
        layer_norm_case("beta at the rounding boundaries of the int16 limits",
                        random_rows(rng, (2, 8), dtype), input_quant=(input_scale, 0),
                        gamma=0.0, beta=boundary_steps * 1e-3, output_quant=(1e-3, 0), **kinds),
        layer_norm_case("beta far beyond the int16 range clamps the offset",
                        random_rows(rng, (2, 10), dtype), input_quant=(input_scale, 0),
                        gamma=1.0, beta=np.array([1e12, -1e12] * 5), output_quant=(1e-4, 0),
                        **kinds),
        layer_norm_case("gamma ratio near 2**24", random_rows(rng, (2, 12), dtype),
                        input_quant=(input_scale, 0), gamma=1.0, beta=0.0,
                        output_quant=(6.0e-8, 0), **kinds),
        layer_norm_case("gamma ratio 4e-9: right shift capped at 62",
                        random_rows(rng, (2, 12), dtype), input_quant=(input_scale, 0),
                        gamma=4e-13, beta=0.3, output_quant=(1e-4, 0), **kinds),
        # The outlier (index 2730: gamma +1, offset -2**56) has the largest |z|, and
        # z * multiplier has the offset's sign, so their Q16 sum is the largest possible.
        layer_norm_case("gamma ratio near 2**24 with one outlier in 8192 and offsets at 2**56",
                        _one_outlier_row(8192, low, high, dtype), input_quant=(input_scale, 0),
                        gamma=np.where(np.arange(8192) % 2 == 0, 1.0, -1.0),
                        beta=np.array([-1e12, 1e12] * 4096), output_quant=(6.0e-8, 0), **kinds),
        layer_norm_case("depth 1536", normal_rows(rng, (2, 1536), spread, dtype=dtype),
                        input_quant=(input_scale, 0), gamma=rng.normal(1, 0.3, 1536),
                        beta=rng.normal(0, 0.3, 1536), **kinds),
        layer_norm_case("depth 8192 alternating between the input limits",
                        _alternating(8192, low, high, dtype), input_quant=(input_scale, 0),
                        gamma=rng.normal(1, 0.3, 8192), beta=0.0, **kinds),
        layer_norm_case("epsilon dominates a small variance",
                        normal_rows(rng, (3, 16), 2.0, dtype=dtype),
                        input_quant=(input_scale / 10, 0), gamma=1.0, beta=0.0,
                        epsilon=1e-3 if dtype == "int8" else 1e-7, **kinds),
        layer_norm_case("epsilon 0", random_rows(rng, (3, 16), dtype),
                        input_quant=(input_scale, 0), gamma=1.0, beta=0.0, epsilon=0.0, **kinds),
        layer_norm_case("4-D input (1, 2, 3, 40)", random_rows(rng, (1, 2, 3, 40), dtype),
                        input_quant=(input_scale, 0), gamma=rng.normal(1, 0.3, 40), beta=0.05,
                        **kinds),
    ]


def _int16_output_rejections(valid: KernelCase, input_offset: int) -> list[KernelCase]:
    return [
        rejected(valid, "rejects negative rows", _set_field("rows", value=-1)),
        rejected(valid, "rejects depth 0", _set_field("params", "depth", value=0)),
        rejected(valid, "rejects depth 8193", _set_field("params", "depth", value=8193)),
        rejected(valid, f"rejects input_offset {input_offset}",
                 _set_field("params", "input_offset", value=input_offset)),
        rejected(valid, "rejects an unnormalized epsilon mantissa",
                 _set_field("params", "epsilon_mantissa", value=5)),
        rejected(valid, "rejects right shift 63", _set_element("right_shifts", 1, 63)),
        rejected(valid, "rejects offset above 2**56", _set_element("offsets", 0, 2**56 + 1)),
    ]


def layer_norm_s8_s16_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2604)
    kinds = {"output_dtype": "int16"}
    cases = [
        *_int16_output_cases(rng, "int8"),
        layer_norm_case("input zero point -128", random_rows(rng, (3, 33)),
                        input_quant=(0.03, -128), gamma=rng.normal(1, 0.2, 33), beta=0.1,
                        **kinds),
        layer_norm_case("input zero point 127", random_rows(rng, (3, 33)),
                        input_quant=(0.03, 127), gamma=rng.normal(1, 0.2, 33), beta=0.1,
                        **kinds),
        layer_norm_case("depth 8192 at the input limits, zero point 127",
                        _alternating(8192, -128, 127, "int8"), input_quant=(0.01, 127),
                        gamma=rng.normal(1, 0.3, 8192), beta=0.0, **kinds),
    ]
    cases += _int16_output_rejections(cases[2], 129)
    return cases + _random_layer_norm_cases(rng, 20, "int8", "int16")


def layer_norm_s16_s16_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2605)
    kinds = {"dtype": "int16", "output_dtype": "int16"}
    cases = [
        *_int16_output_cases(rng, "int16"),
        layer_norm_case("depth 8192 with one element at -32768",
                        _one_outlier_row(8192, -32768, 32767, "int16"), input_quant=(1e-3, 0),
                        gamma=1.0, beta=0.0, **kinds),
        layer_norm_case("values 0 and 1 only", rng.integers(0, 2, (4, 10)),
                        input_quant=(2.0, 0), gamma=1.0, beta=0.0, **kinds),
    ]
    cases += _int16_output_rejections(cases[2], 1)
    return cases + _random_layer_norm_cases(rng, 20, "int16", "int16")


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _random_output_quant(rng: np.random.Generator, dtype: str) -> tuple[float, int]:
    """Draw an explicit output (scale, zero point). The smaller scales saturate many outputs."""
    if dtype == "int16":
        return _log_uniform(rng, 1e-6, 1e-2), 0
    return _log_uniform(rng, 1e-3, 1.0), int(rng.integers(-128, 128))


def _int16_output_quant(output_quant, values, input_quant, gamma, beta, epsilon):
    """Return ``output_quant`` with its scale raised to at least 2**-23 * max|gamma|.

    With ``output_quant`` None, the scale covers the float result's range. The raised scale
    lets params accept gamma / output_scale. Depth-1 rows, whose float result is beta
    alone, and the smallest random scales fall below that minimum.
    """
    if output_quant is None:
        real = dequantize(values, *input_quant)
        output_quant = range_quant(float_layer_norm_values(real, gamma, beta, epsilon), "int16")
    return max(output_quant[0], 2.0**-23 * float(np.abs(gamma).max())), 0


def _random_layer_norm_cases(rng: np.random.Generator, count: int, dtype: str,
                             output_dtype: str = "int8") -> list[KernelCase]:
    cases = []
    for index in range(count):
        shape = (int(rng.integers(1, 5)), int(rng.choice([1, 2, 3, 5, 16, 31, 64, 100, 384])))
        depth = shape[-1]
        if dtype == "int8":
            zero_point = int(rng.choice([-128, 127, int(rng.integers(-128, 128))]))
            values = normal_rows(rng, shape, _log_uniform(rng, 0.5, 100.0), zero_point)
            input_quant = (_log_uniform(rng, 1e-4, 10.0), zero_point)
        else:
            values = normal_rows(rng, shape, _log_uniform(rng, 1.0, 20000.0), dtype="int16")
            input_quant = (_log_uniform(rng, 1e-6, 1.0), 0)
        gamma = rng.normal(0.0, _log_uniform(rng, 0.01, 10.0), depth)
        beta = rng.normal(0.0, _log_uniform(rng, 0.01, 10.0), depth)
        output_quant = None
        if rng.random() < 0.3:
            output_quant = _random_output_quant(rng, output_dtype)
        epsilon = float(rng.choice([0.0, 1e-12, 1e-5, 1e-3, 0.1]))
        if output_dtype == "int16":
            output_quant = _int16_output_quant(output_quant, values, input_quant, gamma, beta,
                                               epsilon)
        cases.append(layer_norm_case(
            f"random configuration {index}", values, input_quant=input_quant, gamma=gamma,
            beta=beta, output_quant=output_quant, epsilon=epsilon, dtype=dtype,
            output_dtype=output_dtype,
        ))
    return cases


# --- l2_normalize --------------------------------------------------------------------------


def _one_hot_rows(depth: int, values, zero_point: int) -> np.ndarray:
    rows = np.full((len(values), depth), zero_point, dtype=np.int8)
    for row, value in enumerate(values):
        rows[row, row % depth] = value
    return rows


def _rows_with_sums_of_squares(targets, depth: int) -> np.ndarray:
    """Build int8 rows for zero point -128 whose sums of x**2 are ``targets``.

    Here x = q + 128 is in [0, 255]. The rows are filled greedily from the largest squares.
    """
    rows = np.full((len(targets), depth), -128, dtype=np.int64)
    for row, target in enumerate(targets):
        remaining, column = target, 0
        while remaining > 0:
            x = min(255, math.isqrt(remaining))
            rows[row, column] = x - 128
            remaining -= x * x
            column += 1
    return rows.astype(np.int8)


def l2_normalize_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2603)
    cases = [
        l2_normalize_case("3 rows of 10", random_rows(rng, (3, 10)), input_quant=(0.1, 0)),
        l2_normalize_case("depth 1 gives 127, -128 or 0", np.array([[5], [-7], [0], [127]]),
                          input_quant=(0.1, 0)),
        l2_normalize_case("all-zero rows give zeros", np.full((2, 12), -5, dtype=np.int8),
                          input_quant=(0.1, -5)),
        l2_normalize_case("one non-zero element per row saturates",
                          _one_hot_rows(6, [1, -1, 2, -2, 127, -128], 0),
                          input_quant=(0.2, 0)),
        l2_normalize_case("sum of squares 2 to 63: negative exponent",
                          np.array([[1, 1, 0, 0], [1, -1, 1, 0], [3, 5, 2, 1], [7, 1, 1, 1]]),
                          input_quant=(0.5, 0)),
        l2_normalize_case("input zero point -128", random_rows(rng, (3, 17)),
                          input_quant=(0.02, -128)),
        l2_normalize_case("input zero point 127", random_rows(rng, (3, 17)),
                          input_quant=(0.02, 127)),
        l2_normalize_case("MiniLM embeddings: 4 rows of 384", normal_rows(rng, (4, 384), 25.0),
                          input_quant=(0.01, 0)),
        l2_normalize_case("odd depth 7 with zero point 3", random_rows(rng, (5, 7)),
                          input_quant=(0.3, 3)),
        l2_normalize_case("3-D input (2, 3, 9)", random_rows(rng, (2, 3, 9)),
                          input_quant=(0.1, -2)),
        l2_normalize_case("small values around the zero point", normal_rows(rng, (4, 50), 1.5, 9),
                          input_quant=(0.1, 9)),
        l2_normalize_case("sums of squares 2**29 - 1, 2**29 and 2**29 + 1",
                          _rows_with_sums_of_squares([2**29 - 1, 2**29, 2**29 + 1], 8300),
                          input_quant=(0.1, -128)),
        l2_normalize_case("depth 33025 of -128 with zero point 127: largest int32 sum",
                          np.full((1, 33025), -128, dtype=np.int8), input_quant=(0.01, 127)),
        l2_normalize_case("epsilon equal to the input scale", random_rows(rng, (2, 8)),
                          input_quant=(0.25, 0), epsilon=0.25),
    ]
    valid = cases[0]
    cases += [
        rejected(valid, "rejects depth 0", _set_field("depth", value=0)),
        rejected(valid, "rejects depth 33026", _set_field("depth", value=33026)),
        rejected(valid, "rejects negative rows", _set_field("rows", value=-1)),
        rejected(valid, "rejects input_offset 129", _set_field("input_offset", value=129)),
        rejected(valid, "rejects input_offset -128", _set_field("input_offset", value=-128)),
    ]
    return cases + _random_l2_normalize_cases(rng, 20)


def _random_l2_normalize_cases(rng: np.random.Generator, count: int) -> list[KernelCase]:
    cases = []
    for index in range(count):
        shape = (int(rng.integers(1, 5)), int(rng.integers(1, 200)))
        zero_point = int(rng.choice([-128, 127, int(rng.integers(-128, 128))]))
        values = normal_rows(rng, shape, _log_uniform(rng, 0.3, 100.0), zero_point)
        cases.append(l2_normalize_case(
            f"random configuration {index}", values,
            input_quant=(_log_uniform(rng, 1e-4, 10.0), zero_point),
        ))
    return cases


PROGRAMS = [
    ("layer_norm", ("layer_norm_s8.c",), layer_norm_cases),
    ("layer_norm_s16", ("layer_norm_s16.c",), layer_norm_s16_cases),
    ("layer_norm_s8_s16", ("layer_norm_s8_s16.c",), layer_norm_s8_s16_cases),
    ("layer_norm_s16_s16", ("layer_norm_s16_s16.c",), layer_norm_s16_s16_cases),
    ("l2_normalize", ("l2_normalize_s8.c",), l2_normalize_cases),
]
