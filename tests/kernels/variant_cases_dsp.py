"""Shape-space cases of the DSP kernel variants (see tests.kernels.variant_cases)."""

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

# --- fully connected -------------------------------------------------------------------


@cases_for("fully_connected_s8_dsp")
def fully_connected_dsp_cases():
    rng = np.random.default_rng(4001)
    return [
        fully_connected_case("depth 640 -> 128, as anomaly detection's first layer", rng,
                             input_shape=(1, 640), output_depth=128),
        fully_connected_case("depth 1 -> 1", rng, input_shape=(1, 1), output_depth=1),
        fully_connected_case("depth 3 -> 5: depth and channels not multiples of 4", rng,
                             input_shape=(1, 3), output_depth=5),
        fully_connected_case("depth 7 -> 6, 3 rows, odd row starts", rng,
                             input_shape=(3, 7), output_depth=6),
        fully_connected_case("depth 33 -> 7, input zero point -128", rng,
                             input_shape=(1, 33), output_depth=7, input_quant=(0.05, -128)),
        fully_connected_case("depth 32 -> 8, input zero point 127", rng,
                             input_shape=(1, 32), output_depth=8, input_quant=(0.05, 127)),
        fully_connected_case("extreme multipliers and shifts", rng,
                             input_shape=(1, 13), output_depth=10,
                             input_quant=(EXTREME_INPUT_SCALE, 3),
                             output_quant=(EXTREME_OUTPUT_SCALE, -5),
                             weight_scales=extreme_weight_scales()),
        fully_connected_case("all-zero channels 0 and 5, no bias", rng,
                             input_shape=(1, 20), output_depth=6, bias=None, zero_channels=(0, 5)),
        fully_connected_case("relu6", rng, input_shape=(1, 16), output_depth=9, activation=RELU6,
                             output_quant=(0.05, -10)),
        fully_connected_case("bias at the int32 limits", rng, input_shape=(1, 5), output_depth=4,
                             bias=[-(2**31), 2**31 - 1, -(2**30), 2**30]),
    ]


# --- convolution (conv2d_s8_1x1_dsp, conv2d_s8_dsp) --------------------------------------
#
# Both kernels compute blocks of 4 output pixels over filter rows padded to a multiple of
# 4 taps, and run 4 groups of 4 taps per loop turn, then single groups. The cases vary the
# pixel count modulo 4 (the last block), the tap count modulo 4 and modulo 16, the
# channel count and the padding taps. They also cover the requantization paths: the
# offset folded into the rounding, the offset added after large right shifts, the generic
# one (left shifts), and the clamp of a narrow activation range.


def _large_shift_weight_scales() -> np.ndarray:
    """Weight scales whose multipliers need right shifts of 24 to 31 and 0 (a zero
    multiplier), as in the dead channels of visual wake words' pointwise layers."""
    reals = (2**-24.5, 2**-26, 2**-27.3, 2**-28.6, 2**-30.2, 2**-31.4, 2**-40)
    return np.array([real * EXTREME_OUTPUT_SCALE / EXTREME_INPUT_SCALE for real in reals],
                    dtype=np.float32)


# Biases large enough that the multipliers above give outputs other than the offset.
LARGE_SHIFT_BIASES = [2**30, -(2**30), 2**31 - 1, -(2**31), 3 * 2**28, -(5 * 2**27), 2**30]


def _conv_rejections(valid, changes):
    """``valid`` changed into cases that the kernel must reject without writing."""
    return [rejected(valid, name, change) for name, change in changes]


