"""Shape-space cases of the MVE kernel variants (see tests.kernels.variant_cases).

The Helium kernels work on 16-byte vectors and 4-lane int32 vectors. So the cases vary
reduction lengths and channel counts around multiples of 16 and 4 (below, at and above).
They cover the last pixel pair of the convolutions (odd pixel counts, a pair split
across rows), and the last 2 x 2 step and band of the 3x3 depthwise kernel (odd widths
and heights, heights beyond one band). They put padding on every side (the zero point in
gathered windows and padded rows), and cover the requantization modes (left shifts,
right shifts up to 31, ties that the clamp hides or not) and the argument checks.
"""

from __future__ import annotations

import numpy as np

from tests.kernels.cases import (
    EXTREME_INPUT_SCALE,
    EXTREME_OUTPUT_SCALE,
    _activation,
    _set,
    extreme_weight_scales,
    rejected,
)
from tests.kernels.graphs import (
    RELU,
    RELU6,
    binary_case,
    conv_case,
    fully_connected_case,
    pool_case,
)
from tests.kernels.variant_cases import cases_for

DEPTHWISE = {"depthwise": True}
KERNEL_1X1 = {"kernel": (1, 1)}
KERNEL_3X3 = {"kernel": (3, 3)}


def _right_shift_weight_scales() -> np.ndarray:
    """Weight scales whose multipliers need right shifts of 20 to 31 (VRSHL counts near the
    32-bit lane width), and three that quantization flushes to a zero multiplier."""
    reals = (2**-20, 2**-24.5, 2**-28.6, 2**-31.4, 2**-40, 2**-62.5, 2**-70)
    return np.array(
        [real * EXTREME_OUTPUT_SCALE / EXTREME_INPUT_SCALE for real in reals], dtype=np.float32
    )


# Biases large enough that the scales above give outputs other than the zero point.
RIGHT_SHIFT_BIASES = [2**30, -(2**30), 2**31 - 1, -(2**31), 3 * 2**28, -(5 * 2**27), 2**30]


def _rejections(valid, changes):
    """``valid`` changed into cases that the kernel must reject without writing."""
    return [rejected(valid, name, change) for name, change in changes]


def _requantization_cases(rng, make, shape):
    """Cases of the requantization modes for one kernel: ``make`` is conv_case or
    fully_connected_case and ``shape(channels)`` its shape arguments for that many output
    channels."""
    return [
        make("extreme multipliers and shifts, left shifts up to 25", rng, **shape(10),
             input_quant=(EXTREME_INPUT_SCALE, 3), output_quant=(EXTREME_OUTPUT_SCALE, -5),
             weight_scales=extreme_weight_scales()),
        make("right shifts 20 to 31 and zero multipliers, no clamp", rng, **shape(7),
             input_quant=(EXTREME_INPUT_SCALE, -128), output_quant=(EXTREME_OUTPUT_SCALE, 100),
             weight_scales=_right_shift_weight_scales(), bias=RIGHT_SHIFT_BIASES),
        make("right shifts 20 to 31 under relu6, ties hidden by the clamp", rng, **shape(7),
             input_quant=(EXTREME_INPUT_SCALE, 5), output_quant=(EXTREME_OUTPUT_SCALE, -128),
             weight_scales=_right_shift_weight_scales(), bias=RIGHT_SHIFT_BIASES,
             activation=RELU6),
        make("relu with output zero point 20: negative values clamp", rng, **shape(7),
             output_quant=(0.5, 20), activation=RELU),
        make("activation (-1, 1) saturates both sides", rng, **shape(7),
             output_quant=(0.005, 0), activation=(-1.0, 1.0)),
        make("input zero point -128, output zero point 127", rng, **shape(7),
             input_quant=(0.02, -128), output_quant=(0.05, 127)),
        make("input zero point 127, output zero point -128", rng, **shape(7),
             input_quant=(0.02, 127), output_quant=(0.05, -128)),
        make("all-zero weight channels 0 and 6, no bias", rng, **shape(7), bias=None,
             zero_channels=(0, 6)),
        make("bias at the int32 limits", rng, **shape(7),
             bias=[-(2**31), 2**31 - 1, -(2**30), 2**30, 0, 1, -1]),
    ]


