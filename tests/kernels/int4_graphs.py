"""One-node graphs with int4 filters for the int4-weight kernels (edgec_*_s8_s4), and
random draws of them.

The graphs hold int4 filters (int8 values in [-7, 7]) with per-channel scales and,
for per-group cases, ``Quant.group_size`` and ``Quant.group_multipliers``. The expected
outputs come from the reference interpreter, as for the int8 kernels
(``tests.kernels.calls``). The scenarios are listed in ``tests.kernels.cases``.
"""

from __future__ import annotations

import math

import numpy as np

from edgec.ir import Quant
from edgec.quantize.params import accumulator_weight_scales, grouped_weights
from tests.kernels.bench import KernelCase
from tests.kernels.graphs import GraphBuilder, per_tensor, random_int8, window_output_size
from tests.kernels.random_cases import _activation, _log_uniform, _window, _zero_point

# Standard deviation of a uniform random int8 input around its zero point.
_INPUT_STD = 73.6
GROUP_SIZES = (None, 2, 3, 8, 32, 64)


def int4_filter(rng: np.random.Generator, shape: tuple[int, ...], axis: int, *,
                group_size: int | None, weights: str = "random", multipliers: str = "random",
                weight_scales=None, zero_channels=()) -> tuple[np.ndarray, Quant]:
    """Draw int4 filter values of ``shape`` and their ``Quant`` (channel axis ``axis``).

    ``weights`` "random" draws values in [-7, 7], "extreme" only -7 and 7, and an array
    gives the values. ``multipliers`` "random" draws group multipliers in [1, 255],
    "extreme" only 1 and 255, and an array gives them.
    """
    if isinstance(weights, np.ndarray):
        values = weights.astype(np.int8)
    elif weights == "extreme":
        values = rng.choice(np.array([-7, 7], dtype=np.int8), size=shape)
    else:
        values = rng.integers(-7, 8, size=shape).astype(np.int8)
    channel_view = np.moveaxis(values, axis, 0)
    for channel in zero_channels:
        channel_view[channel] = 0
    channels = shape[axis]
    if weight_scales is None:
        weight_scales = rng.uniform(0.02, 0.2, size=channels)
    scales = np.asarray(weight_scales, dtype=np.float32)
    zero_points = np.zeros(channels, dtype=np.int64)
    if group_size is None:
        return values, Quant(scales, zero_points, axis=axis)

    reduction = values.size // channels
    groups = math.ceil(reduction / group_size)
    if isinstance(multipliers, np.ndarray):
        group_multipliers = multipliers.astype(np.uint8)
    elif multipliers == "extreme":
        group_multipliers = rng.choice(np.array([1, 255], dtype=np.uint8), size=(channels, groups))
        group_multipliers.flat[0] = 1
        group_multipliers.flat[-1] = 255
    else:
        group_multipliers = rng.integers(1, 256, size=(channels, groups)).astype(np.uint8)
    quant = Quant(scales, zero_points, axis=axis, group_size=group_size,
                  group_multipliers=group_multipliers)
    return values, quant


def _spread_output_scale(input_scale: float, values: np.ndarray, quant: Quant, axis: int,
                         taps: int) -> float:
    """An output scale that puts random accumulators at a standard deviation of ~40 steps."""
    effective = grouped_weights(values, quant, axis).astype(np.float64)
    weight_rms = max(float(np.sqrt(np.mean(effective**2))), 1.0)
    scale = float(np.mean(accumulator_weight_scales(quant)))
    return input_scale * scale * _INPUT_STD * weight_rms * math.sqrt(taps) / 40


def _add_bias(builder: GraphBuilder, rng: np.random.Generator, bias, quant: Quant,
              input_scale: float, channels: int) -> str:
    if bias is None:
        return ""
    values = rng.integers(-(2**14), 2**14, size=channels) if isinstance(bias, str) else bias
    scales = np.float32(input_scale) * np.broadcast_to(accumulator_weight_scales(quant), channels)
    bias_quant = Quant(scales.astype(np.float32), np.zeros(channels, dtype=np.int64), axis=0)
    return builder.constant("bias", np.asarray(values, dtype=np.int64).astype(np.int32),
                            "int32", bias_quant)


