"""The kernel test programs and their cases.

Each ``Program`` is one C program: the kernel sources it links and a function returning its
cases. Case names describe the scenario. Besides the valid calls, every kernel program has
cases with invalid arguments, which must return EDGEC_ERROR_ARGUMENT and leave the output
untouched. The ``fixed_point`` program checks the helpers of fixed_point.h directly against
``edgec.quantize.fixed_point``.

Data is random but seeded, so every run builds the same programs.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edgec.quantize import fixed_point as fp
from tests.kernels.bench import KernelCase, untouched_output
from tests.kernels.graphs import (
    RELU,
    RELU6,
    binary_case,
    clip_case,
    concat_case,
    conv_case,
    dequantize_case,
    fully_connected_case,
    pad_case,
    pool_case,
    quantize_float_case,
    random_int8,
    requantize_case,
    softmax_case,
    transpose_case,
)
from tests.kernels.int4_graphs import (
    int4_conv_case,
    int4_fully_connected_case,
    random_int4_conv_cases,
    random_int4_fully_connected_cases,
)
from tests.kernels.int16_graphs import (
    conv16_case,
    fully_connected16_case,
    random_conv16_cases,
    random_fully_connected16_cases,
    random_requantize16_cases,
    requantize16_case,
)
from tests.kernels.int16_graphs import spread_output_scale as spread_output_scale_16
from tests.kernels.random_cases import (
    random_binary_cases,
    random_conv_cases,
    random_fully_connected_cases,
    random_pool_cases,
    random_requantize_cases,
    random_softmax_cases,
)
from tests.kernels.transformer_cases import TRANSFORMER_PROGRAMS

EDGEC_ERROR_ARGUMENT = 1

# Scales that spread the per-channel real multipliers input_scale * weight_scale / output_scale
# over the whole range. They include a multiplier flushed to 0 (below 2**-32), the most
# negative shift (-31), Q31 multipliers of 2**31 - 1, and left shifts of 2, 12 and 24, where
# the accumulator wraps before the multiply. test_extreme_multipliers_cover_range checks this.
EXTREME_INPUT_SCALE = float(np.float32(1 + 2**-15))
EXTREME_OUTPUT_SCALE = float(np.float32(1 + 2**-16))
EXTREME_REAL_MULTIPLIERS = (2**-40, 2**-31.5, 2**-20, 1e-3, 0.5, 1.0, 3.7, 2**12, 2**24)
# With the two scales above, this weight scale gives (1 - ~2**-31) * 2**-8: the multiplier
# rounds to 2**31 - 1 with shift -8.
NEAR_MAX_WEIGHT_SCALE = float(np.float32((1 - 2**-16) * 2**-8))


def extreme_weight_scales() -> np.ndarray:
    scales = [
        real * EXTREME_OUTPUT_SCALE / EXTREME_INPUT_SCALE for real in EXTREME_REAL_MULTIPLIERS
    ]
    return np.array(scales + [NEAR_MAX_WEIGHT_SCALE], dtype=np.float32)


def rejected(case: KernelCase, name: str, change: Callable[[KernelCase], None]) -> KernelCase:
    """A copy of ``case`` whose arguments ``change`` makes invalid: the kernel must return
    EDGEC_ERROR_ARGUMENT and write nothing."""
    bad = copy.deepcopy(case)
    bad.name = name
    bad.symbols = {}
    change(bad)
    bad.expected = untouched_output(case.output_size)
    bad.expected_status = EDGEC_ERROR_ARGUMENT
    return bad


def _set(path: str, value) -> Callable[[KernelCase], None]:
    """Return a change that sets ``case.fields`` at the dotted ``path`` to ``value``."""
    keys = path.split(".")

    def change(case: KernelCase) -> None:
        target = case.fields
        for key in keys[:-1]:
            target = target[key]
        if isinstance(target, list):
            target[int(keys[-1])] = value
        else:
            target[keys[-1]] = value

    return change


def _set_array(role: str, index: int, value) -> Callable[[KernelCase], None]:
    def change(case: KernelCase) -> None:
        values = case.arrays[role].copy()
        values.ravel()[index] = value
        case.arrays[role] = values

    return change


# --- convolution -------------------------------------------------------------------------


def conv2d_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2001)
    cases = [
        conv_case("3x3 pad 1 on every side, 3 -> 5 channels", rng,
                  input_shape=(1, 5, 5, 3), kernel=(3, 3), channels=5, pads=(1, 1, 1, 1)),
        conv_case("1x1 odd depth 7, no bias", rng,
                  input_shape=(1, 4, 3, 7), kernel=(1, 1), channels=3, bias=None),
        conv_case("3x2 asymmetric pads (0,1,2,0), batch 2", rng,
                  input_shape=(2, 5, 6, 3), kernel=(3, 2), channels=4, pads=(0, 1, 2, 0)),
        conv_case("stride 2 on even 8x8 input, pads bottom/right", rng,
                  input_shape=(1, 8, 8, 4), kernel=(3, 3), channels=6, strides=(2, 2),
                  pads=(0, 0, 1, 1)),
        conv_case("stride 2 on even 6x6 input, pads top/left", rng,
                  input_shape=(1, 6, 6, 2), kernel=(3, 3), channels=3, strides=(2, 2),
                  pads=(1, 1, 0, 0)),
        conv_case("stride (2,1), pads (0,2,2,0)", rng,
                  input_shape=(1, 6, 5, 3), kernel=(2, 3), channels=5, strides=(2, 1),
                  pads=(0, 2, 2, 0)),
        conv_case("dilation 2, pad 2", rng,
                  input_shape=(1, 7, 7, 3), kernel=(3, 3), channels=4, dilations=(2, 2),
                  pads=(2, 2, 2, 2)),
        conv_case("dilation (2,1) with stride 2", rng,
                  input_shape=(1, 8, 6, 2), kernel=(3, 3), channels=3, strides=(2, 2),
                  dilations=(2, 1), pads=(1, 0, 1, 1)),
        conv_case("5x5 window larger than 3x3 input", rng,
                  input_shape=(1, 3, 3, 2), kernel=(5, 5), channels=3, pads=(2, 2, 2, 2)),
        conv_case("stride 3 larger than 1x1 kernel", rng,
                  input_shape=(1, 7, 7, 3), kernel=(1, 1), channels=2, strides=(3, 3)),
        conv_case("input zero point -128, output zero point 127", rng,
                  input_shape=(1, 5, 5, 3), kernel=(3, 3), channels=3, pads=(1, 1, 1, 1),
                  input_quant=(0.02, -128), output_quant=(0.05, 127)),
        conv_case("input zero point 127, output zero point -128", rng,
                  input_shape=(1, 5, 5, 3), kernel=(3, 3), channels=3, pads=(1, 1, 1, 1),
                  input_quant=(0.02, 127), output_quant=(0.05, -128)),
        conv_case("all-zero weight channels 1 and 3", rng,
                  input_shape=(1, 4, 4, 3), kernel=(3, 3), channels=5, pads=(1, 1, 1, 1),
                  zero_channels=(1, 3)),
        conv_case("all-zero weight channels, no bias", rng,
                  input_shape=(1, 4, 4, 3), kernel=(3, 3), channels=3, bias=None,
                  zero_channels=(0, 2)),
        conv_case("extreme multipliers and shifts per channel", rng,
                  input_shape=(1, 4, 4, 4), kernel=(3, 3), channels=10, pads=(1, 1, 1, 1),
                  input_quant=(EXTREME_INPUT_SCALE, 3),
                  output_quant=(EXTREME_OUTPUT_SCALE, -5),
                  weight_scales=extreme_weight_scales()),
        conv_case("relu6 clamps both sides", rng,
                  input_shape=(1, 5, 5, 4), kernel=(3, 3), channels=4, pads=(1, 1, 1, 1),
                  output_quant=(0.05, -10), activation=RELU6),
        conv_case("relu with output zero point 20", rng,
                  input_shape=(1, 5, 5, 4), kernel=(3, 3), channels=4,
                  output_quant=(0.5, 20), activation=RELU),
        conv_case("activation (-1, 1) saturates", rng,
                  input_shape=(1, 4, 4, 3), kernel=(3, 3), channels=3, pads=(1, 1, 1, 1),
                  output_quant=(0.005, 0), activation=(-1.0, 1.0)),
        conv_case("per-tensor filter zero point 3", rng,
                  input_shape=(1, 5, 5, 3), kernel=(3, 3), channels=4, pads=(1, 1, 1, 1),
                  weight_scales=[0.01], weight_zero_point=3),
        conv_case("bias at the int32 limits", rng,
                  input_shape=(1, 3, 3, 2), kernel=(3, 3), channels=5, pads=(1, 1, 1, 1),
                  bias=[-(2**31), 2**31 - 1, -(2**30), 2**30, 0]),
        conv_case("batch 3, no padding", rng,
                  input_shape=(3, 5, 4, 2), kernel=(2, 2), channels=3),
    ]
    valid = cases[0]
    cases += [
        rejected(valid, "rejects filter depth != input depth", _set("filter_dims.3", 2)),
        rejected(valid, "rejects output channels != filters", _set("output_dims.3", 4)),
        rejected(valid, "rejects stride 0", _set("params.stride_w", 0)),
        rejected(valid, "rejects dilation 0", _set("params.dilation_h", 0)),
        rejected(valid, "rejects activation_min > activation_max", _activation(11, 10)),
        rejected(valid, "rejects activation_max above 127", _activation(-128, 128)),
    ]
    return cases + random_conv_cases(rng, 30, depthwise=False)


def _activation(minimum: int, maximum: int) -> Callable[[KernelCase], None]:
    def change(case: KernelCase) -> None:
        case.fields["params"]["activation_min"] = minimum
        case.fields["params"]["activation_max"] = maximum

    return change


def depthwise_conv2d_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2002)
    dw = {"depthwise": True}
    cases = [
        conv_case("3x3 multiplier 1, pad 1, 5 channels", rng, **dw,
                  input_shape=(1, 6, 6, 5), kernel=(3, 3), pads=(1, 1, 1, 1)),
        conv_case("multiplier 2, 3 channels", rng, **dw, depth_multiplier=2,
                  input_shape=(1, 5, 5, 3), kernel=(3, 3), pads=(1, 1, 1, 1)),
        conv_case("multiplier 3, stride 2 on even input", rng, **dw, depth_multiplier=3,
                  input_shape=(1, 8, 8, 3), kernel=(3, 3), strides=(2, 2), pads=(0, 0, 1, 1)),
        conv_case("multiplier 1, dilation 2", rng, **dw,
                  input_shape=(1, 7, 7, 4), kernel=(3, 3), dilations=(2, 2), pads=(2, 2, 2, 2)),
        conv_case("3x2 asymmetric pads (2,0,0,1), batch 2", rng, **dw,
                  input_shape=(2, 5, 6, 3), kernel=(3, 2), pads=(2, 0, 0, 1)),
        conv_case("stride (1,2), multiplier 2, pads (1,0,1,2)", rng, **dw, depth_multiplier=2,
                  input_shape=(1, 6, 6, 3), kernel=(3, 3), strides=(1, 2), pads=(1, 0, 1, 2)),
        conv_case("5x5 window on 3x3 input", rng, **dw,
                  input_shape=(1, 3, 3, 3), kernel=(5, 5), pads=(2, 2, 2, 2)),
        conv_case("input zero point -128, output zero point 127", rng, **dw,
                  input_shape=(1, 5, 5, 3), kernel=(3, 3), pads=(1, 1, 1, 1),
                  input_quant=(0.02, -128), output_quant=(0.05, 127)),
        conv_case("input zero point 127, output zero point -128", rng, **dw, depth_multiplier=2,
                  input_shape=(1, 5, 5, 3), kernel=(3, 3), pads=(1, 1, 1, 1),
                  input_quant=(0.02, 127), output_quant=(0.05, -128)),
        conv_case("extreme multipliers and shifts per channel", rng, **dw, depth_multiplier=5,
                  input_shape=(1, 4, 4, 2), kernel=(3, 3), pads=(1, 1, 1, 1),
                  input_quant=(EXTREME_INPUT_SCALE, -3),
                  output_quant=(EXTREME_OUTPUT_SCALE, 7),
                  weight_scales=extreme_weight_scales()),
        conv_case("relu6 clamps both sides", rng, **dw,
                  input_shape=(1, 5, 5, 4), kernel=(3, 3), pads=(1, 1, 1, 1),
                  output_quant=(0.02, -10), activation=RELU6),
        conv_case("all-zero weight channels, no bias", rng, **dw, depth_multiplier=2,
                  input_shape=(1, 4, 4, 3), kernel=(3, 3), pads=(1, 1, 1, 1), bias=None,
                  zero_channels=(0, 3, 5)),
        conv_case("per-tensor filter zero point -4", rng, **dw,
                  input_shape=(1, 5, 5, 3), kernel=(3, 3), pads=(1, 1, 1, 1),
                  weight_scales=[0.01], weight_zero_point=-4),
        conv_case("bias at the int32 limits", rng, **dw,
                  input_shape=(1, 3, 3, 4), kernel=(3, 3), pads=(1, 1, 1, 1),
                  bias=[-(2**31), 2**31 - 1, -(2**30), 2**30]),
    ]
    valid = cases[1]
    cases += [
        rejected(valid, "rejects filter channels != input channels * multiplier",
                 _set("params.depth_multiplier", 3)),
        rejected(valid, "rejects multiplier 0", _set("params.depth_multiplier", 0)),
        rejected(valid, "rejects output channels != filter channels", _set("output_dims.3", 3)),
        rejected(valid, "rejects stride 0", _set("params.stride_h", 0)),
        rejected(valid, "rejects activation_min below -128", _activation(-129, 127)),
    ]
    return cases + random_conv_cases(rng, 30, depthwise=True)


def fully_connected_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2003)
    cases = [
        fully_connected_case("one row, depth 16 -> 10", rng, input_shape=(1, 16), output_depth=10),
        fully_connected_case("3 rows, odd depth 7 -> 5", rng, input_shape=(3, 7), output_depth=5),
        fully_connected_case("4-D input flattened to one row", rng,
                             input_shape=(1, 2, 2, 4), output_depth=3),
        fully_connected_case("depth 1000", rng, input_shape=(2, 1000), output_depth=4),
        fully_connected_case("input zero point -128, output zero point 127", rng,
                             input_shape=(2, 9), output_depth=3, input_quant=(0.02, -128),
                             output_quant=(0.05, 127)),
        fully_connected_case("input zero point 127, output zero point -128", rng,
                             input_shape=(2, 9), output_depth=3, input_quant=(0.02, 127),
                             output_quant=(0.05, -128)),
        fully_connected_case("extreme multipliers and shifts per channel", rng,
                             input_shape=(3, 12), output_depth=10,
                             input_quant=(EXTREME_INPUT_SCALE, 1),
                             output_quant=(EXTREME_OUTPUT_SCALE, 0),
                             weight_scales=extreme_weight_scales()),
        fully_connected_case("relu6 clamps both sides", rng, input_shape=(4, 8), output_depth=6,
                             output_quant=(0.02, -10), activation=RELU6),
        fully_connected_case("all-zero weight rows, no bias", rng, input_shape=(2, 5),
                             output_depth=4, bias=None, zero_channels=(1, 2)),
        fully_connected_case("per-tensor filter zero point 5", rng, input_shape=(2, 6),
                             output_depth=3, weight_scales=[0.01], weight_zero_point=5),
        fully_connected_case("bias at the int32 limits", rng, input_shape=(1, 4), output_depth=4,
                             bias=[-(2**31), 2**31 - 1, -(2**30), 2**30]),
    ]
    valid = cases[1]
    cases += [
        rejected(valid, "rejects input depth 0", _set("input_depth", 0)),
        rejected(valid, "rejects negative rows", _set("rows", -1)),
        rejected(valid, "rejects activation_min > activation_max", _activation(5, 4)),
    ]
    return cases + random_fully_connected_cases(rng, 20)


# --- int4 weights ------------------------------------------------------------------------


def conv2d_s4_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2016)
    cases = [
        int4_conv_case("per channel, odd K 27, pad 1 on every side", rng,
                       input_shape=(1, 5, 5, 3), kernel=(3, 3), channels=5, pads=(1, 1, 1, 1)),
        int4_conv_case("group size 8, K 27 not a multiple, pad 1 on every side", rng,
                       input_shape=(1, 5, 5, 3), kernel=(3, 3), channels=5, pads=(1, 1, 1, 1),
                       group_size=8),
        int4_conv_case("group size 32, K 45, stride 2, pads bottom/right", rng,
                       input_shape=(1, 8, 8, 5), kernel=(3, 3), channels=4, strides=(2, 2),
                       pads=(0, 0, 1, 1), group_size=32),
        int4_conv_case("group size 64, K 100, dilation 2, pad 4", rng,
                       input_shape=(1, 9, 9, 4), kernel=(5, 5), channels=3, dilations=(2, 2),
                       pads=(4, 4, 4, 4), group_size=64),
        int4_conv_case("group size 8, stride 2, pads top/left", rng,
                       input_shape=(1, 6, 6, 3), kernel=(3, 3), channels=3, strides=(2, 2),
                       pads=(1, 1, 0, 0), group_size=8),
        int4_conv_case("group size 8, asymmetric pads (0,1,2,0), batch 2", rng,
                       input_shape=(2, 5, 6, 3), kernel=(3, 2), channels=4, pads=(0, 1, 2, 0),
                       group_size=8),
        int4_conv_case("group size 8, dilation (2,1) with stride 2", rng,
                       input_shape=(1, 8, 6, 3), kernel=(3, 3), channels=3, strides=(2, 2),
                       dilations=(2, 1), pads=(1, 0, 1, 1), group_size=8),
        int4_conv_case("group size 8, 1x1 conv, K 64 a multiple", rng,
                       input_shape=(1, 3, 3, 64), kernel=(1, 1), channels=3, group_size=8),
        int4_conv_case("group size 32 equal to K: one group", rng,
                       input_shape=(1, 4, 4, 8), kernel=(2, 2), channels=3, group_size=32),
        int4_conv_case("group size 2, odd K 3", rng,
                       input_shape=(1, 4, 4, 3), kernel=(1, 1), channels=4, group_size=2),
        int4_conv_case("group size 8, 5x5 window larger than 3x3 input", rng,
                       input_shape=(1, 3, 3, 2), kernel=(5, 5), channels=3, pads=(2, 2, 2, 2),
                       group_size=8),
        int4_conv_case("group size 8, all-zero channels 1 and 3", rng,
                       input_shape=(1, 4, 4, 3), kernel=(3, 3), channels=5, pads=(1, 1, 1, 1),
                       group_size=8, zero_channels=(1, 3)),
        int4_conv_case("per channel, all-zero channels, no bias", rng,
                       input_shape=(1, 4, 4, 3), kernel=(3, 3), channels=3, bias=None,
                       zero_channels=(0, 2)),
        int4_conv_case("group size 8, weights at -7 and 7, multipliers 1 and 255", rng,
                       input_shape=(1, 5, 5, 4), kernel=(3, 3), channels=4, pads=(1, 1, 1, 1),
                       group_size=8, weights="extreme", multipliers="extreme",
                       input_quant=(0.05, 127)),
        int4_conv_case("per channel, extreme multipliers and shifts", rng,
                       input_shape=(1, 4, 4, 4), kernel=(3, 3), channels=10, pads=(1, 1, 1, 1),
                       input_quant=(EXTREME_INPUT_SCALE, 3),
                       output_quant=(EXTREME_OUTPUT_SCALE, -5),
                       weight_scales=extreme_weight_scales()),
        int4_conv_case("group size 8, extreme multipliers and shifts", rng,
                       input_shape=(1, 4, 4, 4), kernel=(3, 3), channels=10, pads=(1, 1, 1, 1),
                       input_quant=(EXTREME_INPUT_SCALE, 3),
                       output_quant=(EXTREME_OUTPUT_SCALE, -5), group_size=8,
                       multipliers="extreme", weight_scales=extreme_weight_scales() * 255),
        int4_conv_case("group size 8, input zero point -128, output zero point 127", rng,
                       input_shape=(1, 5, 5, 3), kernel=(3, 3), channels=3, pads=(1, 1, 1, 1),
                       input_quant=(0.02, -128), output_quant=(0.05, 127), group_size=8),
        int4_conv_case("group size 8, relu6 clamps both sides", rng,
                       input_shape=(1, 5, 5, 4), kernel=(3, 3), channels=4, pads=(1, 1, 1, 1),
                       group_size=8, output_quant=(0.05, -10), activation=RELU6),
        int4_conv_case("group size 8, bias at the int32 limits", rng,
                       input_shape=(1, 3, 3, 2), kernel=(3, 3), channels=5, pads=(1, 1, 1, 1),
                       group_size=8, bias=[-(2**31), 2**31 - 1, -(2**30), 2**30, 0]),
    ]
    valid = cases[1]
    cases += [
        rejected(valid, "rejects filter offset 1", _set("params.filter_offset", 1)),
        rejected(valid, "rejects group size 0 with multipliers", _set("group_size", 0)),
        rejected(valid, "rejects filter depth != input depth", _set("filter_dims.3", 2)),
        rejected(valid, "rejects stride 0", _set("params.stride_w", 0)),
        rejected(valid, "rejects activation_min > activation_max", _activation(11, 10)),
    ]
    return cases + random_int4_conv_cases(rng, 30, depthwise=False)


def depthwise_conv2d_s4_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2017)
    dw = {"depthwise": True}
    cases = [
        int4_conv_case("per channel, odd K 9, pad 1 on every side", rng, **dw,
                       input_shape=(1, 6, 6, 5), kernel=(3, 3), pads=(1, 1, 1, 1)),
        int4_conv_case("group size 8, K 9, multiplier 2", rng, **dw, depth_multiplier=2,
                       input_shape=(1, 5, 5, 3), kernel=(3, 3), pads=(1, 1, 1, 1),
                       group_size=8),
        int4_conv_case("group size 8, K 25, multiplier 3, stride 2", rng, **dw,
                       depth_multiplier=3, input_shape=(1, 8, 8, 2), kernel=(5, 5),
                       strides=(2, 2), pads=(2, 2, 1, 1), group_size=8),
        int4_conv_case("group size 32, K 49, dilation 2, pad 6", rng, **dw,
                       input_shape=(1, 8, 8, 3), kernel=(7, 7), dilations=(2, 2),
                       pads=(6, 6, 6, 6), group_size=32),
        int4_conv_case("group size 64, K 81, asymmetric pads (4,3,4,5)", rng, **dw,
                       input_shape=(1, 6, 6, 2), kernel=(9, 9), pads=(4, 3, 4, 5),
                       group_size=64),
        int4_conv_case("group size 8, asymmetric pads (2,0,0,1), batch 2", rng, **dw,
                       input_shape=(2, 5, 6, 3), kernel=(3, 2), pads=(2, 0, 0, 1),
                       group_size=8),
        int4_conv_case("group size 8, stride (1,2), multiplier 2, pads (1,0,1,2)", rng, **dw,
                       depth_multiplier=2, input_shape=(1, 6, 6, 3), kernel=(3, 3),
                       strides=(1, 2), pads=(1, 0, 1, 2), group_size=8),
        int4_conv_case("group size 2, all-zero channels, no bias", rng, **dw,
                       depth_multiplier=2, input_shape=(1, 4, 4, 3), kernel=(3, 3),
                       pads=(1, 1, 1, 1), bias=None, group_size=2, zero_channels=(0, 3, 5)),
        int4_conv_case("group size 8, weights at -7 and 7, multipliers 1 and 255", rng, **dw,
                       depth_multiplier=2, input_shape=(1, 5, 5, 3), kernel=(3, 3),
                       pads=(1, 1, 1, 1), group_size=8, weights="extreme",
                       multipliers="extreme", input_quant=(0.05, -128)),
        int4_conv_case("per channel, extreme multipliers and shifts", rng, **dw,
                       depth_multiplier=5, input_shape=(1, 4, 4, 2), kernel=(3, 3),
                       pads=(1, 1, 1, 1), input_quant=(EXTREME_INPUT_SCALE, -3),
                       output_quant=(EXTREME_OUTPUT_SCALE, 7),
                       weight_scales=extreme_weight_scales()),
        int4_conv_case("group size 8, input zero point 127, output zero point -128", rng, **dw,
                       input_shape=(1, 5, 5, 3), kernel=(3, 3), pads=(1, 1, 1, 1),
                       input_quant=(0.02, 127), output_quant=(0.05, -128), group_size=8),
        int4_conv_case("group size 8, relu6 clamps both sides", rng, **dw,
                       input_shape=(1, 5, 5, 4), kernel=(3, 3), pads=(1, 1, 1, 1),
                       group_size=8, output_quant=(0.02, -10), activation=RELU6),
    ]
    valid = cases[1]
    cases += [
        rejected(valid, "rejects filter channels != input channels * multiplier",
                 _set("params.depth_multiplier", 3)),
        rejected(valid, "rejects filter offset -1", _set("params.filter_offset", -1)),
        rejected(valid, "rejects group size 0 with multipliers", _set("group_size", 0)),
        rejected(valid, "rejects dilation 0", _set("params.dilation_w", 0)),
    ]
    return cases + random_int4_conv_cases(rng, 30, depthwise=True)


# Accumulator close to the int32 bound: every input at -128 with zero point 127 (x -
# zero_point = -255), weights 7 (row 0) and -7 (row 1), every multiplier 255, 4700 values
# per row: the group sums add up to -/+ 255 * 255 * 7 * 4700 = 2,139,277,500.
NEAR_BOUND_DEPTH = 4700
NEAR_BOUND_GROUP_SIZE = 32


def fully_connected_s4_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2018)
    near_bound_inputs = np.full((1, NEAR_BOUND_DEPTH), -128, dtype=np.int8)
    near_bound_weights = np.stack([np.full(NEAR_BOUND_DEPTH, 7), np.full(NEAR_BOUND_DEPTH, -7)])
    groups = math.ceil(NEAR_BOUND_DEPTH / NEAR_BOUND_GROUP_SIZE)
    near_bound_multipliers = np.full((2, groups), 255)
    cases = [
        int4_fully_connected_case("per channel, odd depth 7, 3 rows", rng,
                                  input_shape=(3, 7), output_depth=5),
        int4_fully_connected_case("group size 8, depth 27 not a multiple", rng,
                                  input_shape=(3, 27), output_depth=5, group_size=8),
        int4_fully_connected_case("group size 32, depth 100", rng,
                                  input_shape=(2, 100), output_depth=4, group_size=32),
        int4_fully_connected_case("group size 64, depth 1000", rng,
                                  input_shape=(2, 1000), output_depth=4, group_size=64),
        int4_fully_connected_case("group size 8, depth 64 a multiple, 4-D input", rng,
                                  input_shape=(1, 2, 2, 16), output_depth=3, group_size=8),
        int4_fully_connected_case("group size 2, odd depth 9", rng,
                                  input_shape=(2, 9), output_depth=3, group_size=2),
        int4_fully_connected_case("group size 8, all-zero rows, no bias", rng,
                                  input_shape=(2, 20), output_depth=4, bias=None,
                                  group_size=8, zero_channels=(1, 2)),
        int4_fully_connected_case("group size 8, weights at -7 and 7, multipliers 1 and 255",
                                  rng, input_shape=(2, 30), output_depth=4, group_size=8,
                                  weights="extreme", multipliers="extreme",
                                  input_quant=(0.05, 127)),
        int4_fully_connected_case("per channel, extreme multipliers and shifts", rng,
                                  input_shape=(3, 12), output_depth=10,
                                  input_quant=(EXTREME_INPUT_SCALE, 1),
                                  output_quant=(EXTREME_OUTPUT_SCALE, 0),
                                  weight_scales=extreme_weight_scales()),
        int4_fully_connected_case("group size 8, input zero point -128, output 127", rng,
                                  input_shape=(2, 19), output_depth=3, group_size=8,
                                  input_quant=(0.02, -128), output_quant=(0.05, 127)),
        int4_fully_connected_case("group size 32, accumulator near the int32 bound", rng,
                                  input_shape=(1, NEAR_BOUND_DEPTH), output_depth=2,
                                  group_size=NEAR_BOUND_GROUP_SIZE,
                                  weights=near_bound_weights,
                                  multipliers=near_bound_multipliers,
                                  weight_scales=[1.0, 1.0], input_quant=(1.0, 127),
                                  output_quant=(2.0**22, 0), bias=None,
                                  input_values=near_bound_inputs),
    ]
    valid = cases[1]
    cases += [
        rejected(valid, "rejects input depth 0", _set("input_depth", 0)),
        rejected(valid, "rejects filter offset 2", _set("params.filter_offset", 2)),
        rejected(valid, "rejects group size -1 with multipliers", _set("group_size", -1)),
    ]
    return cases + random_int4_fully_connected_cases(rng, 20)


# --- int16 activations (16x8) ------------------------------------------------------------

# Real multipliers of the 16x8 extreme case, within the shifts [-31, 7] the int16 kernels
# accept: one flushed to 0 (below 2**-32), shift -31, Q31 multipliers at or above 0x7FFF0000
# (0.99999, rounded to the 16-bit 0x7FFF), and shift 7 (100 and 127.99).
# test_int16_extreme_multipliers_cover_range checks this.
EXTREME_16X8_REAL_MULTIPLIERS = (
    2**-40, 2**-31.5, 2**-20, 1e-3, 0.5, 0.99999, 1.0, 3.7, 100.0, 127.99,
)
# Shapes of the cases whose int64 accumulator goes beyond int32: every input -32768 and
# every weight +-127 make each tap add +-4,161,536.
WIDE_CONV_SHAPE = (1, 3, 3, 64)  # 576 taps at the centre pixel: 2.4e9
WIDE_DEPTHWISE_SHAPE = (1, 23, 23, 2)  # one 23x23 window, 529 taps: 2.2e9
WIDE_FC_DEPTH = 4000  # 1.7e10


def extreme_16x8_weight_scales() -> np.ndarray:
    return np.array([
        real * EXTREME_OUTPUT_SCALE / EXTREME_INPUT_SCALE for real in EXTREME_16X8_REAL_MULTIPLIERS
    ], dtype=np.float32)


def _wide_weights(shape: tuple[int, ...], axis: int) -> np.ndarray:
    """Weights of the wide-accumulator cases (output channel axis ``axis``): channel 0 all
    -127, channel 1 all 127, the others alternating."""
    channel_first = (shape[axis],) + tuple(d for i, d in enumerate(shape) if i != axis)
    rows = np.full((shape[axis], int(np.prod(channel_first[1:]))), 127, dtype=np.int8)
    rows[0] = -127
    rows[2:, ::2] = -127
    return np.moveaxis(rows.reshape(channel_first), 0, axis)


# Weight scales of the wide-accumulator cases (input and output scale 1). Channels 0 and 1
# map the 2.4e9 accumulator to about 20,000 steps, and the fully connected case divides them
# by 7 for its 1.7e10. Channels 2 and 3 map a bias of +-2**40 to about +-50,000 steps, beyond
# the int16 limits.
WIDE_WEIGHT_SCALES = (8.3e-6, 8.3e-6, 4.6e-8, 4.6e-8)
WIDE_FC_WEIGHT_SCALES = (8.3e-6 / 7, 8.3e-6 / 7, 4.6e-8, 4.6e-8)
WIDE_BIAS = [0, 0, 2**40, -(2**40)]


def _int16_rejections(valid: KernelCase) -> list[KernelCase]:
    """Invalid arguments that every 16x8 convolution kernel rejects."""
    return [
        rejected(valid, "rejects input offset 1", _set("params.input_offset", 1)),
        rejected(valid, "rejects filter offset -1", _set("params.filter_offset", -1)),
        rejected(valid, "rejects output offset 2", _set("params.output_offset", 2)),
        rejected(valid, "rejects activation_max 32768", _activation(-32768, 32768)),
        rejected(valid, "rejects activation_min -32769", _activation(-32769, 0)),
        rejected(valid, "rejects activation_min > activation_max", _activation(1, 0)),
        rejected(valid, "rejects shift 8", _set_array("shifts", 1, 8)),
        rejected(valid, "rejects shift -32", _set_array("shifts", 0, -32)),
        rejected(valid, "rejects a negative multiplier", _set_array("multipliers", 2, -5)),
    ]


def conv2d_s16_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2019)
    taps = 3 * 3 * 8
    saturating_scale = spread_output_scale_16(1e-3, [0.01], taps) / 20
    cases = [
        conv16_case("3x3 pad 1 on every side, 3 -> 5 channels", rng,
                    input_shape=(1, 5, 5, 3), kernel=(3, 3), channels=5, pads=(1, 1, 1, 1)),
        conv16_case("1x1 odd depth 7, no bias", rng,
                    input_shape=(1, 4, 3, 7), kernel=(1, 1), channels=3, bias=None),
        conv16_case("3x2 asymmetric pads (0,1,2,0), batch 2", rng,
                    input_shape=(2, 5, 6, 3), kernel=(3, 2), channels=4, pads=(0, 1, 2, 0)),
        conv16_case("stride 2 on even 8x8 input, pads bottom/right", rng,
                    input_shape=(1, 8, 8, 4), kernel=(3, 3), channels=6, strides=(2, 2),
                    pads=(0, 0, 1, 1)),
        conv16_case("stride 2 on even 6x6 input, pads top/left", rng,
                    input_shape=(1, 6, 6, 2), kernel=(3, 3), channels=3, strides=(2, 2),
                    pads=(1, 1, 0, 0)),
        conv16_case("dilation 2, pad 2", rng,
                    input_shape=(1, 7, 7, 3), kernel=(3, 3), channels=4, dilations=(2, 2),
                    pads=(2, 2, 2, 2)),
        conv16_case("dilation (2,1) with stride 2", rng,
                    input_shape=(1, 8, 6, 2), kernel=(3, 3), channels=3, strides=(2, 2),
                    dilations=(2, 1), pads=(1, 0, 1, 1)),
        conv16_case("5x5 window larger than 3x3 input", rng,
                    input_shape=(1, 3, 3, 2), kernel=(5, 5), channels=3, pads=(2, 2, 2, 2)),
        conv16_case("all-zero weight channels 1 and 3", rng,
                    input_shape=(1, 4, 4, 3), kernel=(3, 3), channels=5, pads=(1, 1, 1, 1),
                    zero_channels=(1, 3)),
        conv16_case("extreme multipliers and shifts per channel", rng,
                    input_shape=(1, 4, 4, 4), kernel=(3, 3), channels=10, pads=(1, 1, 1, 1),
                    input_scale=EXTREME_INPUT_SCALE, output_scale=EXTREME_OUTPUT_SCALE,
                    weight_scales=extreme_16x8_weight_scales()),
        conv16_case("inputs at -32768 and 32767 saturate both sides", rng,
                    input_shape=(1, 4, 4, 8), kernel=(3, 3), channels=4, pads=(1, 1, 1, 1),
                    inputs="extreme", weights="extreme", weight_scales=[0.01],
                    output_scale=saturating_scale),
        conv16_case("relu6 clamps both sides", rng,
                    input_shape=(1, 5, 5, 4), kernel=(3, 3), channels=4, pads=(1, 1, 1, 1),
                    input_scale=5e-5, weight_scales=[0.01], output_scale=2e-4,
                    activation=RELU6),
        conv16_case("accumulator beyond int32, bias +-2**40", rng,
                    input_shape=WIDE_CONV_SHAPE, kernel=(3, 3), channels=4, pads=(1, 1, 1, 1),
                    inputs=np.full(WIDE_CONV_SHAPE, -32768, dtype=np.int16),
                    weights=_wide_weights((4, 3, 3, 64), 0), input_scale=1.0,
                    output_scale=1.0, weight_scales=WIDE_WEIGHT_SCALES, bias=WIDE_BIAS),
        conv16_case("batch 3, no padding", rng,
                    input_shape=(3, 5, 4, 2), kernel=(2, 2), channels=3),
    ]
    valid = cases[0]
    cases += [
        rejected(valid, "rejects filter depth != input depth", _set("filter_dims.3", 2)),
        rejected(valid, "rejects stride 0", _set("params.stride_w", 0)),
        rejected(valid, "rejects dilation 0", _set("params.dilation_h", 0)),
        *_int16_rejections(valid),
    ]
    return cases + random_conv16_cases(rng, 30, depthwise=False)


def depthwise_conv2d_s16_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2020)
    dw = {"depthwise": True}
    saturating_scale = spread_output_scale_16(1e-3, [0.01], 9) / 20
    cases = [
        conv16_case("3x3 multiplier 1, pad 1, 5 channels", rng, **dw,
                    input_shape=(1, 6, 6, 5), kernel=(3, 3), pads=(1, 1, 1, 1)),
        conv16_case("multiplier 2, 3 channels", rng, **dw, depth_multiplier=2,
                    input_shape=(1, 5, 5, 3), kernel=(3, 3), pads=(1, 1, 1, 1)),
        conv16_case("multiplier 3, stride 2 on even input", rng, **dw, depth_multiplier=3,
                    input_shape=(1, 8, 8, 3), kernel=(3, 3), strides=(2, 2), pads=(0, 0, 1, 1)),
        conv16_case("multiplier 1, dilation 2", rng, **dw,
                    input_shape=(1, 7, 7, 4), kernel=(3, 3), dilations=(2, 2),
                    pads=(2, 2, 2, 2)),
        conv16_case("3x2 asymmetric pads (2,0,0,1), batch 2", rng, **dw,
                    input_shape=(2, 5, 6, 3), kernel=(3, 2), pads=(2, 0, 0, 1)),
        conv16_case("stride (1,2), multiplier 2, pads (1,0,1,2)", rng, **dw, depth_multiplier=2,
                    input_shape=(1, 6, 6, 3), kernel=(3, 3), strides=(1, 2), pads=(1, 0, 1, 2)),
        conv16_case("5x5 window on 3x3 input", rng, **dw,
                    input_shape=(1, 3, 3, 3), kernel=(5, 5), pads=(2, 2, 2, 2)),
        conv16_case("extreme multipliers and shifts per channel", rng, **dw, depth_multiplier=5,
                    input_shape=(1, 4, 4, 2), kernel=(3, 3), pads=(1, 1, 1, 1),
                    input_scale=EXTREME_INPUT_SCALE, output_scale=EXTREME_OUTPUT_SCALE,
                    weight_scales=extreme_16x8_weight_scales()),
        conv16_case("inputs at -32768 and 32767 saturate both sides", rng, **dw,
                    depth_multiplier=2, input_shape=(1, 4, 4, 4), kernel=(3, 3),
                    pads=(1, 1, 1, 1), inputs="extreme", weights="extreme",
                    weight_scales=[0.01], output_scale=saturating_scale),
        conv16_case("relu6 clamps both sides", rng, **dw,
                    input_shape=(1, 5, 5, 4), kernel=(3, 3), pads=(1, 1, 1, 1),
                    input_scale=2e-4, weight_scales=[0.01], output_scale=2e-4,
                    activation=RELU6),
        conv16_case("all-zero weight channels, no bias", rng, **dw, depth_multiplier=2,
                    input_shape=(1, 4, 4, 3), kernel=(3, 3), pads=(1, 1, 1, 1), bias=None,
                    zero_channels=(0, 3, 5)),
        conv16_case("accumulator beyond int32, bias +-2**40", rng, **dw, depth_multiplier=2,
                    input_shape=WIDE_DEPTHWISE_SHAPE, kernel=(23, 23),
                    inputs=np.full(WIDE_DEPTHWISE_SHAPE, -32768, dtype=np.int16),
                    weights=_wide_weights((1, 23, 23, 4), 3), input_scale=1.0,
                    output_scale=1.0, weight_scales=WIDE_WEIGHT_SCALES, bias=WIDE_BIAS),
    ]
    valid = cases[1]
    cases += [
        rejected(valid, "rejects filter channels != input channels * multiplier",
                 _set("params.depth_multiplier", 3)),
        rejected(valid, "rejects multiplier 0", _set("params.depth_multiplier", 0)),
        rejected(valid, "rejects stride 0", _set("params.stride_h", 0)),
        *_int16_rejections(valid),
    ]
    return cases + random_conv16_cases(rng, 30, depthwise=True)


def fully_connected_s16_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2021)
    saturating_scale = spread_output_scale_16(1e-3, [0.01], 40) / 20
    cases = [
        fully_connected16_case("one row, depth 16 -> 10", rng, input_shape=(1, 16),
                               output_depth=10),
        fully_connected16_case("3 rows, odd depth 7 -> 5", rng, input_shape=(3, 7),
                               output_depth=5),
        fully_connected16_case("4-D input flattened to one row", rng, input_shape=(1, 2, 2, 4),
                               output_depth=3),
        fully_connected16_case("depth 1000", rng, input_shape=(2, 1000), output_depth=4),
        fully_connected16_case("extreme multipliers and shifts per channel", rng,
                               input_shape=(3, 12), output_depth=10,
                               input_scale=EXTREME_INPUT_SCALE,
                               output_scale=EXTREME_OUTPUT_SCALE,
                               weight_scales=extreme_16x8_weight_scales()),
        fully_connected16_case("inputs at -32768 and 32767 saturate both sides", rng,
                               input_shape=(4, 40), output_depth=6, inputs="extreme",
                               weights="extreme", weight_scales=[0.01],
                               output_scale=saturating_scale),
        fully_connected16_case("relu6 clamps both sides", rng, input_shape=(4, 8),
                               output_depth=6, input_scale=2e-4, weight_scales=[0.01],
                               output_scale=2e-4, activation=RELU6),
        fully_connected16_case("all-zero weight rows, no bias", rng, input_shape=(2, 5),
                               output_depth=4, bias=None, zero_channels=(1, 2)),
        fully_connected16_case("accumulator beyond int32, bias +-2**40", rng,
                               input_shape=(1, WIDE_FC_DEPTH), output_depth=4,
                               inputs=np.full((1, WIDE_FC_DEPTH), -32768, dtype=np.int16),
                               weights=_wide_weights((4, WIDE_FC_DEPTH), 0), input_scale=1.0,
                               output_scale=1.0,
                               weight_scales=WIDE_FC_WEIGHT_SCALES,
                               bias=WIDE_BIAS),
    ]
    valid = cases[1]
    cases += [
        rejected(valid, "rejects input depth 0", _set("input_depth", 0)),
        rejected(valid, "rejects negative rows", _set("rows", -1)),
        *_int16_rejections(valid),
    ]
    return cases + random_fully_connected16_cases(rng, 20)


def requantize_s8_s16_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2022)
    shape = (3, 17)
    int8 = {"input_dtype": "int8"}
    cases = [
        requantize16_case("zero point -128 to an int16 scale 128 times finer", rng, **int8,
                          shape=shape, input_quant=(0.05, -128), output_quant=(0.05 / 128, 0)),
        requantize16_case("zero point 127, scale ratio 200", rng, **int8, shape=shape,
                          input_quant=(0.1, 127), output_quant=(0.1 / 200, 0)),
        requantize16_case("all 256 codes, zero point 3, scale ratio 129.5", rng, **int8,
                          shape=(256,), input_quant=(0.02, 3), output_quant=(0.02 / 129.5, 0),
                          values=np.arange(-128, 128, dtype=np.int8)),
        requantize16_case("scale ratio 300 saturates at both int16 limits", rng, **int8,
                          shape=(256,), input_quant=(0.3, 0), output_quant=(1e-3, 0),
                          values=np.arange(-128, 128, dtype=np.int8)),
        requantize16_case("scale ratio 2**-33 flushes the multiplier to 0", rng, **int8,
                          shape=shape, input_quant=(2**-33, 9), output_quant=(1.0, 0)),
        requantize16_case("scale ratio 3e7: left shift 25 wraps", rng, **int8, shape=shape,
                          input_quant=(3.0, 0), output_quant=(1e-7, 0)),
        requantize16_case("scale ratio just below 1", rng, **int8, shape=shape,
                          input_quant=(float(np.float32(1 - 2**-24)), -7),
                          output_quant=(1.0, 0)),
    ]
    valid = cases[0]
    cases += [
        rejected(valid, "rejects negative size", _set("size", -1)),
        rejected(valid, "rejects activation_max 32768", _activation(0, 32768)),
        rejected(valid, "rejects activation_min > activation_max", _activation(1, 0)),
        rejected(valid, "rejects input offset 40000", _set("params.input_offset", 40000)),
    ]
    return cases + random_requantize16_cases(rng, 30, "int8")


def requantize_s16_s8_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2023)
    shape = (3, 17)
    int16 = {"input_dtype": "int16"}
    limits = np.array([-32768, -32767, -1, 0, 1, 32766, 32767], dtype=np.int16)
    cases = [
        requantize16_case("scale ratio 1/128 to zero point -128", rng, **int16, shape=shape,
                          input_quant=(0.05 / 128, 0), output_quant=(0.05, -128)),
        requantize16_case("scale ratio 1/200 to zero point 127", rng, **int16, shape=shape,
                          input_quant=(0.1 / 200, 0), output_quant=(0.1, 127)),
        requantize16_case("int16 limits, scale ratio 1/300", rng, **int16, shape=(7,),
                          input_quant=(1e-3, 0), output_quant=(0.3, 0), values=limits),
        requantize16_case("scale ratio 1 saturates at both int8 limits", rng, **int16,
                          shape=shape, input_quant=(0.1, 0), output_quant=(0.1, 1)),
        requantize16_case("int16 zero point 5", rng, **int16, shape=shape,
                          input_quant=(0.001, 5), output_quant=(0.1, -3)),
        requantize16_case("scale ratio 2**-40 flushes the multiplier to 0", rng, **int16,
                          shape=shape, input_quant=(2**-40, 0), output_quant=(1.0, 9)),
        requantize16_case("scale ratio just below 1/256", rng, **int16, shape=shape,
                          input_quant=(float(np.float32((1 - 2**-24) / 256)), 0),
                          output_quant=(1.0, 0)),
    ]
    valid = cases[0]
    cases += [
        rejected(valid, "rejects negative size", _set("size", -1)),
        rejected(valid, "rejects activation_max 128", _activation(-128, 128)),
        rejected(valid, "rejects input offset -40000", _set("params.input_offset", -40000)),
    ]
    return cases + random_requantize16_cases(rng, 30, "int16")


# --- pooling -----------------------------------------------------------------------------


def avg_pool2d_cases() -> list[KernelCase]:
    return _pool_cases("average_pool2d", np.random.default_rng(2004))


def max_pool2d_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2005)
    cases = _pool_cases("max_pool2d", rng)
    cases.append(pool_case("window entirely in the padding gives activation_min", rng,
                           "max_pool2d", input_shape=(1, 3, 3, 2), kernel=(2, 2),
                           strides=(2, 2), pads=(2, 2, 0, 0), quant=(0.05, -20),
                           activation=RELU))
    return cases


def _pool_cases(op: str, rng: np.random.Generator) -> list[KernelCase]:
    extremes = rng.choice(np.array([-128, 127, -127, 126], dtype=np.int8), size=(1, 6, 6, 3))
    cases = [
        pool_case("3x3 stride 2, pad 1 on every side", rng, op,
                  input_shape=(1, 8, 8, 3), kernel=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1)),
        pool_case("2x2 stride 2, no padding, 5 channels", rng, op,
                  input_shape=(1, 6, 6, 5), kernel=(2, 2), strides=(2, 2)),
        pool_case("3x2 stride (1,2), asymmetric pads (2,0,1,1), batch 2", rng, op,
                  input_shape=(2, 5, 6, 3), kernel=(3, 2), strides=(1, 2), pads=(2, 0, 1, 1)),
        pool_case("global 5x7 window", rng, op, input_shape=(1, 5, 7, 4), kernel=(5, 7)),
        pool_case("3x3 pad 2: windows one row inside", rng, op,
                  input_shape=(1, 4, 4, 2), kernel=(3, 3), pads=(2, 2, 2, 2)),
        pool_case("relu6 with zero point -10", rng, op, input_shape=(1, 6, 6, 3),
                  kernel=(2, 2), strides=(2, 2), quant=(0.05, -10), activation=RELU6),
        pool_case("inputs at -128 and 127, pad 1", rng, op, input_shape=(1, 6, 6, 3),
                  kernel=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1), values=extremes),
        pool_case("1x1 window, stride 1", rng, op, input_shape=(1, 3, 4, 7), kernel=(1, 1)),
    ]
    valid = cases[0]
    cases += [
        rejected(valid, "rejects channel count change", _set("output_dims.3", 2)),
        rejected(valid, "rejects filter height 0", _set("params.filter_h", 0)),
        rejected(valid, "rejects stride 0", _set("params.stride_w", 0)),
        rejected(valid, "rejects activation_min > activation_max", _activation(0, -1)),
    ]
    if op == "average_pool2d":
        cases.append(rejected(valid, "rejects a window entirely in the padding",
                              _set("params.pad_top", 3)))
    return cases + random_pool_cases(rng, 30, op)


# --- elementwise -------------------------------------------------------------------------


def add_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2006)
    q1, q2, q_out = (0.05, -3), (0.1, 10), (0.12, 2)
    cases = []
    for op in ("add", "sub"):
        cases += [
            binary_case(f"{op}: same shape", rng, op, shape1=(1, 4, 4, 5), shape2=(1, 4, 4, 5),
                        quant1=q1, quant2=q2, output_quant=q_out),
            binary_case(f"{op}: scalar input2 of shape (1,)", rng, op, shape1=(1, 4, 4, 5),
                        shape2=(1,), quant1=q1, quant2=q2, output_quant=q_out),
            binary_case(f"{op}: rank-0 scalar input2", rng, op, shape1=(2, 3), shape2=(),
                        quant1=q1, quant2=q2, output_quant=q_out),
            binary_case(f"{op}: per-channel vector input2", rng, op, shape1=(1, 4, 4, 5),
                        shape2=(5,), quant1=q1, quant2=q2, output_quant=q_out),
            binary_case(f"{op}: row input2 (1,5) on (3,5)", rng, op, shape1=(3, 5),
                        shape2=(1, 5), quant1=q1, quant2=q2, output_quant=q_out),
            binary_case(f"{op}: column input2 (4,1) on (2,3,4,5)", rng, op,
                        shape1=(2, 3, 4, 5), shape2=(4, 1), quant1=q1, quant2=q2,
                        output_quant=q_out),
            binary_case(f"{op}: broadcast input1 (5,) on (1,4,4,5)", rng, op, shape1=(5,),
                        shape2=(1, 4, 4, 5), quant1=q1, quant2=q2, output_quant=q_out),
            binary_case(f"{op}: both broadcast (2,1,4,1) and (1,3,1,5)", rng, op,
                        shape1=(2, 1, 4, 1), shape2=(1, 3, 1, 5), quant1=q1, quant2=q2,
                        output_quant=q_out),
            binary_case(f"{op}: input scales 1000x apart", rng, op, shape1=(2, 7),
                        shape2=(2, 7), quant1=(0.001, 0), quant2=(1.0, 0),
                        output_quant=(0.5, 0)),
            binary_case(f"{op}: zero points -128, 127 and -128", rng, op, shape1=(3, 6),
                        shape2=(3, 6), quant1=(0.03, -128), quant2=(0.04, 127),
                        output_quant=(0.05, -128)),
            binary_case(f"{op}: relu and a small output scale saturate", rng, op,
                        shape1=(2, 9), shape2=(2, 9), quant1=q1, quant2=q2,
                        output_quant=(0.01, 5), activation=RELU),
            binary_case(f"{op}: equal scales, rank 1", rng, op, shape1=(11,), shape2=(11,),
                        quant1=(0.1, 0), quant2=(0.1, 0), output_quant=(0.1, 0)),
        ]
    valid = cases[0]
    cases += [
        rejected(valid, "rejects sign 2", _set("sign", 2)),
        rejected(valid, "rejects a negative broadcast stride",
                 _set("broadcast.input2_strides.1", -1)),
        rejected(valid, "rejects activation_min > activation_max", _activation(3, 2)),
    ]
    return cases + random_binary_cases(rng, 40, ("add", "sub"))


def mul_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2007)
    q1, q2, q_out = (0.05, -3), (0.1, 10), (0.2, 2)
    cases = [
        binary_case("same shape", rng, "mul", shape1=(1, 4, 4, 5), shape2=(1, 4, 4, 5),
                    quant1=q1, quant2=q2, output_quant=q_out),
        binary_case("scalar input2", rng, "mul", shape1=(1, 4, 4, 5), shape2=(1,),
                    quant1=q1, quant2=q2, output_quant=q_out),
        binary_case("per-channel vector input2", rng, "mul", shape1=(1, 3, 4, 5), shape2=(5,),
                    quant1=q1, quant2=q2, output_quant=q_out),
        binary_case("row input1 (1,6) on (4,6)", rng, "mul", shape1=(1, 6), shape2=(4, 6),
                    quant1=q1, quant2=q2, output_quant=q_out),
        binary_case("both broadcast (2,1,4,1) and (1,3,1,5)", rng, "mul", shape1=(2, 1, 4, 1),
                    shape2=(1, 3, 1, 5), quant1=q1, quant2=q2, output_quant=q_out),
        binary_case("multiplier above 1 (left shift 5)", rng, "mul", shape1=(3, 7),
                    shape2=(3, 7), quant1=(0.5, 0), quant2=(0.5, 0), output_quant=(0.01, 0)),
        binary_case("tiny multiplier 1e-6", rng, "mul", shape1=(3, 7), shape2=(3, 7),
                    quant1=(0.001, 0), quant2=(0.001, 0), output_quant=(1.0, 3)),
        binary_case("zero points -128, 127 and 127", rng, "mul", shape1=(2, 8), shape2=(2, 8),
                    quant1=(0.03, -128), quant2=(0.04, 127), output_quant=(0.05, 127)),
        binary_case("relu6 clamps both sides", rng, "mul", shape1=(2, 9), shape2=(2, 9),
                    quant1=(0.1, 0), quant2=(0.1, 0), output_quant=(0.03, -20),
                    activation=RELU6),
    ]
    valid = cases[0]
    cases += [
        rejected(valid, "rejects a negative broadcast dimension", _set("broadcast.shape.2", -4)),
        rejected(valid, "rejects activation_max above 127", _activation(0, 200)),
    ]
    return cases + random_binary_cases(rng, 30, ("mul",))


def softmax_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2008)
    ties = random_int8(rng, (3, 12))
    ties[:, :4] = 100
    cases = [
        softmax_case("3 rows of 10, scale 0.1", random_int8(rng, (3, 10)), scale=0.1),
        softmax_case("depth 1", random_int8(rng, (2, 1)), scale=0.1),
        softmax_case("scale 1.0: most inputs below diff_min", random_int8(rng, (4, 37)),
                     scale=1.0),
        softmax_case("scale 100: only the row maximum is used", ties, scale=100.0),
        softmax_case("tiny scale 1e-6: nearly uniform", random_int8(rng, (2, 9)), scale=1e-6),
        softmax_case("scale 2e-8, just above the smallest allowed", random_int8(rng, (2, 9)),
                     scale=2e-8),
        softmax_case("beta 0.5, zero point -128", random_int8(rng, (2, 15)), scale=0.05,
                     zero_point=-128, beta=0.5),
        softmax_case("beta 2, zero point 127", random_int8(rng, (2, 15)), scale=0.05,
                     zero_point=127, beta=2.0),
        softmax_case("3-D input (2,3,7)", random_int8(rng, (2, 3, 7)), scale=0.2),
        softmax_case("600 equal inputs: rounding shift of 32",
                     np.full((1, 600), 5, dtype=np.int8), scale=0.1),
        softmax_case("5000 equal inputs: sum of exps above 2**31",
                     np.full((1, 5000), -7, dtype=np.int8), scale=0.1),
        softmax_case("wide row of 300 random inputs", random_int8(rng, (1, 300)), scale=0.03),
    ]
    valid = cases[0]
    cases += [
        rejected(valid, "rejects depth 0", _set("depth", 0)),
        rejected(valid, "rejects a negative input_left_shift", _set("params.input_left_shift", -1)),
    ]
    return cases + random_softmax_cases(rng, 30)


def requantize_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2009)
    shape = (3, 17)
    cases = [
        requantize_case("scale ratio 0.3, zero points 3 -> -5", rng, shape=shape,
                        input_quant=(0.03, 3), output_quant=(0.1, -5)),
        requantize_case("same scale, zero points -128 -> 127", rng, shape=shape,
                        input_quant=(0.1, -128), output_quant=(0.1, 127)),
        requantize_case("scale ratio 7.5 saturates", rng, shape=shape,
                        input_quant=(0.75, 0), output_quant=(0.1, 1)),
        requantize_case("scale ratio 2**-33 flushes the multiplier to 0", rng, shape=shape,
                        input_quant=(2**-33, 9), output_quant=(1.0, -9)),
        requantize_case("scale ratio 3e7: left shift 25 wraps", rng, shape=shape,
                        input_quant=(3.0, 0), output_quant=(1e-7, 0)),
        requantize_case("scale ratio just below 1", rng, shape=shape,
                        input_quant=(float(np.float32(1 - 2**-24)), 0), output_quant=(1.0, 0)),
    ]
    valid = cases[0]
    cases += [
        rejected(valid, "rejects negative size", _set("size", -1)),
        rejected(valid, "rejects activation_min > activation_max", _activation(1, 0)),
    ]
    return cases + random_requantize_cases(rng, 30)


def clip_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2010)
    shape = (2, 5, 7)
    cases = [
        clip_case("relu6, zero point -10", rng, shape=shape, quant=(0.05, -10), activation=RELU6),
        clip_case("(-1, 1), zero point 5", rng, shape=shape, quant=(0.01, 5),
                  activation=(-1.0, 1.0)),
        clip_case("relu, zero point -128 keeps everything", rng, shape=shape,
                  quant=(0.1, -128), activation=RELU),
        clip_case("(-inf, 0), zero point 127 keeps everything", rng, shape=shape,
                  quant=(0.1, 127), activation=(-math.inf, 0.0)),
        clip_case("relu6 in place", rng, shape=shape, quant=(0.05, 0), activation=RELU6,
                  in_place=True),
    ]
    valid = cases[0]
    cases += [
        rejected(valid, "rejects activation_min > activation_max", _clip_range(9, 8)),
        rejected(valid, "rejects negative size", _set("size", -3)),
    ]
    return cases


def _clip_range(minimum: int, maximum: int) -> Callable[[KernelCase], None]:
    def change(case: KernelCase) -> None:
        case.fields["activation_min"] = minimum
        case.fields["activation_max"] = maximum

    return change


# --- data movement -----------------------------------------------------------------------


def transpose_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2011)
    shape = (2, 3, 4, 5)
    cases = [
        transpose_case(f"(2,3,4,5) perm {perm}", rng, shape=shape, perm=perm)
        for perm in [(0, 3, 1, 2), (0, 2, 3, 1), (3, 2, 1, 0), (1, 0, 3, 2), (0, 1, 2, 3)]
    ]
    cases += [
        transpose_case("3-D (3,4,5) perm (2,0,1)", rng, shape=(3, 4, 5), perm=(2, 0, 1)),
        transpose_case("2-D (7,9) perm (1,0)", rng, shape=(7, 9), perm=(1, 0)),
        transpose_case("unit dims (1,1,6,1) perm (2,0,3,1)", rng, shape=(1, 1, 6, 1),
                       perm=(2, 0, 3, 1)),
    ]
    cases += [
        rejected(cases[0], "rejects a repeated axis in perm", _set_array("perm", 1, 0)),
        rejected(cases[0], "rejects axis 4 in perm", _set_array("perm", 3, 4)),
        rejected(cases[0], "rejects a negative dimension", _set_array("shape", 2, -4)),
    ]
    return cases


def concat_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2012)
    cases = [
        concat_case("axis 0 of two 4-D inputs", rng, shapes=[(1, 2, 3, 4), (2, 2, 3, 4)], axis=0),
        concat_case("axis 1 of three 4-D inputs", rng,
                    shapes=[(2, 1, 3, 4), (2, 3, 3, 4), (2, 2, 3, 4)], axis=1),
        concat_case("axis 2 of two 4-D inputs", rng, shapes=[(2, 3, 1, 4), (2, 3, 4, 4)], axis=2),
        concat_case("axis 3 of odd channel counts", rng, shapes=[(1, 2, 2, 3), (1, 2, 2, 5)],
                    axis=3),
        concat_case("axis -1 of 2-D inputs", rng, shapes=[(3, 2), (3, 7), (3, 1)], axis=-1),
        concat_case("axis 0 of 1-D inputs", rng, shapes=[(5,), (3,)], axis=0),
        concat_case("a single input", rng, shapes=[(2, 3, 4)], axis=1),
    ]
    cases += [
        rejected(cases[1], "rejects a negative copy size", _set_array("copy_sizes", 1, -12)),
        rejected(cases[1], "rejects negative outer", _set("outer", -1)),
    ]
    return cases


def pad_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2013)
    cases = [
        pad_case("4-D height and width pads, zero point -128", rng, shape=(1, 4, 5, 3),
                 pads=((0, 0), (1, 2), (0, 3), (0, 0)), zero_point=-128),
        pad_case("4-D pads on every axis, zero point 127", rng, shape=(2, 3, 2, 3),
                 pads=((1, 0), (0, 0), (2, 1), (1, 1)), zero_point=127),
        pad_case("2-D asymmetric pads, zero point 5", rng, shape=(3, 4),
                 pads=((1, 2), (3, 0)), zero_point=5),
        pad_case("3-D pads after only", rng, shape=(2, 2, 3),
                 pads=((0, 1), (0, 2), (0, 3)), zero_point=0),
        pad_case("no padding", rng, shape=(2, 3, 4, 1),
                 pads=((0, 0), (0, 0), (0, 0), (0, 0)), zero_point=-1),
    ]
    cases += [
        rejected(cases[0], "rejects a negative pad", _set_array("before", 1, -1)),
    ]
    return cases


# --- float boundary ----------------------------------------------------------------------


def io_float_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2014)
    # Exact halves k + 1/2 in units of a power-of-two scale, to check rounding away from 0.
    halves = ((np.arange(-12, 12) + 0.5) * 0.25).astype(np.float32)
    spread = (rng.standard_normal(200) * 40).astype(np.float32)
    # NOTE: |x / scale| stays below 2**63. Beyond it the interpreter's float to int64
    # conversion overflows (numpy on x86 gives INT64_MIN, so 1e30 quantizes to -128), while
    # edgec_quantize_f32_s8 saturates to 127.
    specials = np.array([0.0, -0.0, 1e-30, -1e-30, 1e6, -1e6, 1e17, -1e17], np.float32)
    return [
        quantize_float_case("exact halves round away from zero", halves, scale=0.25,
                            zero_point=0),
        quantize_float_case("keyword spotting input scale, zero point -128", spread,
                            scale=0.881015, zero_point=-128),
        quantize_float_case("saturation, zero point 127", spread, scale=0.05, zero_point=127),
        quantize_float_case("signed zeros, tiny and huge values", specials, scale=0.1,
                            zero_point=-3),
        dequantize_case("all codes, scale 1/256 zero point -128",
                        np.arange(-128, 128, dtype=np.int8), scale=1 / 256, zero_point=-128),
        dequantize_case("all codes, anomaly detection output scale",
                        np.arange(-128, 128, dtype=np.int8), scale=0.871905, zero_point=-128),
        dequantize_case("all codes, scale 1e-3 zero point 5",
                        np.arange(-128, 128, dtype=np.int8), scale=1e-3, zero_point=5),
    ]


# --- fixed-point helpers -----------------------------------------------------------------

INT32_EDGES = np.array(
    [-(2**31), -(2**31) + 1, -(2**30), -(2**30) - 1, -3, -2, -1, 0, 1, 2, 3,
     2**30 - 1, 2**30, 2**31 - 1],
    dtype=np.int64,
)


def _fixed_point_case(name: str, macro: str, arrays: dict, expected, fields=None) -> KernelCase:
    expected = np.asarray(expected, dtype=np.int64)
    arrays = {
        role: np.asarray(values, dtype=np.int64).astype(
            np.uint32 if role == "x" and macro == "reciprocal" else np.int32
        )
        for role, values in arrays.items()
    }
    count = len(next(iter(arrays.values())))
    return KernelCase(name, macro, {"count": count, **(fields or {})}, arrays,
                      expected.astype(np.int32).tobytes())


def _random_int32(rng: np.random.Generator, size: int) -> np.ndarray:
    return rng.integers(-(2**31), 2**31, size=size, dtype=np.int64)


def fixed_point_cases() -> list[KernelCase]:
    rng = np.random.default_rng(2015)
    cases = []

    a, b = np.meshgrid(INT32_EDGES, INT32_EDGES)
    a = np.concatenate([a.ravel(), _random_int32(rng, 300)])
    b = np.concatenate([b.ravel(), _random_int32(rng, 300)])
    cases.append(_fixed_point_case(
        "saturating_rounding_doubling_high_mul", "saturating_rounding_doubling_high_mul",
        {"a": a, "b": b}, fp.saturating_rounding_doubling_high_mul(a, b)))

    x = np.concatenate([np.repeat(INT32_EDGES, 36), _random_int32(rng, 400)])
    exponent = np.concatenate([np.tile(np.arange(36), len(INT32_EDGES)),
                               rng.integers(0, 36, size=400)])
    cases.append(_fixed_point_case(
        "rounding_divide_by_pot for exponents 0..35", "rounding_divide_by_pot",
        {"x": x, "exponent": exponent}, fp.rounding_divide_by_pot(x, exponent)))

    shifts = np.arange(-40, 41)
    multipliers = np.array([0, 1, 2**30, 2**31 - 1, 1518500250, 1073741825])
    grid_x, grid_m, grid_s = (v.ravel() for v in np.meshgrid(INT32_EDGES, multipliers, shifts))
    x = np.concatenate([grid_x, _random_int32(rng, 400)])
    multiplier = np.concatenate([grid_m, rng.integers(2**30, 2**31, size=400)])
    shift = np.concatenate([grid_s, rng.integers(-31, 32, size=400)])
    cases.append(_fixed_point_case(
        "multiply_by_quantized_multiplier for shifts -40..40",
        "multiply_by_quantized_multiplier", {"x": x, "multiplier": multiplier, "shift": shift},
        fp.multiply_by_quantized_multiplier(x, multiplier, shift)))

    x = np.concatenate([np.repeat(INT32_EDGES, 32), _random_int32(rng, 200)])
    exponent = np.concatenate([np.tile(np.arange(32), len(INT32_EDGES)),
                               rng.integers(0, 32, size=200)])
    expected = [fp.saturating_left_shift(v, int(e)) for v, e in zip(x, exponent, strict=True)]
    cases.append(_fixed_point_case(
        "saturating_left_shift for exponents 0..31", "saturating_left_shift",
        {"x": x, "exponent": exponent}, expected))

    for integer_bits in (0, 3, 5, 6, 12):
        a = np.concatenate([
            [0, -1, -2, -(2**31), -(2**31) + 1, -(1 << (31 - integer_bits))],
            -rng.integers(0, 2**31, size=300, dtype=np.int64),
            -rng.integers(0, 1 << max(31 - integer_bits, 1), size=100, dtype=np.int64),
        ])
        cases.append(_fixed_point_case(
            f"exp_on_negative_values with {integer_bits} integer bits",
            "exp_on_negative_values", {"a": a},
            fp.exp_on_negative_values(a, integer_bits), {"integer_bits": integer_bits}))

    a = np.concatenate([[0, 1, 2**30, 2**31 - 2, 2**31 - 1], rng.integers(0, 2**31, size=300)])
    cases.append(_fixed_point_case("one_over_one_plus_x", "one_over_one_plus_x", {"a": a},
                                   fp.one_over_one_plus_x(a)))

    x = np.concatenate([[1, 2, 3, 2**19, 2**19 + 1, 2**31 - 1, 2**31, 2**32 - 1],
                        rng.integers(1, 2**32, size=300, dtype=np.int64)])
    scale, bits_over_unit = fp.reciprocal(x, 12)
    cases.append(_fixed_point_case(
        "reciprocal of uint32 sums with 12 integer bits", "reciprocal", {"x": x},
        np.stack([scale, bits_over_unit], axis=1).ravel(), {"integer_bits": 12}))
    return cases


INT64_EDGES = np.array(
    [-(2**63), -(2**63) + 1, -(2**47), -(2**47) + 1, -(2**31) - 1, -(2**31), -3, -2, -1, 0, 1,
     2, 3, 2**31 - 1, 2**31, 2**47 - 1, 2**63 - 1],
    dtype=np.int64,
)
# Q31 multipliers around the 16-bit rounding of the int64 requantization: 0x7FFEFFFF is the
# last one rounded to (m + 2**15) >> 16 = 0x7FFF, and from 0x7FFF0000 on it is 0x7FFF too.
INT64_MULTIPLIER_EDGES = np.array(
    [0, 1, 2**15 - 1, 2**15, 2**30, 1518500250, 0x7FFEFFFF, 0x7FFF0000, 2**31 - 1],
    dtype=np.int64,
)


def _int64_case(name: str, macro: str, arrays: dict, expected, fields=None,
                result_dtype=np.int64) -> KernelCase:
    count = len(next(iter(arrays.values())))
    return KernelCase(name, macro, {"count": count, **(fields or {})}, arrays,
                      np.asarray(expected, dtype=np.int64).astype(result_dtype).tobytes())


def fixed_point_int64_cases() -> list[KernelCase]:
    """The int64 helpers of the 16x8 kernels against edgec.quantize.fixed_point."""
    rng = np.random.default_rng(2024)
    cases = []

    grid_x, grid_m, grid_s = (
        v.ravel() for v in np.meshgrid(INT64_EDGES, INT64_MULTIPLIER_EDGES, np.arange(-31, 8))
    )
    x = np.concatenate([grid_x, rng.integers(-(2**47), 2**47, size=400, dtype=np.int64),
                        rng.integers(-(2**63), 2**63 - 1, size=200, dtype=np.int64)])
    multiplier = np.concatenate([grid_m, rng.integers(0, 2**31, size=600)])
    shift = np.concatenate([grid_s, rng.integers(-31, 8, size=600)])
    cases.append(_int64_case(
        "multiply_by_quantized_multiplier_int64 for shifts -31..7",
        "multiply_by_quantized_multiplier_int64",
        {"x": x, "multiplier": multiplier.astype(np.int32), "shift": shift.astype(np.int32)},
        fp.multiply_by_quantized_multiplier_int64(x, multiplier, shift)))

    a, b = (v.ravel() for v in np.meshgrid(INT64_EDGES, INT64_EDGES))
    a = np.concatenate([a, rng.integers(-(2**63), 2**63 - 1, size=200, dtype=np.int64)])
    b = np.concatenate([b, rng.integers(-(2**63), 2**63 - 1, size=200, dtype=np.int64)])
    cases.append(_int64_case("add_wrap64 wraps modulo 2**64", "add_wrap64",
                             {"a": a, "b": b}, a + b))

    x = np.concatenate([INT64_EDGES, rng.integers(-(2**40), 2**40, size=100, dtype=np.int64)])
    cases.append(_int64_case("clamp64 to the int16 range", "clamp64", {"x": x},
                             np.clip(x, -32768, 32767), {"min": -32768, "max": 32767},
                             result_dtype=np.int32))
    return cases


# --- programs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Program:
    """One C test program: the kernel sources it links and its cases."""

    name: str
    sources: tuple[str, ...]
    build_cases: Callable[[], list[KernelCase]]


PROGRAMS = {
    program.name: program
    for program in [
        Program("conv2d", ("conv2d_s8.c",), conv2d_cases),
        Program("depthwise_conv2d", ("depthwise_conv2d_s8.c",), depthwise_conv2d_cases),
        Program("fully_connected", ("fully_connected_s8.c",), fully_connected_cases),
        Program("conv2d_s4", ("conv2d_s8_s4.c",), conv2d_s4_cases),
        Program("depthwise_conv2d_s4", ("depthwise_conv2d_s8_s4.c",), depthwise_conv2d_s4_cases),
        Program("fully_connected_s4", ("fully_connected_s8_s4.c",), fully_connected_s4_cases),
        Program("conv2d_s16", ("conv2d_s16.c",), conv2d_s16_cases),
        Program("depthwise_conv2d_s16", ("depthwise_conv2d_s16.c",),
                depthwise_conv2d_s16_cases),
        Program("fully_connected_s16", ("fully_connected_s16.c",), fully_connected_s16_cases),
        Program("requantize_s8_s16", ("requantize_s8_s16.c",), requantize_s8_s16_cases),
        Program("requantize_s16_s8", ("requantize_s16_s8.c",), requantize_s16_s8_cases),
        Program("avg_pool2d", ("avg_pool2d_s8.c",), avg_pool2d_cases),
        Program("max_pool2d", ("max_pool2d_s8.c",), max_pool2d_cases),
        Program("add", ("add_s8.c",), add_cases),
        Program("mul", ("mul_s8.c",), mul_cases),
        Program("softmax", ("softmax_s8.c",), softmax_cases),
        Program("requantize", ("requantize_s8.c",), requantize_cases),
        Program("clip", ("clip_s8.c",), clip_cases),
        Program("transpose", ("transpose_s8.c",), transpose_cases),
        Program("concat", ("concat_s8.c",), concat_cases),
        Program("pad", ("pad_s8.c",), pad_cases),
        Program("io_float", ("io_float.c",), io_float_cases),
        Program("fixed_point", (), fixed_point_cases),
        Program("fixed_point_int64", (), fixed_point_int64_cases),
        *(Program(*entry) for entry in TRANSFORMER_PROGRAMS),
    ]
}