# --- convolution -------------------------------------------------------------------------


@cases_for("conv2d_s8_1x1_mve")
def conv2d_1x1_mve_cases():
    rng = np.random.default_rng(5101)
    cases = [
        conv_case("64 -> 64 channels on 25x5, as keyword spotting", rng, **KERNEL_1X1,
                  input_shape=(1, 25, 5, 64), channels=64),
        conv_case("8 -> 16 channels: half a step of depth", rng, **KERNEL_1X1,
                  input_shape=(1, 4, 4, 8), channels=16),
        conv_case("depth 1 -> 1 channel, one pixel", rng, **KERNEL_1X1,
                  input_shape=(1, 1, 1, 1), channels=1),
        conv_case("depth 17 -> 5: a step and one byte, a partial block", rng, **KERNEL_1X1,
                  input_shape=(1, 3, 3, 17), channels=5),
        conv_case("depth 48 -> 3 channels, odd pixel count 15", rng, **KERNEL_1X1,
                  input_shape=(1, 3, 5, 48), channels=3),
        conv_case("depth 33 -> 13 channels, width 1: pairs across rows", rng, **KERNEL_1X1,
                  input_shape=(1, 5, 1, 33), channels=13),
        conv_case("stride 2 on even 8x8 input, 16 -> 32", rng, **KERNEL_1X1,
                  input_shape=(1, 8, 8, 16), channels=32, strides=(2, 2)),
        conv_case("stride (2, 1) on 6x5 input", rng, **KERNEL_1X1,
                  input_shape=(1, 6, 5, 7), channels=6, strides=(2, 1)),
        conv_case("stride 3 on 7x7 input, batch 2", rng, **KERNEL_1X1,
                  input_shape=(2, 7, 7, 20), channels=9, strides=(3, 3)),
        conv_case("batch 3 of 3 pixels", rng, **KERNEL_1X1,
                  input_shape=(3, 1, 3, 10), channels=4),
    ]
    cases += _requantization_cases(rng, conv_case, lambda channels: {
        **KERNEL_1X1, "input_shape": (1, 3, 3, 24), "channels": channels})
    valid = cases[3]
    return cases + _rejections(valid, [
        ("rejects a 1x3 filter", _set("filter_dims.2", 3)),
        ("rejects padding on top", _set("params.pad_top", 1)),
        ("rejects output columns past the input", _set("output_dims.2", 4)),
        ("rejects a filter offset", _set("params.filter_offset", 1)),
        ("rejects stride 0", _set("params.stride_w", 0)),
        ("rejects activation_max above 127", _activation(-128, 128)),
    ])