@cases_for("conv2d_s8_1x1_dsp")
def conv2d_1x1_dsp_cases():
    rng = np.random.default_rng(4101)
    kernel_1x1 = {"kernel": (1, 1)}
    cases = [
        conv_case("64 -> 64 channels on 25x5, as keyword spotting", rng, **kernel_1x1,
                  input_shape=(1, 25, 5, 64), channels=64),
        conv_case("8 -> 16 channels, 9 pixels", rng, **kernel_1x1,
                  input_shape=(1, 3, 3, 8), channels=16),
        conv_case("depth 3 -> 5 channels, 6 pixels", rng, **kernel_1x1,
                  input_shape=(1, 2, 3, 3), channels=5),
        conv_case("depth 1 -> 1 channel, 1 pixel", rng, **kernel_1x1,
                  input_shape=(1, 1, 1, 1), channels=1),
        conv_case("depth 13 -> 7: a partial group", rng, **kernel_1x1,
                  input_shape=(1, 3, 5, 13), channels=7),
        conv_case("depth 36 -> 3: 2 loop turns and 1 single group", rng, **kernel_1x1,
                  input_shape=(1, 2, 2, 36), channels=3),
        conv_case("stride 2 on even 8x8 input, as image classification's shortcut", rng,
                  **kernel_1x1, input_shape=(1, 8, 8, 16), channels=32, strides=(2, 2)),
        conv_case("stride (1, 2) on 5x6 input", rng, **kernel_1x1,
                  input_shape=(1, 5, 6, 6), channels=4, strides=(1, 2)),
        conv_case("stride 3 on 7x7 input, batch 2", rng, **kernel_1x1,
                  input_shape=(2, 7, 7, 5), channels=3, strides=(3, 3)),
        conv_case("batch 3 of 3 pixels: blocks across samples", rng, **kernel_1x1,
                  input_shape=(3, 1, 3, 10), channels=6),
        conv_case("input zero point -128, output zero point 127", rng, **kernel_1x1,
                  input_shape=(1, 3, 3, 12), channels=5,
                  input_quant=(0.02, -128), output_quant=(0.05, 127)),
        conv_case("input zero point 127, output zero point -128", rng, **kernel_1x1,
                  input_shape=(1, 3, 3, 12), channels=5,
                  input_quant=(0.02, 127), output_quant=(0.05, -128)),
        conv_case("extreme multipliers and shifts per channel", rng, **kernel_1x1,
                  input_shape=(1, 3, 3, 24), channels=10,
                  input_quant=(EXTREME_INPUT_SCALE, 3), output_quant=(EXTREME_OUTPUT_SCALE, -5),
                  weight_scales=extreme_weight_scales()),
        conv_case("all-zero weight channels 0 and 4, no bias", rng, **kernel_1x1,
                  input_shape=(1, 2, 5, 9), channels=6, bias=None, zero_channels=(0, 4)),
        conv_case("relu6 with output zero point -10", rng, **kernel_1x1,
                  input_shape=(1, 3, 3, 16), channels=8, output_quant=(0.05, -10),
                  activation=RELU6),
        conv_case("relu with output zero point 20", rng, **kernel_1x1,
                  input_shape=(1, 2, 2, 8), channels=4, output_quant=(0.5, 20),
                  activation=RELU),
        conv_case("bias at the int32 limits", rng, **kernel_1x1,
                  input_shape=(1, 2, 3, 4), channels=4,
                  bias=[-(2**31), 2**31 - 1, -(2**30), 2**30]),
        conv_case("output zero point 127 with a narrow output scale", rng, **kernel_1x1,
                  input_shape=(1, 4, 4, 32), channels=4, output_quant=(0.002, 127)),
        conv_case("right shifts 24 to 31 and a zero multiplier, output zero point 100", rng,
                  **kernel_1x1, input_shape=(1, 3, 3, 16), channels=7,
                  input_quant=(EXTREME_INPUT_SCALE, -128),
                  output_quant=(EXTREME_OUTPUT_SCALE, 100),
                  weight_scales=_large_shift_weight_scales(), bias=LARGE_SHIFT_BIASES),
        conv_case("right shifts 24 to 31 with relu6 and output zero point -128", rng, **kernel_1x1,
                  input_shape=(1, 2, 2, 8), channels=7,
                  input_quant=(EXTREME_INPUT_SCALE, 5),
                  output_quant=(EXTREME_OUTPUT_SCALE, -128), activation=(0.0, 6.0),
                  weight_scales=_large_shift_weight_scales(), bias=LARGE_SHIFT_BIASES),
    ]
    valid = cases[2]
    return cases + _conv_rejections(valid, [
        ("rejects a 3x1 filter", _set("filter_dims.1", 3)),
        ("rejects padding on top", _set("params.pad_top", 1)),
        ("rejects padding on the left", _set("params.pad_left", 1)),
        ("rejects output rows past the input", _set("output_dims.1", 3)),
        ("rejects a filter offset", _set("params.filter_offset", 1)),
        ("rejects stride 0", _set("params.stride_h", 0)),
        ("rejects activation_min > activation_max", _activation(11, 10)),
    ])


