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
from tests.kernels.random_cases import (
    random_binary_cases,
    random_conv_cases,
    random_fully_connected_cases,
    random_pool_cases,
    random_requantize_cases,
    random_softmax_cases,
)

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
    ]
}