@cases_for("conv2d_s8_mve")
def conv2d_mve_cases():
    rng = np.random.default_rng(5102)
    cases = [
        conv_case("10x4 stride 2 on 50x10x1, as keyword spotting's first layer", rng,
                  input_shape=(1, 50, 10, 1), kernel=(10, 4), channels=12, strides=(2, 2),
                  pads=(4, 1, 4, 1)),
        conv_case("3x3 stride 2 on 12x12x3, pads bottom and right", rng, **KERNEL_3X3,
                  input_shape=(1, 12, 12, 3), channels=8, strides=(2, 2), pads=(0, 0, 1, 1)),
        conv_case("3x3 pad 1, 16 -> 16 channels on 8x8: whole 16-byte taps", rng,
                  **KERNEL_3X3, input_shape=(1, 8, 8, 16), channels=16, pads=(1, 1, 1, 1)),
        conv_case("3x3 stride 2, 32 -> 12 channels on even 6x6", rng, **KERNEL_3X3,
                  input_shape=(1, 6, 6, 32), channels=12, strides=(2, 2), pads=(0, 0, 1, 1)),
        conv_case("3x3 pads only on top and left, depth 16, odd 5x7", rng, **KERNEL_3X3,
                  input_shape=(1, 5, 7, 16), channels=5, pads=(2, 2, 0, 0)),
        conv_case("3x3 pads only on bottom and right, depth 6", rng, **KERNEL_3X3,
                  input_shape=(1, 6, 5, 6), channels=7, pads=(0, 0, 2, 2)),
        conv_case("2x5 window wider than the input, width-1 output", rng,
                  input_shape=(1, 4, 3, 2), kernel=(2, 5), channels=5, pads=(1, 1, 0, 1)),
        conv_case("dilation (2, 3) with depth 16", rng, **KERNEL_3X3,
                  input_shape=(1, 7, 9, 16), channels=6, dilations=(2, 3), pads=(2, 3, 2, 3)),
        conv_case("dilation 2 with stride 2, depth 5", rng, **KERNEL_3X3,
                  input_shape=(1, 9, 9, 5), channels=4, strides=(2, 2), dilations=(2, 2),
                  pads=(1, 1, 1, 1)),
        conv_case("1x1 with padding 1 on every side", rng, **KERNEL_1X1,
                  input_shape=(1, 3, 3, 4), channels=3, pads=(1, 1, 1, 1)),
        conv_case("batch 2, one output row of 5 pixels", rng, **KERNEL_3X3,
                  input_shape=(2, 1, 5, 3), channels=4, pads=(1, 1, 1, 1)),
    ]
    cases += _requantization_cases(rng, conv_case, lambda channels: {
        **KERNEL_3X3, "input_shape": (1, 4, 5, 3), "channels": channels,
        "pads": (1, 1, 1, 1)})
    valid = cases[5]
    return cases + _rejections(valid, [
        ("rejects filter depth != input depth", _set("filter_dims.3", 2)),
        ("rejects a filter offset", _set("params.filter_offset", -1)),
        ("rejects input offset 129 (zero point -129)", _set("params.input_offset", 129)),
        ("rejects dilation 0", _set("params.dilation_w", 0)),
        ("rejects activation_min > activation_max", _activation(11, 10)),
    ])


# --- depthwise convolution ---------------------------------------------------------------


@cases_for("depthwise_conv2d_s8_3x3_mve")
def depthwise_3x3_mve_cases():
    rng = np.random.default_rng(5103)
    cases = [
        conv_case("25x5x64 pad 1, as keyword spotting", rng, **DEPTHWISE, **KERNEL_3X3,
                  input_shape=(1, 25, 5, 64), pads=(1, 1, 1, 1)),
        conv_case("stride 2 on even 12x12x16, pads bottom and right", rng, **DEPTHWISE,
                  **KERNEL_3X3, input_shape=(1, 12, 12, 16), strides=(2, 2), pads=(0, 0, 1, 1)),
        conv_case("one channel on 20x6: three bands of rows", rng, **DEPTHWISE, **KERNEL_3X3,
                  input_shape=(1, 20, 6, 1), pads=(1, 1, 1, 1)),
        conv_case("13 channels on 7x9, no padding", rng, **DEPTHWISE, **KERNEL_3X3,
                  input_shape=(1, 7, 9, 13)),
        conv_case("17 channels, pads (2, 0, 0, 2)", rng, **DEPTHWISE, **KERNEL_3X3,
                  input_shape=(1, 6, 6, 17), pads=(2, 0, 0, 2)),
        conv_case("height 1 and width 1 outputs", rng, **DEPTHWISE, **KERNEL_3X3,
                  input_shape=(1, 3, 3, 5)),
        conv_case("output 1 x 7 from a 1-row input, pad 1", rng, **DEPTHWISE, **KERNEL_3X3,
                  input_shape=(1, 1, 7, 6), pads=(1, 1, 1, 1)),
        conv_case("stride (1, 2) with odd width 9", rng, **DEPTHWISE, **KERNEL_3X3,
                  input_shape=(1, 6, 9, 4), strides=(1, 2), pads=(1, 1, 1, 1)),
        conv_case("stride (2, 1) on 9x6", rng, **DEPTHWISE, **KERNEL_3X3,
                  input_shape=(1, 9, 6, 3), strides=(2, 1), pads=(1, 0, 1, 0)),
        conv_case("stride 3: one window per gather", rng, **DEPTHWISE, **KERNEL_3X3,
                  input_shape=(1, 10, 11, 7), strides=(3, 3), pads=(1, 1, 1, 1)),
        conv_case("width 120: gather offsets up to 247", rng, **DEPTHWISE, **KERNEL_3X3,
                  input_shape=(1, 3, 120, 2), pads=(1, 1, 1, 1)),
        conv_case("batch 2 of 5x5x8", rng, **DEPTHWISE, **KERNEL_3X3,
                  input_shape=(2, 5, 5, 8), pads=(1, 1, 1, 1)),
    ]
    cases += _requantization_cases(rng, conv_case, lambda channels: {
        **DEPTHWISE, **KERNEL_3X3, "input_shape": (1, 5, 5, channels), "pads": (1, 1, 1, 1)})
    valid = cases[3]
    return cases + _rejections(valid, [
        ("rejects a 3x2 filter", _set("filter_dims.2", 2)),
        ("rejects dilation 2", _set("params.dilation_h", 2)),
        ("rejects depth multiplier 2", _set("params.depth_multiplier", 2)),
        ("rejects output width 200: gather offsets past 255", _set("output_dims.2", 200)),
        ("rejects stride_h 200: band planes past 16-bit scatter offsets",
         _set("params.stride_h", 200)),
        ("rejects a filter offset", _set("params.filter_offset", 3)),
        ("rejects activation_min below -128", _activation(-129, 127)),
    ])


