"""Kernel test cases of the int16 residual stream: fully_connected with an int8 input and an
int16 output (int8 and int4 weights), and the int16 add.

``PROGRAMS`` lists (program name, C sources in runtime_c/kernels/ref, case builder). Each
program has named scenarios. They cover MiniLM slices, sizes 1 and odd sizes around the
16-value blocks of the fully connected loop, and zero points -128 and 127. Others test
saturation at the int16 limits, extreme multipliers, rounding ties and the largest
accumulations the parameters accept.
Then come cases with invalid arguments (EDGEC_ERROR_ARGUMENT and an untouched output) and
seeded random configurations. The graphs and call builders are in
``tests.kernels.residual_graphs``.
"""

from __future__ import annotations

import copy

import numpy as np

from tests.kernels.bench import KernelCase, untouched_output
from tests.kernels.graphs import RELU, RELU6
from tests.kernels.int4_graphs import GROUP_SIZES
from tests.kernels.random_cases import _activation, _log_uniform, _zero_point
from tests.kernels.residual_graphs import (
    INT16_MAX,
    add_s16_case,
    fully_connected_s16_case,
    fully_connected_s16_graph,
    normal_int16,
    random_int16,
    residual_case,
)

EDGEC_ERROR_ARGUMENT = 1
# Real multipliers input_scale * weight_scale / output_scale from a flushed 0 over the most
# negative shift (-31) to left shifts of 12 and 24, where the accumulator wraps first.
EXTREME_REAL_MULTIPLIERS = (2**-40, 2**-31.5, 2**-20, 1e-3, 0.5, 1.0, 3.7, 2**12, 2**24)
# Depth of the largest int8 accumulation: 255 * 127 * 66311 = 2147481735 <= 2**31 - 1.
MAX_INT8_SUM_DEPTH = 66311
# Depth of the largest per-group int4 accumulation with multipliers 255 and weights 7:
# 255 * 255 * 7 * 4717 = 2147060475 <= 2**31 - 1.
MAX_INT4_SUM_DEPTH = 4717


def rejected(case: KernelCase, name: str, **changes) -> KernelCase:
    """A copy of ``case`` with the fields ``changes`` (``params_<key>`` for a params field)
    that the kernel must reject without writing its output."""
    bad = copy.deepcopy(case)
    bad.name = name
    bad.symbols = {}
    for key, value in changes.items():
        if key.startswith("params_"):
            bad.fields["params"][key.removeprefix("params_")] = value
        else:
            bad.fields[key] = value
    bad.expected = untouched_output(case.output_size)
    bad.expected_status = EDGEC_ERROR_ARGUMENT
    return bad


def _channels_of(rng: np.random.Generator, output_depth: int, depth: int, values) -> np.ndarray:
    """Random int8 weights whose first channels take ``values`` (one per channel)."""
    weights = rng.integers(-127, 128, size=(output_depth, depth)).astype(np.int8)
    for channel, value in enumerate(values):
        weights[channel] = value
    return weights


def _wrapping_bias(rng: np.random.Generator, output_depth: int) -> np.ndarray:
    bias = rng.integers(-(2**14), 2**14, size=output_depth)
    bias[0], bias[-1] = 2**31 - 10, -(2**31) + 10
    return bias


# --- fully_connected, int8 weights, int16 output -------------------------------------------