@cases_for("conv2d_s8_dsp")
def conv2d_dsp_cases():
    rng = np.random.default_rng(4102)
    cases = [
        conv_case("10x4 stride 2 on 49x10x1, as keyword spotting's first layer", rng,
                  input_shape=(1, 49, 10, 1), kernel=(10, 4), channels=8, strides=(2, 2),
                  pads=(4, 1, 5, 1)),
        conv_case("3x3 stride 2 on 12x12x3, as visual wake words' first layer", rng,
                  input_shape=(1, 12, 12, 3), kernel=(3, 3), channels=8, strides=(2, 2),
                  pads=(0, 0, 1, 1)),
        conv_case("3x3 pad 1, 3 -> 16 channels, as image classification's first layer", rng,
                  input_shape=(1, 6, 6, 3), kernel=(3, 3), channels=16, pads=(1, 1, 1, 1)),
        conv_case("3x3 pad 1, 16 -> 16 channels on 8x8", rng,
                  input_shape=(1, 8, 8, 16), kernel=(3, 3), channels=16, pads=(1, 1, 1, 1)),
        conv_case("3x3 stride 2, 16 -> 32 channels on even 8x8", rng,
                  input_shape=(1, 8, 8, 16), kernel=(3, 3), channels=32, strides=(2, 2),
                  pads=(0, 0, 1, 1)),
        conv_case("3x3 pad 1, 64 -> 8 channels on 3x3", rng,
                  input_shape=(1, 3, 3, 64), kernel=(3, 3), channels=8, pads=(1, 1, 1, 1)),
        conv_case("3x3 pads only on top and left, depth 5", rng,
                  input_shape=(1, 5, 6, 5), kernel=(3, 3), channels=3, pads=(2, 2, 0, 0)),
        conv_case("3x3 pads only on bottom and right, depth 6", rng,
                  input_shape=(1, 6, 5, 6), kernel=(3, 3), channels=7, pads=(0, 0, 2, 2)),
        conv_case("2x5 window wider than the padded row", rng,
                  input_shape=(1, 4, 3, 2), kernel=(2, 5), channels=5, pads=(1, 2, 0, 2)),
        conv_case("dilation (2, 3), pads 2 and 3", rng,
                  input_shape=(1, 7, 9, 4), kernel=(3, 3), channels=5, dilations=(2, 3),
                  pads=(2, 3, 2, 3)),
        conv_case("dilation 2 with stride 2, depth 8", rng,
                  input_shape=(1, 9, 9, 8), kernel=(3, 3), channels=4, strides=(2, 2),
                  dilations=(2, 2), pads=(1, 1, 1, 1)),
        conv_case("1x1 with padding 1 on every side", rng,
                  input_shape=(1, 3, 3, 4), kernel=(1, 1), channels=3, pads=(1, 1, 1, 1)),
        conv_case("batch 2, 3x3 pad 1, 5 output pixels per sample", rng,
                  input_shape=(2, 1, 5, 3), kernel=(3, 3), channels=4, pads=(1, 1, 1, 1)),
        conv_case("input zero point -128 in the padding", rng,
                  input_shape=(1, 5, 5, 4), kernel=(3, 3), channels=6, pads=(1, 1, 1, 1),
                  input_quant=(0.02, -128), output_quant=(0.05, 127)),
        conv_case("input zero point 127 in the padding", rng,
                  input_shape=(1, 5, 5, 3), kernel=(3, 3), channels=6, pads=(1, 1, 1, 1),
                  input_quant=(0.02, 127), output_quant=(0.05, -128)),
        conv_case("extreme multipliers and shifts per channel", rng,
                  input_shape=(1, 4, 4, 5), kernel=(3, 3), channels=10, pads=(1, 1, 1, 1),
                  input_quant=(EXTREME_INPUT_SCALE, -7), output_quant=(EXTREME_OUTPUT_SCALE, 9),
                  weight_scales=extreme_weight_scales()),
        conv_case("all-zero weight channels, no bias", rng,
                  input_shape=(1, 4, 4, 3), kernel=(3, 3), channels=5, pads=(1, 1, 1, 1),
                  bias=None, zero_channels=(1, 2)),
        conv_case("relu6 with output zero point -10", rng,
                  input_shape=(1, 5, 5, 4), kernel=(3, 3), channels=4, pads=(1, 1, 1, 1),
                  output_quant=(0.05, -10), activation=RELU6),
        conv_case("bias at the int32 limits, 1 output pixel", rng,
                  input_shape=(1, 3, 3, 2), kernel=(3, 3), channels=4,
                  bias=[-(2**31), 2**31 - 1, -(2**30), 2**30]),
        conv_case("right shifts 24 to 31 and a zero multiplier, output zero point -60", rng,
                  input_shape=(1, 4, 3, 3), kernel=(3, 3), channels=7, pads=(1, 1, 1, 1),
                  input_quant=(EXTREME_INPUT_SCALE, 20),
                  output_quant=(EXTREME_OUTPUT_SCALE, -60),
                  weight_scales=_large_shift_weight_scales(), bias=LARGE_SHIFT_BIASES),
    ]
    valid = cases[2]
    return cases + _conv_rejections(valid, [
        ("rejects filter depth != input depth", _set("filter_dims.3", 2)),
        ("rejects a filter offset", _set("params.filter_offset", 1)),
        ("rejects dilation 0", _set("params.dilation_w", 0)),
        ("rejects activation_max above 127", _activation(-128, 128)),
    ])