@cases_for("depthwise_conv2d_s8_mve")
def depthwise_mve_cases():
    rng = np.random.default_rng(5104)
    cases = [
        conv_case("multiplier 2 on 5 channels: gathered inputs, a partial block", rng,
                  **DEPTHWISE, **KERNEL_3X3, depth_multiplier=2, input_shape=(1, 5, 5, 5),
                  pads=(1, 1, 1, 1)),
        conv_case("multiplier 3 on 3 channels, stride 2 on even 8x8", rng, **DEPTHWISE,
                  **KERNEL_3X3, depth_multiplier=3, input_shape=(1, 8, 8, 3), strides=(2, 2),
                  pads=(0, 0, 1, 1)),
        conv_case("multiplier 4 on 1 channel", rng, **DEPTHWISE, **KERNEL_3X3,
                  depth_multiplier=4, input_shape=(1, 4, 4, 1), pads=(1, 1, 1, 1)),
        conv_case("dilation 2, 6 channels", rng, **DEPTHWISE, **KERNEL_3X3,
                  input_shape=(1, 7, 7, 6), dilations=(2, 2), pads=(2, 2, 2, 2)),
        conv_case("dilation (1, 3) with stride (2, 1)", rng, **DEPTHWISE, **KERNEL_3X3,
                  input_shape=(1, 8, 9, 4), strides=(2, 1), dilations=(1, 3), pads=(1, 3, 1, 3)),
        conv_case("5x5 window on 3x3 input, 9 channels", rng, **DEPTHWISE,
                  input_shape=(1, 3, 3, 9), kernel=(5, 5), pads=(2, 2, 2, 2)),
        conv_case("1x3 and pads only on the left", rng, **DEPTHWISE,
                  input_shape=(1, 4, 6, 8), kernel=(1, 3), pads=(0, 2, 0, 0)),
        conv_case("7x1 with pads on top and bottom, odd sizes", rng, **DEPTHWISE,
                  input_shape=(1, 9, 5, 3), kernel=(7, 1), pads=(3, 0, 3, 0)),
        conv_case("3x3 on width 140: too wide for the 3x3 variant", rng, **DEPTHWISE,
                  **KERNEL_3X3, input_shape=(1, 2, 140, 4), pads=(1, 1, 1, 1)),
        conv_case("batch 2, multiplier 2", rng, **DEPTHWISE, **KERNEL_3X3, depth_multiplier=2,
                  input_shape=(2, 3, 4, 2), pads=(1, 1, 1, 1)),
    ]
    cases += _requantization_cases(rng, conv_case, lambda channels: {
        **DEPTHWISE, **KERNEL_3X3, "input_shape": (1, 4, 3, channels), "dilations": (2, 1),
        "pads": (2, 1, 2, 1)})
    valid = cases[0]
    return cases + _rejections(valid, [
        ("rejects filter channels != input channels * multiplier",
         _set("params.depth_multiplier", 3)),
        ("rejects a filter offset", _set("params.filter_offset", 1)),
        ("rejects input offset -128 (zero point 128)", _set("params.input_offset", -128)),
        ("rejects stride 0", _set("params.stride_h", 0)),
        ("rejects activation_min > activation_max", _activation(3, 2)),
    ])


