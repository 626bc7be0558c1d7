"""Small quantized graphs with one node each, and random data for them.

The case lists in ``tests.kernels.cases`` describe a scenario (shapes, scales, zero points,
padding, ...) and call these helpers to build the IR graph and its input feeds. Inputs
are int8 activation tensors with per-tensor quantization. Conv and fully connected filters
are constant int8 tensors with per-channel quantization (symmetric, zero point 0), unless a
case sets a per-tensor filter zero point. Biases are int32 with scale
input_scale * weight_scale.
"""

from __future__ import annotations

import math

import numpy as np

from edgec.ir import Graph, Node, Quant, Tensor
from tests.kernels.bench import KernelCase
from tests.kernels.calls import case_from_graph

RELU = (0.0, math.inf)
RELU6 = (0.0, 6.0)

# Standard deviation of a product (w - 0) * (x - zero_point) for uniform random int8 w and x.
_PRODUCT_STD = 73.6 * 73.6


def per_tensor(scale: float, zero_point: int = 0) -> Quant:
    return Quant(np.array([scale], dtype=np.float32), np.array([zero_point]))


def random_int8(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.integers(-128, 128, size=shape).astype(np.int8)


class GraphBuilder:
    """Collects the tensors of a one-node graph and the feeds of its inputs."""

    def __init__(self) -> None:
        self.graph = Graph()
        self.feeds: dict[str, np.ndarray] = {}

    def input(self, name: str, values: np.ndarray, quant: Quant | None,
              dtype: str = "int8") -> str:
        values = np.asarray(values)
        self.graph.add_tensor(Tensor(name, values.shape, dtype, quant=quant))
        self.graph.inputs.append(name)
        self.feeds[name] = values
        return name

    def constant(self, name: str, values: np.ndarray, dtype: str, quant: Quant) -> str:
        self.graph.add_tensor(Tensor(name, np.asarray(values).shape, dtype, values, quant))
        return name

    def output(self, name: str, shape, quant: Quant | None, dtype: str = "int8") -> str:
        self.graph.add_tensor(Tensor(name, tuple(shape), dtype, quant=quant))
        self.graph.outputs.append(name)
        return name

    def case(self, case_name: str, op: str, inputs: list[str], output: str,
             attrs: dict | None = None) -> KernelCase:
        """Add the node and return its kernel case."""
        self.graph.nodes.append(Node(op, case_name, inputs, [output], attrs or {}))
        return case_from_graph(case_name, self.graph, self.feeds)


def window_output_size(size: int, kernel: int, stride: int, dilation: int, before: int,
                       after: int) -> int:
    """Output length of a sliding window over ``size`` elements padded by before/after."""
    return (size + before + after - ((kernel - 1) * dilation + 1)) // stride + 1


def spread_output_scale(input_scale: float, weight_scales: np.ndarray, taps: int) -> float:
    """An output scale that puts random accumulators at a standard deviation of ~40 steps."""
    return float(input_scale * np.mean(weight_scales) * _PRODUCT_STD * math.sqrt(taps) / 40)


def conv_case(name: str, rng: np.random.Generator, *, input_shape, kernel, channels=None,
              depth_multiplier: int = 1, depthwise: bool = False, strides=(1, 1),
              dilations=(1, 1), pads=(0, 0, 0, 0), input_quant=(0.05, 0),
              output_quant=None, weight_scales=None, weight_zero_point: int = 0,
              activation=None, bias="random", zero_channels=()) -> KernelCase:
    """A conv2d (OHWI filter) or depthwise_conv2d (1HW(C*M) filter) case.

    ``output_quant`` None picks a scale from ``spread_output_scale`` with zero point 0;
    ``bias`` is "random", None (no bias) or the int32 values.
    """
    n, h, w, c = input_shape
    kh, kw = kernel
    out_channels = c * depth_multiplier if depthwise else channels
    if depthwise:
        filter_shape = (1, kh, kw, out_channels)
        taps = kh * kw
    else:
        filter_shape = (out_channels, kh, kw, c)
        taps = kh * kw * c

    weights = rng.integers(-127, 128, size=filter_shape).astype(np.int8)
    for channel in zero_channels:
        if depthwise:
            weights[..., channel] = 0
        else:
            weights[channel] = 0
    if weight_scales is None:
        weight_scales = rng.uniform(0.002, 0.02, size=out_channels)
    weight_scales = np.asarray(weight_scales, dtype=np.float32)
    if weight_zero_point:
        weight_quant = per_tensor(float(weight_scales[0]), weight_zero_point)
    else:
        weight_quant = Quant(weight_scales, np.zeros(out_channels, dtype=np.int64),
                             axis=3 if depthwise else 0)

    input_scale = input_quant[0]
    if output_quant is None:
        output_quant = (spread_output_scale(input_scale, weight_scales, taps), 0)
    out_h = window_output_size(h, kh, strides[0], dilations[0], pads[0], pads[2])
    out_w = window_output_size(w, kw, strides[1], dilations[1], pads[1], pads[3])

    builder = GraphBuilder()
    x = builder.input("input", random_int8(rng, input_shape), per_tensor(*input_quant))
    f = builder.constant("filter", weights, "int8", weight_quant)
    b = ""
    if bias is not None:
        values = rng.integers(-(2**12), 2**12, size=out_channels) if isinstance(bias, str) else bias
        bias_scales = np.float32(input_scale) * np.broadcast_to(weight_scales, (out_channels,))
        bias_quant = Quant(bias_scales, np.zeros(out_channels, dtype=np.int64), axis=0)
        b = builder.constant("bias", np.asarray(values, dtype=np.int64).astype(np.int32),
                             "int32", bias_quant)
    y = builder.output("output", (n, out_h, out_w, out_channels), per_tensor(*output_quant))
    attrs = {"strides": tuple(strides), "dilations": tuple(dilations), "pads": tuple(pads),
             "activation": activation}
    if depthwise:
        attrs["depth_multiplier"] = depth_multiplier
    return builder.case(name, "depthwise_conv2d" if depthwise else "conv2d", [x, f, b], y, attrs)


def fully_connected_case(name: str, rng: np.random.Generator, *, input_shape, output_depth,
                         input_quant=(0.05, 0), output_quant=None, weight_scales=None,
                         weight_zero_point: int = 0, activation=None, bias="random",
                         zero_channels=()) -> KernelCase:
    """A fully_connected case; ``input_shape``'s size must be a multiple of the depth, which
    is its last dimension."""
    input_depth = input_shape[-1]
    rows = int(np.prod(input_shape)) // input_depth
    weights = rng.integers(-127, 128, size=(output_depth, input_depth)).astype(np.int8)
    for channel in zero_channels:
        weights[channel] = 0
    if weight_scales is None:
        weight_scales = rng.uniform(0.002, 0.02, size=output_depth)
    weight_scales = np.asarray(weight_scales, dtype=np.float32)
    if weight_zero_point:
        weight_quant = per_tensor(float(weight_scales[0]), weight_zero_point)
    else:
        weight_quant = Quant(weight_scales, np.zeros(output_depth, dtype=np.int64), axis=0)
    if output_quant is None:
        output_quant = (spread_output_scale(input_quant[0], weight_scales, input_depth), 0)

    builder = GraphBuilder()
    x = builder.input("input", random_int8(rng, input_shape), per_tensor(*input_quant))
    f = builder.constant("filter", weights, "int8", weight_quant)
    b = ""
    if bias is not None:
        values = rng.integers(-(2**12), 2**12, size=output_depth) if isinstance(bias, str) else bias
        bias_scales = np.float32(input_quant[0]) * np.broadcast_to(weight_scales, (output_depth,))
        bias_quant = Quant(bias_scales, np.zeros(output_depth, dtype=np.int64), axis=0)
        b = builder.constant("bias", np.asarray(values, dtype=np.int64).astype(np.int32),
                             "int32", bias_quant)
    y = builder.output("output", (rows, output_depth), per_tensor(*output_quant))
    return builder.case(name, "fully_connected", [x, f, b], y, {"activation": activation})


def pool_case(name: str, rng: np.random.Generator, op: str, *, input_shape, kernel,
              strides=(1, 1), pads=(0, 0, 0, 0), quant=(0.05, 0), activation=None,
              values=None) -> KernelCase:
    """An average_pool2d or max_pool2d case; input and output share ``quant``."""
    n, h, w, c = input_shape
    out_h = window_output_size(h, kernel[0], strides[0], 1, pads[0], pads[2])
    out_w = window_output_size(w, kernel[1], strides[1], 1, pads[1], pads[3])
    builder = GraphBuilder()
    data = random_int8(rng, input_shape) if values is None else values
    x = builder.input("input", data, per_tensor(*quant))
    y = builder.output("output", (n, out_h, out_w, c), per_tensor(*quant))
    attrs = {"kernel": tuple(kernel), "strides": tuple(strides), "pads": tuple(pads),
             "activation": activation}
    return builder.case(name, op, [x], y, attrs)


def binary_case(name: str, rng: np.random.Generator, op: str, *, shape1, shape2,
                quant1=(0.05, 0), quant2=(0.05, 0), output_quant=(0.1, 0),
                activation=None) -> KernelCase:
    """An add, sub or mul case with numpy broadcasting of the two inputs."""
    builder = GraphBuilder()
    a = builder.input("input1", random_int8(rng, shape1), per_tensor(*quant1))
    b = builder.input("input2", random_int8(rng, shape2), per_tensor(*quant2))
    shape = np.broadcast_shapes(tuple(shape1), tuple(shape2))
    y = builder.output("output", shape, per_tensor(*output_quant))
    return builder.case(name, op, [a, b], y, {"activation": activation})


def softmax_case(name: str, values: np.ndarray, *, scale: float, zero_point: int = 0,
                 beta: float = 1.0) -> KernelCase:
    """A softmax case over the last axis; the output has scale 1/256 and zero point -128."""
    builder = GraphBuilder()
    x = builder.input("input", np.asarray(values, dtype=np.int8), per_tensor(scale, zero_point))
    y = builder.output("output", np.shape(values), per_tensor(1 / 256, -128))
    return builder.case(name, "softmax", [x], y, {"beta": beta})


def requantize_case(name: str, rng: np.random.Generator, *, shape, input_quant,
                    output_quant) -> KernelCase:
    """An int8 to int8 quantize (requantization) case."""
    builder = GraphBuilder()
    x = builder.input("input", random_int8(rng, shape), per_tensor(*input_quant))
    y = builder.output("output", shape, per_tensor(*output_quant))
    return builder.case(name, "quantize", [x], y)


def clip_case(name: str, rng: np.random.Generator, *, shape, quant, activation,
              in_place: bool = False) -> KernelCase:
    """A standalone clip case; ``in_place`` passes the output buffer as the input too."""
    builder = GraphBuilder()
    x = builder.input("input", random_int8(rng, shape), per_tensor(*quant))
    y = builder.output("output", shape, per_tensor(*quant))
    case = builder.case(name, "clip", [x], y, {"activation": activation})
    if in_place:
        case.macro = "clip_in_place"
    return case


def transpose_case(name: str, rng: np.random.Generator, *, shape, perm) -> KernelCase:
    builder = GraphBuilder()
    x = builder.input("input", random_int8(rng, shape), per_tensor(0.1, 3))
    y = builder.output("output", tuple(shape[p] for p in perm), per_tensor(0.1, 3))
    return builder.case(name, "transpose", [x], y, {"perm": tuple(perm)})


def concat_case(name: str, rng: np.random.Generator, *, shapes, axis: int) -> KernelCase:
    builder = GraphBuilder()
    names = [
        builder.input(f"input{k}", random_int8(rng, shape), per_tensor(0.1, -7))
        for k, shape in enumerate(shapes)
    ]
    shape = list(shapes[0])
    shape[axis] = sum(s[axis] for s in shapes)
    y = builder.output("output", shape, per_tensor(0.1, -7))
    return builder.case(name, "concat", names, y, {"axis": axis})


def pad_case(name: str, rng: np.random.Generator, *, shape, pads, zero_point: int) -> KernelCase:
    """A constant pad case; ``pads`` is ((before, after), ...) per dimension."""
    builder = GraphBuilder()
    x = builder.input("input", random_int8(rng, shape), per_tensor(0.1, zero_point))
    out_shape = [d + before + after for d, (before, after) in zip(shape, pads, strict=True)]
    y = builder.output("output", out_shape, per_tensor(0.1, zero_point))
    return builder.case(name, "pad", [x], y, {"pads": tuple(tuple(p) for p in pads)})


def quantize_float_case(name: str, values: np.ndarray, *, scale: float,
                        zero_point: int) -> KernelCase:
    """A float32 to int8 quantize case (edgec_quantize_f32_s8)."""
    builder = GraphBuilder()
    x = builder.input("input", np.asarray(values, dtype=np.float32), None, dtype="float32")
    y = builder.output("output", np.shape(values), per_tensor(scale, zero_point))
    return builder.case(name, "quantize", [x], y)


def dequantize_case(name: str, values: np.ndarray, *, scale: float,
                    zero_point: int) -> KernelCase:
    """An int8 to float32 dequantize case (edgec_dequantize_s8_f32)."""
    builder = GraphBuilder()
    x = builder.input("input", np.asarray(values, dtype=np.int8), per_tensor(scale, zero_point))
    y = builder.output("output", np.shape(values), None, dtype="float32")
    return builder.case(name, "dequantize", [x], y)