# --- depthwise convolution (depthwise_conv2d_s8_3x3_dsp, depthwise_conv2d_s8_dsp) --------
#
# The 3x3 kernel computes two neighbouring output pixels at a time from pair columns, so an
# odd output width leaves one pixel alone. It takes groups of 4 channels, and a partial
# last group or a stride above 2 takes its general loop. Its requantization has a fast
# form for shifts in [-22, -1], output zero points in [-128, 128] and biases below about
# 2**30, and a channel outside it sends the whole call to the general loop. The cases vary
# each of these, the padding on every side and the ring of input rows (strides 1, 2, 3).
# The general kernel's cases add other windows, dilations and depth multipliers 2 to 5.


def _real_multiplier_scales(reals) -> np.ndarray:
    """Weight scales that give these real multipliers with the extreme input and output
    scales."""
    return np.array([r * EXTREME_OUTPUT_SCALE / EXTREME_INPUT_SCALE for r in reals],
                    dtype=np.float32)


# Real multipliers whose shifts are -1, -8, -21 and -22: the ends of the fast form.
FAST_SHIFT_REALS = (0.3, 0.75 * 2**-8, 0.75 * 2**-21, 0.75 * 2**-22)
# The fast limit of |bias| in edgec/dsp_dw_requantize.h (EDGEC_DSP_DW_FAST_BIAS_LIMIT_3X3).
FAST_BIAS_LIMIT_3X3 = 2**30 - 9 * 128 * 128