# --- fully connected ---------------------------------------------------------------------


@cases_for("fully_connected_s8_mve")
def fully_connected_mve_cases():
    rng = np.random.default_rng(5105)
    cases = [
        fully_connected_case("depth 640 -> 128, as anomaly detection's first layer", rng,
                             input_shape=(1, 640), output_depth=128),
        fully_connected_case("depth 128 -> 8", rng, input_shape=(1, 128), output_depth=8),
        fully_connected_case("depth 8 -> 17: half a step, a partial block", rng,
                             input_shape=(1, 8), output_depth=17),
        fully_connected_case("depth 1 -> 1", rng, input_shape=(1, 1), output_depth=1),
        fully_connected_case("depth 33 -> 9, 3 rows: rows copied to whole steps", rng,
                             input_shape=(3, 33), output_depth=9),
        fully_connected_case("depth 16 -> 3, 5 rows read in place", rng,
                             input_shape=(5, 16), output_depth=3),
        fully_connected_case("4-D input flattened to 2 rows of 24", rng,
                             input_shape=(2, 2, 3, 4), output_depth=5),
    ]
    cases += _requantization_cases(rng, fully_connected_case, lambda channels: {
        "input_shape": (2, 19), "output_depth": channels})
    valid = cases[4]
    return cases + _rejections(valid, [
        ("rejects output depth 0", _set("output_depth", 0)),
        ("rejects a filter offset", _set("params.filter_offset", 2)),
        ("rejects activation_min > activation_max", _activation(1, 0)),
    ])


# --- add and subtract --------------------------------------------------------------------


@cases_for("add_s8_mve")
def add_mve_cases():
    rng = np.random.default_rng(5106)
    q1, q2, q_out = (0.05, -3), (0.1, 10), (0.12, 2)
    cases = []
    for op in ("add", "sub"):
        cases += [
            binary_case(f"{op}: 32x32x16, as image classification", rng, op,
                        shape1=(1, 32, 32, 16), shape2=(1, 32, 32, 16), quant1=(0.08, -20),
                        quant2=(0.06, 5), output_quant=(0.1, -128), activation=RELU),
            binary_case(f"{op}: one element", rng, op, shape1=(1,), shape2=(1,),
                        quant1=q1, quant2=q2, output_quant=q_out),
            binary_case(f"{op}: 3 x 5 elements, a partial vector", rng, op, shape1=(3, 5),
                        shape2=(3, 5), quant1=q1, quant2=q2, output_quant=q_out),
            binary_case(f"{op}: output scale 40x below the inputs: a left shift", rng, op,
                        shape1=(2, 9), shape2=(2, 9), quant1=(0.4, 0), quant2=(0.4, 0),
                        output_quant=(0.01, 0)),
            binary_case(f"{op}: input scales 2^20 apart", rng, op, shape1=(1, 17),
                        shape2=(1, 17), quant1=(2.0**-20, 3), quant2=(1.0, -3),
                        output_quant=(0.9, 1)),
            binary_case(f"{op}: zero points 127, -128 and 127", rng, op, shape1=(4, 5),
                        shape2=(4, 5), quant1=(0.02, 127), quant2=(0.03, -128),
                        output_quant=(0.05, 127)),
            binary_case(f"{op}: relu6 clamps both sides", rng, op, shape1=(2, 3, 7),
                        shape2=(2, 3, 7), quant1=q1, quant2=q2, output_quant=(0.03, -100),
                        activation=RELU6),
        ]
    valid = cases[2]
    return cases + _rejections(valid, [
        ("rejects sign 0", _set("sign", 0)),
        ("rejects input2 broadcast along a row", _set("broadcast.input2_strides.2", 0)),
        ("rejects a transposed input1", _set("broadcast.input1_strides.3", 5)),
        ("rejects left shift -1", _set("params.left_shift", -1)),
        ("rejects activation_min > activation_max", _activation(10, 9)),
    ])