def fully_connected_s8_s16_cases() -> list[KernelCase]:
    rng = np.random.default_rng(3101)
    fc = fully_connected_s16_case
    largest_inputs = np.full((1, MAX_INT8_SUM_DEPTH), 127, dtype=np.int8)
    cases = [
        fc("MiniLM attention output slice: 32 rows of 384, 48 outputs", rng,
           input_shape=(32, 384), output_depth=48, input_quant=(0.04, 5)),
        fc("MiniLM FFN down-projection slice: depth 1536, zero point -128", rng,
           input_shape=(4, 1536), output_depth=12, input_quant=(0.02, -128)),
        fc("rows 1, depth 1, one output", rng, input_shape=(1, 1), output_depth=1),
        fc("depth 15: no full block", rng, input_shape=(3, 15), output_depth=5,
           input_quant=(0.1, -7)),
        fc("depth 16: one full block", rng, input_shape=(2, 16), output_depth=4,
           input_quant=(0.1, 9)),
        fc("depth 17: one block and one more value", rng, input_shape=(2, 17), output_depth=3,
           input_quant=(0.1, -1)),
        fc("odd sizes: 3 rows, depth 33, 7 outputs", rng, input_shape=(3, 33), output_depth=7,
           input_quant=(0.03, 11)),
        fc("zero point -128 with inputs at 127: input + offset = 255", rng,
           input_shape=(2, 40), output_depth=4, input_quant=(0.05, -128),
           input_values=np.full((2, 40), 127, dtype=np.int8), weights="extreme"),
        fc("zero point 127 with inputs at -128: input + offset = -255", rng,
           input_shape=(2, 40), output_depth=4, input_quant=(0.05, 127),
           input_values=np.full((2, 40), -128, dtype=np.int8), weights="extreme"),
        fc("per-tensor filter zero point 5", rng, input_shape=(3, 37), output_depth=6,
           input_quant=(0.05, -20), weight_scales=0.01, weight_zero_point=5),
        fc("saturates at -32768 and 32767", rng, input_shape=(4, 64), output_depth=8,
           input_quant=(0.05, 0), output_scale=2e-4),
        fc("ReLU clamps at 0", rng, input_shape=(3, 50), output_depth=6, activation=RELU),
        fc("RELU6 clamps at 6 / output scale", rng, input_shape=(3, 50), output_depth=6,
           input_quant=(0.05, 3), output_scale=6.0 / 30000, activation=RELU6),
        fc("extreme multipliers: shifts -31 to 24, one flushed to 0", rng,
           input_shape=(3, 24), output_depth=len(EXTREME_REAL_MULTIPLIERS),
           input_quant=(1.0, 3), output_scale=1.0, weight_scales=EXTREME_REAL_MULTIPLIERS),
        fc("bias near the int32 limits wraps the accumulator", rng, input_shape=(2, 20),
           output_depth=5, bias=_wrapping_bias(rng, 5)),
        fc("no bias", rng, input_shape=(2, 21), output_depth=3, bias=None),
        fc("3-D input (2, 3, 40)", rng, input_shape=(2, 3, 40), output_depth=5,
           input_quant=(0.05, -3)),
        fc("channels of zero, 127 and -127 weights", rng, input_shape=(3, 30), output_depth=5,
           weights=_channels_of(rng, 5, 30, (0, 127, -127))),
        fc("largest accumulation: depth 66311 of 255 * 127 and -255 * 127", rng,
           input_shape=(1, MAX_INT8_SUM_DEPTH), output_depth=2, input_quant=(1e-3, -128),
           input_values=largest_inputs, output_scale=0.1, weight_scales=1e-3, bias=None,
           weights=_channels_of(rng, 2, MAX_INT8_SUM_DEPTH, (127, -127))),
    ]
    valid = cases[6]
    cases += [
        rejected(valid, "rejects negative rows", rows=-1),
        rejected(valid, "rejects input depth 0", input_depth=0),
        rejected(valid, "rejects output depth 0", output_depth=0),
        rejected(valid, "rejects output offset 1", params_output_offset=1),
        rejected(valid, "rejects activation max 32768", params_activation_max=32768),
        rejected(valid, "rejects activation min -32769", params_activation_min=-32769),
        rejected(valid, "rejects activation min above max", params_activation_min=10,
                 params_activation_max=9),
    ]
    return cases + _random_fully_connected_cases(rng, 20, int4=False)


# --- fully_connected, int4 weights, int16 output -------------------------------------------