@cases_for("depthwise_conv2d_s8_3x3_dsp")
def depthwise_3x3_dsp_cases():
    rng = np.random.default_rng(4201)
    dw = {"depthwise": True, "kernel": (3, 3)}
    cases = [
        conv_case("64 channels on 25x5, pad 1, as keyword spotting", rng, **dw,
                  input_shape=(1, 25, 5, 64), pads=(1, 1, 1, 1), input_quant=(0.05, -128),
                  output_quant=(0.1, -128), activation=RELU),
        conv_case("stride 2 on even 12x12x16, pads (0,0,1,1), as visual wake words", rng,
                  **dw, input_shape=(1, 12, 12, 16), strides=(2, 2), pads=(0, 0, 1, 1)),
        conv_case("stride 2 on 9x7x8, pad 1 on every side: odd output width", rng, **dw,
                  input_shape=(1, 9, 7, 8), strides=(2, 2), pads=(1, 1, 1, 1)),
        conv_case("256 channels on 3x3, pad 1", rng, **dw,
                  input_shape=(1, 3, 3, 256), pads=(1, 1, 1, 1)),
        conv_case("5 channels: one full group and a partial one", rng, **dw,
                  input_shape=(1, 6, 7, 5), pads=(1, 1, 1, 1)),
        conv_case("7 channels, stride 2", rng, **dw,
                  input_shape=(1, 8, 6, 7), strides=(2, 2), pads=(1, 1, 1, 1)),
        conv_case("1 channel, 1x1 input, pad 1: one output pixel", rng, **dw,
                  input_shape=(1, 1, 1, 1), pads=(1, 1, 1, 1)),
        conv_case("3 channels: only a partial group", rng, **dw,
                  input_shape=(1, 4, 4, 3), pads=(1, 1, 1, 1)),
        conv_case("12 channels, 3x3 input, no padding: one output pixel", rng, **dw,
                  input_shape=(1, 3, 3, 12)),
        conv_case("8 channels, output width 2", rng, **dw,
                  input_shape=(1, 4, 2, 8), pads=(1, 1, 1, 1)),
        conv_case("pads only on top and left (2, 2, 0, 0)", rng, **dw,
                  input_shape=(1, 5, 6, 8), pads=(2, 2, 0, 0)),
        conv_case("pads only on bottom and right (0, 0, 2, 2)", rng, **dw,
                  input_shape=(1, 6, 5, 4), pads=(0, 0, 2, 2)),
        conv_case("pads (2, 0, 1, 2): windows entirely in the padding", rng, **dw,
                  input_shape=(1, 3, 4, 8), pads=(2, 0, 1, 2)),
        conv_case("stride (1, 2), pads (1, 0, 1, 1)", rng, **dw,
                  input_shape=(1, 5, 8, 8), strides=(1, 2), pads=(1, 0, 1, 1)),
        conv_case("stride (2, 1) on even 8x8", rng, **dw,
                  input_shape=(1, 8, 8, 4), strides=(2, 1), pads=(0, 1, 1, 1)),
        conv_case("stride 3: rows skipped in the ring, general loop", rng, **dw,
                  input_shape=(1, 10, 10, 8), strides=(3, 3), pads=(1, 1, 1, 1)),
        conv_case("batch 2, stride 1", rng, **dw,
                  input_shape=(2, 5, 5, 8), pads=(1, 1, 1, 1)),
        conv_case("batch 3, stride 2, 6 channels", rng, **dw,
                  input_shape=(3, 6, 6, 6), strides=(2, 2), pads=(0, 0, 1, 1)),
        conv_case("input zero point -128 in the padding, output zero point 127", rng, **dw,
                  input_shape=(1, 5, 5, 8), pads=(1, 1, 1, 1),
                  input_quant=(0.02, -128), output_quant=(0.05, 127)),
        conv_case("input zero point 127 in the padding, output zero point -128", rng, **dw,
                  input_shape=(1, 5, 5, 8), pads=(1, 1, 1, 1),
                  input_quant=(0.02, 127), output_quant=(0.05, -128)),
        conv_case("shifts -1, -8, -21 and -22 on the fast path", rng, **dw,
                  input_shape=(1, 4, 6, 8), pads=(1, 1, 1, 1),
                  input_quant=(EXTREME_INPUT_SCALE, -3), output_quant=(EXTREME_OUTPUT_SCALE, 5),
                  weight_scales=np.tile(_real_multiplier_scales(FAST_SHIFT_REALS), 2)),
        conv_case("shift -23 sends the call to the general loop", rng, **dw,
                  input_shape=(1, 4, 6, 4), pads=(1, 1, 1, 1),
                  input_quant=(EXTREME_INPUT_SCALE, -3), output_quant=(EXTREME_OUTPUT_SCALE, 5),
                  weight_scales=_real_multiplier_scales((0.3, 0.75 * 2**-23, 0.5, 0.4))),
        conv_case("extreme multipliers and shifts per channel", rng, **dw,
                  input_shape=(1, 4, 5, 10), pads=(1, 1, 1, 1),
                  input_quant=(EXTREME_INPUT_SCALE, -3), output_quant=(EXTREME_OUTPUT_SCALE, 7),
                  weight_scales=extreme_weight_scales()),
        conv_case("all-zero weight channels 0, 3 and 5, no bias", rng, **dw,
                  input_shape=(1, 4, 4, 8), pads=(1, 1, 1, 1), bias=None,
                  zero_channels=(0, 3, 5)),
        conv_case("relu6 with output zero point -10: the clamp pass", rng, **dw,
                  input_shape=(1, 5, 6, 12), pads=(1, 1, 1, 1), output_quant=(0.02, -10),
                  activation=RELU6),
        conv_case("relu with output zero point 20, 5 channels", rng, **dw,
                  input_shape=(1, 4, 5, 5), pads=(1, 1, 1, 1), output_quant=(0.5, 20),
                  activation=RELU),
        conv_case("biases just inside the fast limit", rng, **dw,
                  input_shape=(1, 3, 4, 4), pads=(1, 1, 1, 1),
                  bias=[FAST_BIAS_LIMIT_3X3 - 1, -(FAST_BIAS_LIMIT_3X3 - 1), 0, 7]),
        conv_case("bias at the int32 limits", rng, **dw,
                  input_shape=(1, 3, 3, 4), pads=(1, 1, 1, 1),
                  bias=[-(2**31), 2**31 - 1, -(2**30), 2**30]),
    ]
    valid = cases[0]
    return cases + _conv_rejections(valid, [
        ("rejects depth multiplier 2", _set("params.depth_multiplier", 2)),
        ("rejects dilation 2", _set("params.dilation_h", 2)),
        ("rejects a 3x2 filter", _set("filter_dims.2", 2)),
        ("rejects a filter offset", _set("params.filter_offset", 1)),
        ("rejects an input zero point outside int8", _set("params.input_offset", 129)),
        ("rejects stride 0", _set("params.stride_w", 0)),
        ("rejects activation_min > activation_max", _activation(11, 10)),
    ])


