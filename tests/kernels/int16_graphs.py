"""One-node graphs with int16 activations for the 16x8 kernels (edgec_*_s16) and the
int8 <-> int16 requantize kernels, and random draws of them.

The 16x8 graphs hold an int16 input and output with zero point 0, an int8 filter with
per-channel scales (zero point 0) and an int64 bias with scale input_scale * weight_scale.
The expected outputs come from the reference interpreter, as for the int8 kernels
(``tests.kernels.calls``). The scenarios are listed in ``tests.kernels.int16_cases``.
"""

from __future__ import annotations

import math

import numpy as np

from edgec.ir import Quant
from tests.kernels.bench import KernelCase
from tests.kernels.graphs import GraphBuilder, per_tensor, random_int8, window_output_size
from tests.kernels.random_cases import _activation, _log_uniform, _window, _zero_point

INT16_MIN, INT16_MAX = -32768, 32767
# Standard deviations of a uniform random int16 input and int8 weight.
_INPUT_STD = 18918.0
_WEIGHT_STD = 73.6
# Random accumulators land at about this many output steps (standard deviation), so that a
# few outputs saturate at the int16 limits.
_OUTPUT_STD_STEPS = 12000.0


def random_int16(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.integers(INT16_MIN, INT16_MAX + 1, size=shape).astype(np.int16)


def _values(rng: np.random.Generator, shape, values, draws: dict) -> np.ndarray:
    """Return ``values`` when it is an array, else the draw that ``draws[values]`` makes."""
    if isinstance(values, np.ndarray):
        return values
    return draws[values](rng, shape)


def _extreme_int16(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.choice(np.array([INT16_MIN, INT16_MAX], dtype=np.int16), size=shape)


def _extreme_int8_weights(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.choice(np.array([-127, 127], dtype=np.int8), size=shape)


INPUT_DRAWS = {"random": random_int16, "extreme": _extreme_int16}
WEIGHT_DRAWS = {
    "random": lambda rng, shape: rng.integers(-127, 128, size=shape).astype(np.int8),
    "extreme": _extreme_int8_weights,
}


def spread_output_scale(input_scale: float, weight_scales: np.ndarray, taps: int) -> float:
    """An output scale that puts random accumulators at ~12000 steps (standard deviation)."""
    product_std = _INPUT_STD * _WEIGHT_STD
    return float(input_scale * np.mean(weight_scales) * product_std * math.sqrt(taps)
                 / _OUTPUT_STD_STEPS)


def _filter_quant(weight_scales, channels: int, axis: int) -> Quant:
    scales = np.broadcast_to(np.asarray(weight_scales, dtype=np.float32), (channels,))
    return Quant(scales.copy(), np.zeros(channels, dtype=np.int64), axis=axis)


def _add_bias(builder: GraphBuilder, rng: np.random.Generator, bias, input_scale: float,
              quant: Quant, channels: int) -> str:
    """Add the int64 bias: "random" draws values in [-2**22, 2**22), about the size of a
    random accumulator, and None adds none."""
    if bias is None:
        return ""
    values = rng.integers(-(2**22), 2**22, size=channels) if isinstance(bias, str) else bias
    scales = (np.float32(input_scale) * quant.scale).astype(np.float32)
    bias_quant = Quant(scales, np.zeros(channels, dtype=np.int64), axis=0)
    return builder.constant("bias", np.asarray(values, dtype=np.int64), "int64", bias_quant)


def conv16_case(name: str, rng: np.random.Generator, *, input_shape, kernel, channels=None,
                depth_multiplier: int = 1, depthwise: bool = False, strides=(1, 1),
                dilations=(1, 1), pads=(0, 0, 0, 0), input_scale: float = 1e-3,
                output_scale=None, weight_scales=None, activation=None, bias="random",
                inputs="random", weights="random", zero_channels=()) -> KernelCase:
    """A 16x8 conv2d (OHWI filter) or depthwise_conv2d (1HW(C*M) filter) case.

    ``inputs`` and ``weights`` are "random", "extreme" (only the type's limits) or arrays.
    ``output_scale`` None picks ``spread_output_scale``.
    """
    n, h, w, c = input_shape
    kh, kw = kernel
    out_channels = c * depth_multiplier if depthwise else channels
    axis = 3 if depthwise else 0
    filter_shape = (1, kh, kw, out_channels) if depthwise else (out_channels, kh, kw, c)
    taps = kh * kw * (1 if depthwise else c)

    filter_values = _values(rng, filter_shape, weights, WEIGHT_DRAWS)
    filter_values = np.array(filter_values, dtype=np.int8)
    for channel in zero_channels:
        np.moveaxis(filter_values, axis, 0)[channel] = 0
    if weight_scales is None:
        weight_scales = rng.uniform(0.002, 0.02, size=out_channels)
    filter_quant = _filter_quant(weight_scales, out_channels, axis)
    if output_scale is None:
        output_scale = spread_output_scale(input_scale, filter_quant.scale, taps)
    out_h = window_output_size(h, kh, strides[0], dilations[0], pads[0], pads[2])
    out_w = window_output_size(w, kw, strides[1], dilations[1], pads[1], pads[3])

    builder = GraphBuilder()
    data = _values(rng, input_shape, inputs, INPUT_DRAWS)
    x = builder.input("input", data, per_tensor(input_scale), dtype="int16")
    f = builder.constant("filter", filter_values, "int8", filter_quant)
    b = _add_bias(builder, rng, bias, input_scale, filter_quant, out_channels)
    y = builder.output("output", (n, out_h, out_w, out_channels), per_tensor(output_scale),
                       dtype="int16")
    attrs = {"strides": tuple(strides), "dilations": tuple(dilations), "pads": tuple(pads),
             "activation": activation}
    if depthwise:
        attrs["depth_multiplier"] = depth_multiplier
    return builder.case(name, "depthwise_conv2d" if depthwise else "conv2d", [x, f, b], y, attrs)


def fully_connected16_case(name: str, rng: np.random.Generator, *, input_shape, output_depth,
                           input_scale: float = 1e-3, output_scale=None, weight_scales=None,
                           activation=None, bias="random", inputs="random", weights="random",
                           zero_channels=()) -> KernelCase:
    """A 16x8 fully_connected case; the depth is the last input dimension."""
    input_depth = input_shape[-1]
    rows = int(np.prod(input_shape)) // input_depth
    filter_values = np.array(
        _values(rng, (output_depth, input_depth), weights, WEIGHT_DRAWS),
        dtype=np.int8,
    )
    filter_values[list(zero_channels)] = 0
    if weight_scales is None:
        weight_scales = rng.uniform(0.002, 0.02, size=output_depth)
    filter_quant = _filter_quant(weight_scales, output_depth, 0)
    if output_scale is None:
        output_scale = spread_output_scale(input_scale, filter_quant.scale, input_depth)

    builder = GraphBuilder()
    data = _values(rng, input_shape, inputs, INPUT_DRAWS)
    x = builder.input("input", data, per_tensor(input_scale), dtype="int16")
    f = builder.constant("filter", filter_values, "int8", filter_quant)
    b = _add_bias(builder, rng, bias, input_scale, filter_quant, output_depth)
    y = builder.output("output", (rows, output_depth), per_tensor(output_scale), dtype="int16")
    return builder.case(name, "fully_connected", [x, f, b], y, {"activation": activation})


def requantize16_case(name: str, rng: np.random.Generator, *, shape, input_dtype: str,
                      input_quant, output_quant, values=None) -> KernelCase:
    """An int8 -> int16 or int16 -> int8 quantize case (``input_dtype`` is the source)."""
    output_dtype = "int8" if input_dtype == "int16" else "int16"
    if values is None:
        values = random_int16(rng, shape) if input_dtype == "int16" else random_int8(rng, shape)
    builder = GraphBuilder()
    x = builder.input("input", values, per_tensor(*input_quant), dtype=input_dtype)
    y = builder.output("output", np.shape(values), per_tensor(*output_quant), dtype=output_dtype)
    return builder.case(name, "quantize", [x], y)


def random_conv16_cases(rng: np.random.Generator, count: int,
                        depthwise: bool) -> list[KernelCase]:
    cases = []
    for index in range(count):
        n, h, w, c = (int(rng.integers(1, 3)), int(rng.integers(1, 9)),
                      int(rng.integers(1, 9)), int(rng.integers(1, 6)))
        kh, sh, dh, top, bottom = _window(rng, h, 4, dilated=True)
        kw, sw, dw, left, right = _window(rng, w, 4, dilated=True)
        multiplier = int(rng.integers(1, 4)) if depthwise else 1
        channels = c * multiplier if depthwise else int(rng.integers(1, 7))
        input_scale = _log_uniform(rng, 1e-5, 1e-2)
        weight_scales = np.array([_log_uniform(rng, 1e-4, 0.1) for _ in range(channels)])
        taps = kh * kw * (1 if depthwise else c)
        output_scale = spread_output_scale(input_scale, weight_scales, taps) * _log_uniform(
            rng, 0.1, 10.0
        )
        cases.append(conv16_case(
            f"random configuration {index}", rng, depthwise=depthwise,
            input_shape=(n, h, w, c), kernel=(kh, kw), channels=channels,
            depth_multiplier=multiplier, strides=(sh, sw), dilations=(dh, dw),
            pads=(top, left, bottom, right), input_scale=input_scale,
            output_scale=output_scale, weight_scales=weight_scales,
            activation=_activation(rng), bias="random" if rng.random() < 0.7 else None,
        ))
    return cases


def random_fully_connected16_cases(rng: np.random.Generator, count: int) -> list[KernelCase]:
    cases = []
    for index in range(count):
        rows, depth = int(rng.integers(1, 4)), int(rng.integers(1, 60))
        output_depth = int(rng.integers(1, 8))
        input_scale = _log_uniform(rng, 1e-5, 1e-2)
        weight_scales = np.array([_log_uniform(rng, 1e-4, 0.1) for _ in range(output_depth)])
        output_scale = spread_output_scale(input_scale, weight_scales, depth) * _log_uniform(
            rng, 0.1, 10.0
        )
        cases.append(fully_connected16_case(
            f"random configuration {index}", rng, input_shape=(rows, depth),
            output_depth=output_depth, input_scale=input_scale, output_scale=output_scale,
            weight_scales=weight_scales, activation=_activation(rng),
            bias="random" if rng.random() < 0.7 else None,
        ))
    return cases


def random_requantize16_cases(rng: np.random.Generator, count: int,
                              input_dtype: str) -> list[KernelCase]:
    """Random scales in both directions; int8 sides get random zero points, int16 sides 0."""
    cases = []
    for index in range(count):
        int8_quant = (_log_uniform(rng, 1e-3, 1.0), _zero_point(rng))
        # An int16 scale about 128 times finer than the int8 one, as the quantizer picks.
        int16_quant = (int8_quant[0] * _log_uniform(rng, 1 / 1024, 1 / 16), 0)
        input_quant, output_quant = (
            (int16_quant, int8_quant) if input_dtype == "int16" else (int8_quant, int16_quant)
        )
        cases.append(requantize16_case(
            f"random configuration {index}", rng, shape=(int(rng.integers(1, 60)),),
            input_dtype=input_dtype, input_quant=input_quant, output_quant=output_quant,
        ))
    return cases