def int4_conv_case(name: str, rng: np.random.Generator, *, input_shape, kernel, channels=None,
                   depth_multiplier: int = 1, depthwise: bool = False, strides=(1, 1),
                   dilations=(1, 1), pads=(0, 0, 0, 0), input_quant=(0.05, 0),
                   output_quant=None, group_size=None, weights="random",
                   multipliers="random", weight_scales=None, activation=None, bias="random",
                   zero_channels=(), output_scale_factor: float = 1.0) -> KernelCase:
    """A conv2d (OHWI) or depthwise_conv2d (1HW(C*M)) case with an int4 filter."""
    n, h, w, c = input_shape
    kh, kw = kernel
    out_channels = c * depth_multiplier if depthwise else channels
    axis = 3 if depthwise else 0
    filter_shape = (1, kh, kw, out_channels) if depthwise else (out_channels, kh, kw, c)
    taps = kh * kw * (1 if depthwise else c)
    values, quant = int4_filter(rng, filter_shape, axis, group_size=group_size, weights=weights,
                                multipliers=multipliers, weight_scales=weight_scales,
                                zero_channels=zero_channels)
    input_scale = input_quant[0]
    if output_quant is None:
        scale = _spread_output_scale(input_scale, values, quant, axis, taps)
        output_quant = (scale * output_scale_factor, 0)
    out_h = window_output_size(h, kh, strides[0], dilations[0], pads[0], pads[2])
    out_w = window_output_size(w, kw, strides[1], dilations[1], pads[1], pads[3])

    builder = GraphBuilder()
    x = builder.input("input", random_int8(rng, input_shape), per_tensor(*input_quant))
    f = builder.constant("filter", values, "int4", quant)
    b = _add_bias(builder, rng, bias, quant, input_scale, out_channels)
    y = builder.output("output", (n, out_h, out_w, out_channels), per_tensor(*output_quant))
    attrs = {"strides": tuple(strides), "dilations": tuple(dilations), "pads": tuple(pads),
             "activation": activation}
    if depthwise:
        attrs["depth_multiplier"] = depth_multiplier
    return builder.case(name, "depthwise_conv2d" if depthwise else "conv2d", [x, f, b], y, attrs)


def int4_fully_connected_case(name: str, rng: np.random.Generator, *, input_shape,
                              output_depth, input_quant=(0.05, 0), output_quant=None,
                              group_size=None, weights="random", multipliers="random",
                              weight_scales=None, activation=None, bias="random",
                              zero_channels=(), input_values=None) -> KernelCase:
    """A fully_connected case with an int4 (O, I) filter; the depth is the last input dim."""
    input_depth = input_shape[-1]
    rows = int(np.prod(input_shape)) // input_depth
    values, quant = int4_filter(rng, (output_depth, input_depth), 0, group_size=group_size,
                                weights=weights, multipliers=multipliers,
                                weight_scales=weight_scales, zero_channels=zero_channels)
    if output_quant is None:
        output_quant = (_spread_output_scale(input_quant[0], values, quant, 0, input_depth), 0)
    data = random_int8(rng, input_shape) if input_values is None else input_values

    builder = GraphBuilder()
    x = builder.input("input", data, per_tensor(*input_quant))
    f = builder.constant("filter", values, "int4", quant)
    b = _add_bias(builder, rng, bias, quant, input_quant[0], output_depth)
    y = builder.output("output", (rows, output_depth), per_tensor(*output_quant))
    return builder.case(name, "fully_connected", [x, f, b], y, {"activation": activation})


def random_int4_conv_cases(rng: np.random.Generator, count: int,
                           depthwise: bool) -> list[KernelCase]:
    cases = []
    for index in range(count):
        n, h, w, c = (int(rng.integers(1, 3)), int(rng.integers(1, 9)),
                      int(rng.integers(1, 9)), int(rng.integers(1, 6)))
        kh, sh, dh, top, bottom = _window(rng, h, 4, dilated=True)
        kw, sw, dw, left, right = _window(rng, w, 4, dilated=True)
        multiplier = int(rng.integers(1, 4)) if depthwise else 1
        channels = c * multiplier if depthwise else int(rng.integers(1, 7))
        group_size = GROUP_SIZES[int(rng.integers(len(GROUP_SIZES)))]
        cases.append(int4_conv_case(
            f"random configuration {index}, group size {group_size}", rng,
            depthwise=depthwise, input_shape=(n, h, w, c), kernel=(kh, kw), channels=channels,
            depth_multiplier=multiplier, strides=(sh, sw), dilations=(dh, dw),
            pads=(top, left, bottom, right),
            input_quant=(_log_uniform(rng, 1e-3, 1.0), _zero_point(rng)),
            group_size=group_size,
            weight_scales=[_log_uniform(rng, 1e-3, 1.0) for _ in range(channels)],
            activation=_activation(rng), bias="random" if rng.random() < 0.7 else None,
            output_scale_factor=_log_uniform(rng, 0.1, 10.0),
        ))
    return cases


def random_int4_fully_connected_cases(rng: np.random.Generator,
                                      count: int) -> list[KernelCase]:
    cases = []
    for index in range(count):
        rows, depth = int(rng.integers(1, 4)), int(rng.integers(1, 150))
        output_depth = int(rng.integers(1, 8))
        group_size = GROUP_SIZES[int(rng.integers(len(GROUP_SIZES)))]
        cases.append(int4_fully_connected_case(
            f"random configuration {index}, group size {group_size}", rng,
            input_shape=(rows, depth), output_depth=output_depth,
            input_quant=(_log_uniform(rng, 1e-3, 1.0), _zero_point(rng)),
            group_size=group_size,
            weight_scales=[_log_uniform(rng, 1e-3, 1.0) for _ in range(output_depth)],
            activation=_activation(rng), bias="random" if rng.random() < 0.7 else None,
        ))
    return cases