@cases_for("depthwise_conv2d_s8_dsp")
def depthwise_dsp_cases():
    rng = np.random.default_rng(4202)
    dw = {"depthwise": True}
    cases = [
        conv_case("3x3 multiplier 2 on 6x6x4: taps expanded by halfwords", rng, **dw,
                  kernel=(3, 3), depth_multiplier=2, input_shape=(1, 6, 6, 4),
                  pads=(1, 1, 1, 1)),
        conv_case("3x3 multiplier 4 on 5x4x3: taps expanded by words", rng, **dw,
                  kernel=(3, 3), depth_multiplier=4, input_shape=(1, 5, 4, 3),
                  pads=(1, 1, 1, 1)),
        conv_case("3x3 multiplier 3, stride 2 on even 8x8x3", rng, **dw, kernel=(3, 3),
                  depth_multiplier=3, input_shape=(1, 8, 8, 3), strides=(2, 2),
                  pads=(0, 0, 1, 1)),
        conv_case("5x5 multiplier 1 on 9x9x16, pad 2", rng, **dw, kernel=(5, 5),
                  input_shape=(1, 9, 9, 16), pads=(2, 2, 2, 2)),
        conv_case("3x3 dilation 2 on 9x9x8", rng, **dw, kernel=(3, 3),
                  input_shape=(1, 9, 9, 8), dilations=(2, 2), pads=(2, 2, 2, 2)),
        conv_case("3x3 dilation (2, 3) with stride 2, 5 channels", rng, **dw, kernel=(3, 3),
                  input_shape=(1, 10, 11, 5), dilations=(2, 3), strides=(2, 2),
                  pads=(1, 2, 1, 2)),
        conv_case("1x1 window, 7 channels", rng, **dw, kernel=(1, 1),
                  input_shape=(1, 3, 4, 7)),
        conv_case("3x1 window, stride (2, 1), 12 channels", rng, **dw, kernel=(3, 1),
                  input_shape=(1, 7, 4, 12), strides=(2, 1), pads=(1, 0, 1, 0)),
        conv_case("1x4 window, pads only on the right", rng, **dw, kernel=(1, 4),
                  input_shape=(1, 3, 6, 4), pads=(0, 0, 0, 3)),
        conv_case("2x2 window, pads only on top and left", rng, **dw, kernel=(2, 2),
                  input_shape=(1, 4, 5, 9), pads=(1, 1, 0, 0)),
        conv_case("7x7 window on a 3x3 input: most taps in the padding", rng, **dw,
                  kernel=(7, 7), input_shape=(1, 3, 3, 8), pads=(3, 3, 3, 3)),
        conv_case("3x3 multiplier 1, 64 channels, as keyword spotting", rng, **dw,
                  kernel=(3, 3), input_shape=(1, 5, 5, 64), pads=(1, 1, 1, 1),
                  input_quant=(0.05, -128)),
        conv_case("batch 2, 3x2 window, multiplier 2", rng, **dw, kernel=(3, 2),
                  depth_multiplier=2, input_shape=(2, 5, 6, 3), pads=(2, 0, 0, 1)),
        conv_case("input zero point -128, output zero point 127, 5x5", rng, **dw,
                  kernel=(5, 5), input_shape=(1, 5, 5, 8), pads=(2, 2, 2, 2),
                  input_quant=(0.02, -128), output_quant=(0.05, 127)),
        conv_case("input zero point 127, output zero point -128, multiplier 2", rng, **dw,
                  kernel=(3, 3), depth_multiplier=2, input_shape=(1, 5, 5, 3),
                  pads=(1, 1, 1, 1), input_quant=(0.02, 127), output_quant=(0.05, -128)),
        conv_case("extreme multipliers and shifts, multiplier 5", rng, **dw, kernel=(3, 3),
                  depth_multiplier=5, input_shape=(1, 4, 4, 2), pads=(1, 1, 1, 1),
                  input_quant=(EXTREME_INPUT_SCALE, -3), output_quant=(EXTREME_OUTPUT_SCALE, 7),
                  weight_scales=extreme_weight_scales()),
        conv_case("shifts -1, -8, -21 and -22 on the fast path, 5x5", rng, **dw, kernel=(5, 5),
                  input_shape=(1, 6, 6, 8), pads=(2, 2, 2, 2),
                  input_quant=(EXTREME_INPUT_SCALE, -3), output_quant=(EXTREME_OUTPUT_SCALE, 5),
                  weight_scales=np.tile(_real_multiplier_scales(FAST_SHIFT_REALS), 2)),
        conv_case("all-zero weight channels, no bias, multiplier 2", rng, **dw, kernel=(3, 3),
                  depth_multiplier=2, input_shape=(1, 4, 4, 4), pads=(1, 1, 1, 1), bias=None,
                  zero_channels=(0, 3, 5)),
        conv_case("relu6 with output zero point -10, 8 channels", rng, **dw, kernel=(3, 3),
                  input_shape=(1, 5, 5, 8), pads=(1, 1, 1, 1), output_quant=(0.02, -10),
                  activation=RELU6),
        conv_case("bias at the int32 limits, 5x5", rng, **dw, kernel=(5, 5),
                  input_shape=(1, 5, 5, 4), pads=(2, 2, 2, 2),
                  bias=[-(2**31), 2**31 - 1, -(2**30), 2**30]),
    ]
    valid = cases[0]
    return cases + _conv_rejections(valid, [
        ("rejects filter channels != input channels * multiplier",
         _set("params.depth_multiplier", 3)),
        ("rejects a filter offset", _set("params.filter_offset", 1)),
        ("rejects an input zero point outside int8", _set("params.input_offset", -128)),
        ("rejects dilation 0", _set("params.dilation_w", 0)),
        ("rejects activation_max above 127", _activation(-128, 128)),
    ])