def fully_connected_s8_s4_s16_cases() -> list[KernelCase]:
    rng = np.random.default_rng(3102)
    fc = fully_connected_s16_case
    per_channel = {"group_size": None}
    largest_inputs = np.full((1, MAX_INT4_SUM_DEPTH), 127, dtype=np.int8)
    largest_weights = np.full((2, MAX_INT4_SUM_DEPTH), 7, dtype=np.int8)
    largest_weights[1] = -7
    cases = [
        fc("MiniLM attention output slice, groups of 32", rng, input_shape=(32, 384),
           output_depth=24, input_quant=(0.04, 5), group_size=32),
        fc("per channel, depth 64", rng, input_shape=(3, 64), output_depth=8, **per_channel),
        fc("group size 1", rng, input_shape=(2, 9), output_depth=3, group_size=1),
        fc("group size 3, odd depth 7: half-filled last byte", rng, input_shape=(3, 7),
           output_depth=5, group_size=3),
        fc("group size larger than the depth", rng, input_shape=(2, 20), output_depth=4,
           group_size=64),
        fc("depth 1 per channel", rng, input_shape=(3, 1), output_depth=2, **per_channel),
        fc("weights -7 and 7, multipliers 1 and 255", rng, input_shape=(2, 48), output_depth=6,
           group_size=8, weights="extreme", multipliers="extreme"),
        fc("zero point -128 with inputs at 127", rng, input_shape=(2, 40), output_depth=4,
           input_quant=(0.05, -128), input_values=np.full((2, 40), 127, dtype=np.int8),
           group_size=8, weights="extreme"),
        fc("zero point 127 with inputs at -128", rng, input_shape=(2, 40), output_depth=4,
           input_quant=(0.05, 127), input_values=np.full((2, 40), -128, dtype=np.int8),
           weights="extreme", **per_channel),
        fc("saturates at -32768 and 32767", rng, input_shape=(4, 64), output_depth=8,
           output_scale=2e-4, group_size=16),
        fc("ReLU clamps at 0", rng, input_shape=(3, 50), output_depth=6, group_size=16,
           activation=RELU),
        fc("no bias", rng, input_shape=(2, 21), output_depth=3, group_size=4, bias=None),
        fc("3-D input (2, 3, 40)", rng, input_shape=(2, 3, 40), output_depth=5,
           input_quant=(0.05, -3), group_size=32),
        fc("extreme multipliers per channel", rng, input_shape=(3, 24),
           output_depth=len(EXTREME_REAL_MULTIPLIERS), input_quant=(1.0, 3), output_scale=1.0,
           weight_scales=EXTREME_REAL_MULTIPLIERS, **per_channel),
        fc("bias near the int32 limits wraps the accumulator", rng, input_shape=(2, 20),
           output_depth=5, group_size=8, bias=_wrapping_bias(rng, 5)),
        fc("largest per-group accumulation: depth 4717 of 255 * 255 * 7", rng,
           input_shape=(1, MAX_INT4_SUM_DEPTH), output_depth=2, input_quant=(1e-3, -128),
           input_values=largest_inputs, output_scale=0.1, weight_scales=[2e-2, 2e-2], bias=None,
           group_size=64, weights=largest_weights,
           multipliers=np.full((2, 74), 255, dtype=np.uint8)),
    ]
    valid = cases[3]
    cases += [
        rejected(valid, "rejects negative rows", rows=-1),
        rejected(valid, "rejects input depth 0", input_depth=0),
        rejected(valid, "rejects filter offset 1", params_filter_offset=1),
        rejected(valid, "rejects output offset -1", params_output_offset=-1),
        rejected(valid, "rejects group size 0 with group multipliers", group_size=0),
        rejected(valid, "rejects activation max 32768", params_activation_max=32768),
    ]
    return cases + _random_fully_connected_cases(rng, 20, int4=True)


def _random_fully_connected_cases(rng: np.random.Generator, count: int,
                                  int4: bool) -> list[KernelCase]:
    cases = []
    for index in range(count):
        rows, depth = int(rng.integers(1, 5)), int(rng.integers(1, 200))
        output_depth = int(rng.integers(1, 9))
        options = {"group_size": GROUP_SIZES[int(rng.integers(len(GROUP_SIZES)))]} if int4 else {}
        if not int4 and rng.random() < 0.2:
            options["weight_zero_point"] = int(rng.integers(-20, 21))
        input_quant = (_log_uniform(rng, 1e-3, 1.0), _zero_point(rng))
        graph, feeds = fully_connected_s16_graph(
            rng, input_shape=(rows, depth), output_depth=output_depth, input_quant=input_quant,
            weight_scales=[_log_uniform(rng, 1e-4, 0.1) for _ in range(output_depth)],
            activation=_activation(rng), bias="random" if rng.random() < 0.7 else None,
            **options,
        )
        # Spread the output scale so that some configurations saturate.
        output = graph.tensors["output"]
        output.quant.scale[:] = np.float32(output.quant.scale[0] * _log_uniform(rng, 0.05, 3.0))
        cases.append(residual_case(f"random configuration {index}", graph, feeds))
    return cases


# --- add of int16 tensors ------------------------------------------------------------------


def _all_pairs(values) -> tuple[np.ndarray, np.ndarray]:
    grid1, grid2 = np.meshgrid(np.asarray(values), np.asarray(values))
    return grid1.ravel().astype(np.int16), grid2.ravel().astype(np.int16)


