"""Randomly drawn kernel configurations, added to the hand-written cases of each program.

Each function draws ``count`` configurations from a seeded generator: shapes, strides,
dilations, pads, zero points, scales spread over several decades, fused activations and
broadcast patterns. They explore combinations the named scenarios do not list one by one.
Every draw keeps the arguments valid (a window always has at least one output position).
"""

from __future__ import annotations

import math

import numpy as np

from tests.kernels.bench import KernelCase
from tests.kernels.graphs import (
    RELU,
    RELU6,
    binary_case,
    conv_case,
    fully_connected_case,
    pool_case,
    random_int8,
    requantize_case,
    softmax_case,
    spread_output_scale,
)

ACTIVATIONS = (None, RELU, RELU6, (-1.0, 1.0), (-math.inf, 0.5))


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _zero_point(rng: np.random.Generator) -> int:
    return int(rng.choice([-128, 127, int(rng.integers(-128, 128))]))


def _activation(rng: np.random.Generator):
    return ACTIVATIONS[int(rng.integers(len(ACTIVATIONS)))]


def _window(rng: np.random.Generator, size: int, max_kernel: int, dilated: bool):
    """Draw (kernel, stride, dilation, pad_before, pad_after) with at least one output."""
    while True:
        kernel = int(rng.integers(1, max_kernel + 1))
        stride = int(rng.integers(1, 4))
        dilation = int(rng.integers(1, 3)) if dilated else 1
        extent = (kernel - 1) * dilation + 1
        before, after = (int(p) for p in rng.integers(0, extent, size=2))
        if size + before + after >= extent:
            return kernel, stride, dilation, before, after


def random_conv_cases(rng: np.random.Generator, count: int,
                      depthwise: bool) -> list[KernelCase]:
    cases = []
    for index in range(count):
        n, h, w, c = (int(rng.integers(1, 3)), int(rng.integers(1, 9)),
                      int(rng.integers(1, 9)), int(rng.integers(1, 6)))
        kh, sh, dh, top, bottom = _window(rng, h, 4, dilated=True)
        kw, sw, dw, left, right = _window(rng, w, 4, dilated=True)
        multiplier = int(rng.integers(1, 4)) if depthwise else 1
        channels = c * multiplier if depthwise else int(rng.integers(1, 7))
        input_scale = _log_uniform(rng, 1e-3, 1.0)
        weight_scales = np.array([_log_uniform(rng, 1e-4, 0.1) for _ in range(channels)])
        taps = kh * kw * (1 if depthwise else c)
        output_scale = spread_output_scale(input_scale, weight_scales, taps) * _log_uniform(
            rng, 0.1, 10.0
        )
        cases.append(conv_case(
            f"random configuration {index}", rng, depthwise=depthwise,
            input_shape=(n, h, w, c), kernel=(kh, kw), channels=channels,
            depth_multiplier=multiplier, strides=(sh, sw), dilations=(dh, dw),
            pads=(top, left, bottom, right), input_quant=(input_scale, _zero_point(rng)),
            output_quant=(output_scale, _zero_point(rng)), weight_scales=weight_scales,
            activation=_activation(rng), bias="random" if rng.random() < 0.7 else None,
        ))
    return cases


def random_fully_connected_cases(rng: np.random.Generator, count: int) -> list[KernelCase]:
    cases = []
    for index in range(count):
        rows, depth = int(rng.integers(1, 4)), int(rng.integers(1, 40))
        output_depth = int(rng.integers(1, 8))
        input_scale = _log_uniform(rng, 1e-3, 1.0)
        weight_scales = np.array([_log_uniform(rng, 1e-4, 0.1) for _ in range(output_depth)])
        output_scale = spread_output_scale(input_scale, weight_scales, depth) * _log_uniform(
            rng, 0.1, 10.0
        )
        cases.append(fully_connected_case(
            f"random configuration {index}", rng, input_shape=(rows, depth),
            output_depth=output_depth, input_quant=(input_scale, _zero_point(rng)),
            output_quant=(output_scale, _zero_point(rng)), weight_scales=weight_scales,
            activation=_activation(rng), bias="random" if rng.random() < 0.7 else None,
        ))
    return cases


def random_pool_cases(rng: np.random.Generator, count: int, op: str) -> list[KernelCase]:
    cases = []
    for index in range(count):
        n, h, w, c = (int(rng.integers(1, 3)), int(rng.integers(1, 9)),
                      int(rng.integers(1, 9)), int(rng.integers(1, 6)))
        kh, sh, _, top, bottom = _window(rng, h, 4, dilated=False)
        kw, sw, _, left, right = _window(rng, w, 4, dilated=False)
        cases.append(pool_case(
            f"random configuration {index}", rng, op, input_shape=(n, h, w, c),
            kernel=(kh, kw), strides=(sh, sw), pads=(top, left, bottom, right),
            quant=(_log_uniform(rng, 1e-3, 1.0), _zero_point(rng)), activation=_activation(rng),
        ))
    return cases


def _broadcast_pair(rng: np.random.Generator) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Two shapes of rank 0..4 that broadcast together."""
    rank = int(rng.integers(0, 5))
    shape = [int(d) for d in rng.integers(1, 5, size=rank)]
    first, second = [], []
    for dim in shape:
        choice = rng.integers(3)
        first.append(1 if choice == 1 else dim)
        second.append(1 if choice == 2 else dim)
    # Drop leading dimensions of one input at random: numpy aligns shapes on the right.
    drop = int(rng.integers(0, rank + 1))
    if rng.random() < 0.5:
        return tuple(first[drop:]), tuple(second)
    return tuple(first), tuple(second[drop:])


def random_binary_cases(rng: np.random.Generator, count: int, ops) -> list[KernelCase]:
    cases = []
    for index in range(count):
        op = ops[index % len(ops)]
        shape1, shape2 = _broadcast_pair(rng)
        cases.append(binary_case(
            f"{op}: random configuration {index}", rng, op, shape1=shape1, shape2=shape2,
            quant1=(_log_uniform(rng, 1e-3, 1.0), _zero_point(rng)),
            quant2=(_log_uniform(rng, 1e-3, 1.0), _zero_point(rng)),
            output_quant=(_log_uniform(rng, 1e-3, 1.0), _zero_point(rng)),
            activation=_activation(rng),
        ))
    return cases


def random_softmax_cases(rng: np.random.Generator, count: int) -> list[KernelCase]:
    cases = []
    for index in range(count):
        shape = (int(rng.integers(1, 4)), int(rng.integers(1, 50)))
        cases.append(softmax_case(
            f"random configuration {index}", random_int8(rng, shape),
            scale=_log_uniform(rng, 5e-8, 10.0), zero_point=_zero_point(rng),
            beta=float(rng.choice([0.5, 1.0, 2.0])),
        ))
    return cases


def random_requantize_cases(rng: np.random.Generator, count: int) -> list[KernelCase]:
    return [
        requantize_case(
            f"random configuration {index}", rng, shape=(int(rng.integers(1, 40)),),
            input_quant=(_log_uniform(rng, 1e-4, 10.0), _zero_point(rng)),
            output_quant=(_log_uniform(rng, 1e-4, 10.0), _zero_point(rng)),
        )
        for index in range(count)
    ]