# --- pooling -----------------------------------------------------------------------------


def _pool_cases(op: str, rng) -> list:
    """Shape-space cases of a pooling variant: channel counts around 4 and 16, global
    windows, padding on every side and windows with few taps inside."""
    # Top row -1, -3, 1, 3 per channel, bottom row 0: window sums -2, -6, 2 and 6 over 4
    # taps, averages -0.5, -1.5, 0.5 and 1.5.
    ties = np.zeros((1, 2, 2, 16), dtype=np.int8)
    ties[0, 0, :, :] = np.tile(np.array([-1, -3, 1, 3], dtype=np.int8), 4)
    return [
        pool_case("global 25x5 window on 64 channels, as keyword spotting", rng, op,
                  input_shape=(1, 25, 5, 64), kernel=(25, 5), strides=(25, 5)),
        pool_case("global 8x8 window on 17 channels", rng, op,
                  input_shape=(1, 8, 8, 17), kernel=(8, 8), strides=(8, 8)),
        pool_case("3x3 stride 2 on 1 channel, pad 1 on every side", rng, op,
                  input_shape=(1, 7, 7, 1), kernel=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1)),
        pool_case("2x2 on 5 channels, pads (0, 1, 1, 0)", rng, op,
                  input_shape=(1, 5, 6, 5), kernel=(2, 2), pads=(0, 1, 1, 0)),
        pool_case("3x3 pad 2 on 4 channels: corner windows of one tap", rng, op,
                  input_shape=(1, 3, 3, 4), kernel=(3, 3), pads=(2, 2, 2, 2)),
        pool_case("averages -0.5, -1.5, 0.5 and 1.5: ties away from zero", rng, op,
                  input_shape=(1, 2, 2, 16), kernel=(2, 2), values=ties),
        pool_case("relu with zero point 30 on 12 channels", rng, op,
                  input_shape=(1, 4, 4, 12), kernel=(2, 2), strides=(2, 2), quant=(0.05, 30),
                  activation=RELU),
        pool_case("relu6 with zero point -128, batch 2", rng, op,
                  input_shape=(2, 4, 6, 20), kernel=(3, 3), strides=(1, 2), pads=(1, 1, 1, 1),
                  quant=(0.05, -128), activation=RELU6),
    ]


@cases_for("max_pool2d_s8_mve")
def max_pool_mve_cases():
    rng = np.random.default_rng(5107)
    cases = _pool_cases("max_pool2d", rng)
    cases.append(pool_case("windows entirely in the padding give activation_min", rng,
                           "max_pool2d", input_shape=(1, 3, 3, 18), kernel=(2, 2),
                           strides=(2, 2), pads=(2, 2, 0, 0), quant=(0.05, -20),
                           activation=RELU))
    valid = cases[3]
    return cases + _rejections(valid, [
        ("rejects channel count change", _set("output_dims.3", 4)),
        ("rejects filter width 0", _set("params.filter_w", 0)),
        ("rejects activation_min > activation_max", _activation(1, 0)),
    ])


@cases_for("avg_pool2d_s8_mve")
def avg_pool_mve_cases():
    rng = np.random.default_rng(5108)
    cases = _pool_cases("average_pool2d", rng)
    cases.append(pool_case("global 80x80 window: 6400 taps, divided lane by lane", rng,
                           "average_pool2d", input_shape=(1, 80, 80, 2), kernel=(80, 80)))
    valid = cases[3]
    return cases + _rejections(valid, [
        ("rejects channel count change", _set("output_dims.3", 4)),
        ("rejects a window entirely in the padding", _set("params.pad_left", 2)),
        ("rejects activation_min > activation_max", _activation(1, 0)),
    ])