# --- pooling (max_pool2d_s8_dsp, avg_pool2d_s8_dsp) ----------------------------------------
#
# Both kernels take 8 channels a step, then 4, then single channels, so the cases vary the
# channel count modulo 8 and 4. The average pool sums in int16 lanes up to 256 taps and in
# int32 beyond. It rounds halves away from zero, which windows of 2 and 4 taps hit.


def _pool_dsp_cases(op: str, rng: np.random.Generator) -> list:
    extremes = rng.choice(np.array([-128, 127, -127, 126], dtype=np.int8), size=(1, 6, 6, 13))
    return [
        pool_case("global 25x5 window on 64 channels, as keyword spotting", rng, op,
                  input_shape=(1, 25, 5, 64), kernel=(25, 5), quant=(0.05, -128)),
        pool_case("global 8x8 window on 64 channels, as image classification", rng, op,
                  input_shape=(1, 8, 8, 64), kernel=(8, 8), strides=(8, 8)),
        pool_case("3x3 window on 3x3x256, as visual wake words", rng, op,
                  input_shape=(1, 3, 3, 256), kernel=(3, 3), strides=(3, 3)),
        pool_case("global 16x17 window: 272 taps", rng, op,
                  input_shape=(1, 16, 17, 12), kernel=(16, 17)),
        pool_case("2x2 stride 2 on 13 channels: 8, 4 and 1 per step", rng, op,
                  input_shape=(1, 6, 6, 13), kernel=(2, 2), strides=(2, 2)),
        pool_case("2x1 windows on 1 channel", rng, op, input_shape=(1, 6, 3, 1), kernel=(2, 1),
                  strides=(2, 1)),
        pool_case("3x3 stride 2, pad 1 on every side, 5 channels", rng, op,
                  input_shape=(1, 8, 8, 5), kernel=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1)),
        pool_case("3x3 stride 1, pads only on top and left, 12 channels", rng, op,
                  input_shape=(1, 5, 6, 12), kernel=(3, 3), pads=(2, 2, 0, 0)),
        pool_case("3x2 stride (1, 2), pads only on bottom and right, batch 2", rng, op,
                  input_shape=(2, 5, 6, 9), kernel=(3, 2), strides=(1, 2), pads=(0, 0, 2, 1)),
        pool_case("relu6 with zero point -10, 16 channels", rng, op,
                  input_shape=(1, 6, 6, 16), kernel=(2, 2), strides=(2, 2), quant=(0.05, -10),
                  activation=RELU6),
        pool_case("relu with zero point 20, 7 channels", rng, op,
                  input_shape=(1, 4, 4, 7), kernel=(2, 2), strides=(2, 2), quant=(0.5, 20),
                  activation=RELU),
        pool_case("inputs at -128 and 127, pad 1, 13 channels", rng, op,
                  input_shape=(1, 6, 6, 13), kernel=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1),
                  values=extremes),
        pool_case("1x1 window, 3 channels", rng, op, input_shape=(1, 3, 4, 3), kernel=(1, 1)),
    ]


@cases_for("max_pool2d_s8_dsp")
def max_pool_dsp_cases():
    rng = np.random.default_rng(4301)
    cases = _pool_dsp_cases("max_pool2d", rng)
    cases.append(pool_case("windows entirely in the padding give activation_min, 9 channels",
                           rng, "max_pool2d", input_shape=(1, 3, 3, 9), kernel=(2, 2),
                           strides=(2, 2), pads=(2, 2, 0, 0), quant=(0.05, -20),
                           activation=RELU))
    valid = cases[0]
    return cases + _conv_rejections(valid, [
        ("rejects a channel count change", _set("output_dims.3", 2)),
        ("rejects stride 0", _set("params.stride_w", 0)),
        ("rejects activation_min > activation_max", _activation(0, -1)),
    ])