def add_s16_cases() -> list[KernelCase]:
    rng = np.random.default_rng(3103)
    limits1, limits2 = _all_pairs([-32768, -32767, -1, 0, 1, 32766, 32767])
    ties1, ties2 = _all_pairs(np.arange(-4, 5))
    cases = [
        add_s16_case("MiniLM residual: 32 rows of 384", normal_int16(rng, (32, 384), 4000),
                     normal_int16(rng, (32, 384), 6000), scales=(3e-4, 5e-4)),
        add_s16_case("size 1", random_int16(rng, (1,)), random_int16(rng, (1,)),
                     scales=(1e-3, 2e-3)),
        add_s16_case("odd size 7", random_int16(rng, (7,)), random_int16(rng, (7,)),
                     scales=(2e-3, 1e-3)),
        add_s16_case("4-D (1, 2, 3, 5)", random_int16(rng, (1, 2, 3, 5)),
                     random_int16(rng, (1, 2, 3, 5)), scales=(1e-3, 7e-4)),
        add_s16_case("halves round away from zero: equal scales, output scale twice", ties1,
                     ties2, scales=(1e-3, 1e-3), output_scale=2e-3),
        add_s16_case("int16 limits saturate both ways", limits1, limits2, scales=(1e-3, 1e-3),
                     output_scale=1e-3),
        add_s16_case("smallest output scale: multiplier just below 1",
                     rng.integers(-2, 3, size=64), rng.integers(-3, 4, size=64),
                     scales=(1e-2, 4e-3),
                     output_scale=float(np.float32(1e-2 / 2**14 * 1.0001))),
        add_s16_case("output scale 1000 times the inputs'", random_int16(rng, (40,)),
                     random_int16(rng, (40,)), scales=(1e-3, 1e-3), output_scale=1.0),
        add_s16_case("second input 10000 times finer", random_int16(rng, (40,)),
                     random_int16(rng, (40,)), scales=(1e-2, 1e-6)),
        add_s16_case("second input multiplier flushed to 0", random_int16(rng, (40,)),
                     random_int16(rng, (40,)), scales=(1.0, 2**-34)),
        add_s16_case("first input finer than the second", random_int16(rng, (33,)),
                     random_int16(rng, (33,)), scales=(3e-5, 8e-4)),
        add_s16_case("ReLU clamps at 0", random_int16(rng, (50,)), random_int16(rng, (50,)),
                     scales=(1e-3, 1e-3), activation=RELU),
        add_s16_case("RELU6 clamps at 6 / output scale", random_int16(rng, (50,)),
                     random_int16(rng, (50,)), scales=(5e-4, 5e-4), output_scale=6 / 30000,
                     activation=RELU6),
        add_s16_case("in place over the first input", normal_int16(rng, (8, 24), 5000),
                     normal_int16(rng, (8, 24), 5000), scales=(4e-4, 4e-4), in_place=True),
        add_s16_case("all zeros", np.zeros(16, np.int16), np.zeros(16, np.int16),
                     scales=(1e-3, 2e-3)),
        add_s16_case("4096 values with output scale equal to the first input's",
                     normal_int16(rng, (4096,), 8000), normal_int16(rng, (4096,), 8000),
                     scales=(1e-3, 9e-4), output_scale=1e-3),
    ]
    valid = cases[2]
    cases += [
        rejected(valid, "rejects negative size", size=-1),
        rejected(valid, "rejects left shift 16", params_left_shift=16),
        rejected(valid, "rejects input1 offset 1", params_input1_offset=1),
        rejected(valid, "rejects input2 offset -1", params_input2_offset=-1),
        rejected(valid, "rejects output offset 1", params_output_offset=1),
        rejected(valid, "rejects input2 shift 1", params_input2_shift=1),
        rejected(valid, "rejects output shift 1", params_output_shift=1),
        rejected(valid, "rejects a negative output multiplier", params_output_multiplier=-1),
        rejected(valid, "rejects activation min -32769", params_activation_min=-32769),
        rejected(valid, "rejects activation min above max", params_activation_min=5,
                 params_activation_max=4),
    ]
    return cases + _random_add_cases(rng, 20)


def _random_add_cases(rng: np.random.Generator, count: int) -> list[KernelCase]:
    cases = []
    for index in range(count):
        rank = int(rng.integers(1, 5))
        shape = tuple(int(d) for d in rng.integers(1, 7, size=rank))
        scales = (_log_uniform(rng, 1e-5, 1e-1), _log_uniform(rng, 1e-5, 1e-1))
        smallest = max(scales) / 2**14
        output_scale = max((scales[0] + scales[1]) * _log_uniform(rng, 0.05, 3.0),
                           smallest * 1.01)
        if rng.random() < 0.5:
            values = (random_int16(rng, shape), random_int16(rng, shape))
        else:
            spread = _log_uniform(rng, 1.0, INT16_MAX)
            values = (normal_int16(rng, shape, spread), normal_int16(rng, shape, spread))
        cases.append(add_s16_case(
            f"random configuration {index}", *values, scales=scales,
            output_scale=output_scale, activation=_activation(rng),
        ))
    return cases


PROGRAMS = [
    ("fully_connected_s8_s16", ("fully_connected_s8_s16.c",), fully_connected_s8_s16_cases),
    ("fully_connected_s8_s4_s16", ("fully_connected_s8_s4_s16.c",),
     fully_connected_s8_s4_s16_cases),
    ("add_s16", ("add_s16.c",), add_s16_cases),
]