@cases_for("avg_pool2d_s8_dsp")
def avg_pool_dsp_cases():
    rng = np.random.default_rng(4302)
    cases = _pool_dsp_cases("average_pool2d", rng)
    valid = cases[0]
    return cases + _conv_rejections(valid, [
        ("rejects a window entirely in the padding", _set("params.pad_top", 25)),
        ("rejects filter height 0", _set("params.filter_h", 0)),
        ("rejects activation_min > activation_max", _activation(0, -1)),
    ])


# --- add and sub (add_s8_dsp) --------------------------------------------------------------
#
# From 64 elements the kernel tabulates both inputs. It requantizes the output with SMMLAR
# when the output shift is in [-22, -1], and otherwise, or below 64 elements, uses
# fixed_point.h per element. Sizes not a multiple of 8 exercise the tail of its 8-element
# loop. The test programs cannot call a kernel in place because their input and output
# buffers are separate, so in-place runs are covered by the models' end-to-end checks.


@cases_for("add_s8_dsp")
def add_dsp_cases():
    rng = np.random.default_rng(4401)
    q1, q2, q_out = (0.05, -3), (0.1, 10), (0.12, 2)
    cases = []
    for op in ("add", "sub"):
        cases += [
            binary_case(f"{op}: 32x32x16, as image classification's first add", rng, op,
                        shape1=(1, 32, 32, 16), shape2=(1, 32, 32, 16), quant1=q1,
                        quant2=q2, output_quant=q_out),
            binary_case(f"{op}: 1027 elements: the 8-element loop's tail", rng, op,
                        shape1=(1, 1027), shape2=(1, 1027), quant1=q1, quant2=q2,
                        output_quant=q_out),
            binary_case(f"{op}: 63 elements: below the table size", rng, op,
                        shape1=(3, 3, 7), shape2=(3, 3, 7), quant1=q1, quant2=q2,
                        output_quant=q_out),
            binary_case(f"{op}: 64 elements: the smallest tabulated size", rng, op,
                        shape1=(4, 16), shape2=(4, 16), quant1=q1, quant2=q2,
                        output_quant=q_out),
            binary_case(f"{op}: input scales 1000x apart", rng, op, shape1=(8, 8, 33),
                        shape2=(8, 8, 33), quant1=(0.001, 0), quant2=(1.0, 0),
                        output_quant=(0.5, 0)),
            binary_case(f"{op}: zero points -128, 127 and -128", rng, op, shape1=(2, 30, 25),
                        shape2=(2, 30, 25), quant1=(0.03, -128), quant2=(0.04, 127),
                        output_quant=(0.05, -128)),
            binary_case(f"{op}: zero points 127, -128 and 127", rng, op, shape1=(1, 2050),
                        shape2=(1, 2050), quant1=(0.03, 127), quant2=(0.04, -128),
                        output_quant=(0.05, 127)),
            binary_case(f"{op}: relu with output zero point 5: the clamp pass", rng, op,
                        shape1=(4, 300), shape2=(4, 300), quant1=q1, quant2=q2,
                        output_quant=(0.01, 5), activation=RELU),
            binary_case(f"{op}: relu6 with output zero point -128", rng, op,
                        shape1=(1, 16, 16, 5), shape2=(1, 16, 16, 5), quant1=q1, quant2=q2,
                        output_quant=(0.05, -128), activation=RELU6),
            binary_case(f"{op}: input scales 2**26 apart: exact tables", rng, op,
                        shape1=(1, 1030), shape2=(1, 1030), quant1=(2**-26, 4),
                        quant2=(1.0, -4), output_quant=(0.01, 0)),
            binary_case(f"{op}: output scale 24x the inputs: output shift -23", rng, op,
                        shape1=(1, 1100), shape2=(1, 1100), quant1=(0.05, 1),
                        quant2=(0.05, -1), output_quant=(1.2, 0)),
            binary_case(f"{op}: output scale 2**-21 of the inputs: a left shift", rng, op,
                        shape1=(1, 1100), shape2=(1, 1100), quant1=(0.5, 1),
                        quant2=(0.25, -1), output_quant=(0.5 * 2**-21, 0)),
            binary_case(f"{op}: equal scales, 11 elements", rng, op, shape1=(11,),
                        shape2=(11,), quant1=(0.1, 0), quant2=(0.1, 0), output_quant=(0.1, 0)),
        ]
    valid = cases[0]
    return cases + _conv_rejections(valid, [
        ("rejects sign 2", _set("sign", 2)),
        ("rejects a negative broadcast stride", _set("broadcast.input2_strides.1", -1)),
        ("rejects activation_min > activation_max", _activation(3, 2)),
    ])
