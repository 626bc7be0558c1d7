"""Integer reference kernels: the executable definition of edgec's quantized semantics.

Each kernel takes int8 arrays (int32 bias) with the exact shapes of its graph tensors, reads
its integer parameters from ``edgec.lower.params`` (the same numbers the C code receives) and
computes in int64 with the rounding of ``edgec.quantize.fixed_point``. The formulas follow
TFLite's reference integer kernels, so TFLite int8 models run bit-exactly; the C kernels in
runtime_c/kernels/ref must match these functions bit for bit.

int4 weights arrive unpacked (int8 values in [-7, 7]). Per-channel int4 layers compute
exactly like int8 ones. Per-group int4 layers (``Quant.group_multipliers``) follow
``acc_g = sum over k in group g of q[c, k] * (x_k + input_offset)`` and
``total = bias[c] + sum_g m[c, g] * acc_g``; the kernels below compute the same total as one
sum with the weights ``m[c, g(k)] * q[c, k]`` (``edgec.quantize.params.grouped_weights``),
which is exact because the compile-time accumulator bound keeps every partial sum in int32.

16x8 layers (conv2d, depthwise_conv2d, fully_connected with an int16 input; TFLite's 16x8
mode): int16 input and output with zero point 0, int8 weights, int64 bias. The accumulator
is int64 (sum of products plus bias, wrapping modulo 2**64 like the C kernels' uint64 sum),
requantized by ``fixed_point.multiply_by_quantized_multiplier_int64`` and clamped to the
activation range. TFLite narrows the requantized value to int32 before it clamps. Clamping the
int64 value gives the same result whenever that value fits in int32, which TFLite's int64
requantization assumes, and saturates where the narrowing would wrap.
The ``quantize`` between int8 and int16 is TFLite's Requantize, the same formula as int8 to
int8 with the output type's range.

A fully_connected with an int8 input and an int16 output (zero point 0) computes exactly as
the int8 one, int32 accumulator and requantization included, and only clamps to the int16
activation range. An add of int16 tensors is the int8 formula with ``left_shift`` 15 (from
``kernel_params``), which is TFLite's general int16 ADD.
"""

from __future__ import annotations

import numpy as np

from edgec.ir import DTYPES, Graph, Node
from edgec.lower.params import FILTER_CHANNEL_AXIS, kernel_params
from edgec.quantize import fixed_point as fp
from edgec.quantize.params import grouped_weights
from edgec.reference.int_attention import softmax_rows
from edgec.reference.interpreter import INT_KERNELS, register


def _out_dtype(node: Node, graph: Graph, index: int = 0):
    return DTYPES[graph.tensors[node.outputs[index]].dtype]


def _requantize(acc, params, node: Node, graph: Graph):
    """Per-channel requantization along the last axis, then offset (no clamp)."""
    if graph.tensors[node.inputs[0]].dtype == "int16":
        # 16x8: the int64 requantization; both offsets are 0 (checked by kernel_params).
        return fp.multiply_by_quantized_multiplier_int64(acc, params.multipliers, params.shifts)
    return (
        fp.multiply_by_quantized_multiplier(acc, params.multipliers, params.shifts)
        + params["output_offset"]
    )


def _clamp(values, params, dtype):
    clamped = np.clip(values, params["activation_min"], params["activation_max"])
    return clamped.astype(dtype)


def _filter_values(node: Node, graph: Graph, w: np.ndarray, params) -> np.ndarray:
    """Return the filter as int64 with the filter offset added (per-group: ``grouped_weights``)."""
    quant = graph.tensors[node.inputs[1]].quant
    values = grouped_weights(w, quant, FILTER_CHANNEL_AXIS[node.op])
    return values + params["filter_offset"]


def _windows(x: np.ndarray, node: Node, kernel: tuple[int, int], pad_value: int):
    """Yield ``(ky, kx, slice)`` with the input patch each filter tap reads, over all outputs.

    ``x`` is one NHWC sample; the input is padded with ``pad_value`` so that padded taps
    contribute nothing after the offset is applied.
    """
    top, left, bottom, right = node.attrs.get("pads", (0, 0, 0, 0))
    sh, sw = node.attrs.get("strides", (1, 1))
    dh, dw = node.attrs.get("dilations", (1, 1))
    padded = np.pad(
        x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=pad_value
    )
    kh, kw = kernel
    out_h = (padded.shape[1] - ((kh - 1) * dh + 1)) // sh + 1
    out_w = (padded.shape[2] - ((kw - 1) * dw + 1)) // sw + 1
    for ky in range(kh):
        for kx in range(kw):
            y0, x0 = ky * dh, kx * dw
            patch = padded[:, y0 : y0 + (out_h - 1) * sh + 1 : sh, x0 : x0 + (out_w - 1) * sw + 1 : sw, :]
            yield ky, kx, patch


@register(INT_KERNELS, "conv2d")
def conv2d(node, inputs, graph):
    x, w, b = inputs
    params = kernel_params(node, graph)
    zero_point = -params["input_offset"]
    w = _filter_values(node, graph, w, params)
    acc = 0
    for ky, kx, patch in _windows(x.astype(np.int64), node, w.shape[1:3], zero_point):
        tap = w[:, ky, kx, :]
        acc = acc + np.tensordot(patch - zero_point, tap, axes=([3], [1]))
    if b is not None:
        acc = acc + b.astype(np.int64)
    return [_clamp(_requantize(acc, params, node, graph), params, _out_dtype(node, graph))]


@register(INT_KERNELS, "depthwise_conv2d")
def depthwise_conv2d(node, inputs, graph):
    x, w, b = inputs
    params = kernel_params(node, graph)
    zero_point = -params["input_offset"]
    multiplier = w.shape[3] // x.shape[3]
    x_rep = np.repeat(x.astype(np.int64), multiplier, axis=3)
    w = _filter_values(node, graph, w, params)
    acc = 0
    for ky, kx, patch in _windows(x_rep, node, w.shape[1:3], zero_point):
        acc = acc + (patch - zero_point) * w[0, ky, kx, :]
    if b is not None:
        acc = acc + b.astype(np.int64)
    return [_clamp(_requantize(acc, params, node, graph), params, _out_dtype(node, graph))]


@register(INT_KERNELS, "fully_connected")
def fully_connected(node, inputs, graph):
    """Fully connected layer with an int8 input (int8 or int16 output) or a 16x8 one.

    For an int8 input the result is within 0.5 + 2**(shift - 1) + 2**-16 output steps of the
    float layer on the dequantized input, weights and bias, clamped to the activation range,
    where shift < 0 is the channel's shift (double rounding). It is within 0.5 + 2**-16
    steps for shift >= 0 or with single rounding. The 2**-16 covers the Q31 rounding of the
    multiplier. A left shift wraps the accumulator when |acc| * 2**shift >= 2**31, as in
    TFLite, and the bound then fails; the float value is beyond 2**30 output steps there.
    tests/reference/test_residual_error_bounds.py checks the bound.
    """
    x, w, b = inputs
    params = kernel_params(node, graph)
    rows = x.astype(np.int64).reshape(-1, w.shape[1]) + params["input_offset"]
    acc = rows @ _filter_values(node, graph, w, params).T
    if b is not None:
        acc = acc + b.astype(np.int64)
    out = _clamp(_requantize(acc, params, node, graph), params, _out_dtype(node, graph))
    return [out.reshape(graph.tensors[node.outputs[0]].shape)]


def _truncating_divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    quotient = np.abs(a) // b
    return np.where(a < 0, -quotient, quotient)


@register(INT_KERNELS, "average_pool2d")
def average_pool2d(node, inputs, graph):
    (x,) = inputs
    params = kernel_params(node, graph)
    ones = np.ones(x.shape[:3] + (1,), dtype=np.int64)
    total, count = 0, 0
    kernel = node.attrs["kernel"]
    for (_, _, patch), (_, _, valid) in zip(
        _windows(x.astype(np.int64), node, kernel, 0), _windows(ones, node, kernel, 0)
    ):
        total, count = total + patch, count + valid
    # Round half away from zero, dividing by the number of in-bounds taps.
    half = count // 2
    average = _truncating_divide(np.where(total > 0, total + half, total - half), count)
    return [_clamp(average, params, _out_dtype(node, graph))]


@register(INT_KERNELS, "max_pool2d")
def max_pool2d(node, inputs, graph):
    (x,) = inputs
    params = kernel_params(node, graph)
    lowest = np.iinfo(np.int64).min
    result = None
    for _, _, patch in _windows(x.astype(np.int64), node, node.attrs["kernel"], lowest):
        result = patch if result is None else np.maximum(result, patch)
    return [_clamp(result, params, _out_dtype(node, graph))]


def _broadcast_pair(node, inputs, graph):
    a, b = (np.asarray(v, dtype=np.int64) for v in inputs)
    shape = graph.tensors[node.outputs[0]].shape
    return np.broadcast_to(a, shape), np.broadcast_to(b, shape)


def _add_like(node, inputs, graph, sign: int):
    params = kernel_params(node, graph)
    a, b = _broadcast_pair(node, inputs, graph)
    left = 1 << params["left_shift"]
    scaled1 = fp.multiply_by_quantized_multiplier(
        (a + params["input1_offset"]) * left, params["input1_multiplier"], params["input1_shift"]
    )
    scaled2 = fp.multiply_by_quantized_multiplier(
        (b + params["input2_offset"]) * left, params["input2_multiplier"], params["input2_shift"]
    )
    raw = fp.multiply_by_quantized_multiplier(
        scaled1 + sign * scaled2, params["output_multiplier"], params["output_shift"]
    )
    return [_clamp(raw + params["output_offset"], params, _out_dtype(node, graph))]


@register(INT_KERNELS, "add")
def add(node, inputs, graph):
    """Add of int8 (with broadcasting) or int16 tensors, TFLite's formulas.

    An int16 add is within 0.5 + 2 * R + 2**(s - 1) + 2**-16 output steps of the float sum of
    the dequantized inputs, clamped to the activation range. R < 1 is the real output
    multiplier 2 * max(input scales) / (2**15 * output scale), and s <= 0 its shift. With
    single rounding the 2**(s - 1) term drops. tests/reference/test_residual_error_bounds.py
    checks the bound.
    """
    return _add_like(node, inputs, graph, 1)


@register(INT_KERNELS, "sub")
def sub(node, inputs, graph):
    return _add_like(node, inputs, graph, -1)


@register(INT_KERNELS, "mul")
def mul(node, inputs, graph):
    params = kernel_params(node, graph)
    a, b = _broadcast_pair(node, inputs, graph)
    product = (a + params["input1_offset"]) * (b + params["input2_offset"])
    raw = fp.multiply_by_quantized_multiplier(
        product, params["output_multiplier"], params["output_shift"]
    )
    return [_clamp(raw + params["output_offset"], params, _out_dtype(node, graph))]


@register(INT_KERNELS, "clip")
def clip(node, inputs, graph):
    """Clamp; when the quantization changes, requantize first (TFLite's RELU does the same)."""
    params = kernel_params(node, graph)
    values = np.asarray(inputs[0], dtype=np.int64)
    if "output_multiplier" in params.values:
        values = fp.multiply_by_quantized_multiplier(
            values + params["input_offset"], params["output_multiplier"], params["output_shift"]
        ) + params["output_offset"]
    return [_clamp(values, params, _out_dtype(node, graph))]


@register(INT_KERNELS, "mean")
def mean(node, inputs, graph):
    """TFLite's int8 MEAN: sum, remove the zero point times count, then one rescale."""
    params = kernel_params(node, graph)
    x = np.asarray(inputs[0], dtype=np.int64)
    axes = tuple(a % x.ndim for a in node.attrs["axes"])
    total = x.sum(axis=axes) + params["input_offset"] * params["count"]
    raw = fp.multiply_by_quantized_multiplier(
        fp.wrap_int32(total), params["output_multiplier"], params["output_shift"]
    )
    out = _clamp(raw + params["output_offset"], params, _out_dtype(node, graph))
    return [out.reshape(graph.tensors[node.outputs[0]].shape)]


@register(INT_KERNELS, "softmax")
def softmax(node, inputs, graph):
    """Softmax over the last axis, output int8 with scale 1/256 and zero point -128.

    An int8 input without a mask computes exactly TFLite's int8 Softmax. int16 inputs and
    the optional mask (``inputs[1]``) follow ``edgec.reference.int_attention.softmax_rows``,
    where the arithmetic and its error bound are described.
    """
    params = kernel_params(node, graph)
    mask = inputs[1] if len(inputs) > 1 else None
    out = softmax_rows(inputs[0], params, mask)
    return [out.astype(_out_dtype(node, graph))]


@register(INT_KERNELS, "reshape")
def reshape(node, inputs, graph):
    return [np.asarray(inputs[0]).reshape(graph.tensors[node.outputs[0]].shape)]


@register(INT_KERNELS, "transpose")
def transpose(node, inputs, graph):
    return [np.transpose(inputs[0], node.attrs["perm"])]


@register(INT_KERNELS, "concat")
def concat(node, inputs, graph):
    axis = node.attrs["axis"]
    return [np.concatenate(inputs, axis=axis).astype(_out_dtype(node, graph))]


@register(INT_KERNELS, "pad")
def pad(node, inputs, graph):
    (x,) = inputs
    zero_point = int(graph.tensors[node.inputs[0]].quant.zero_point[0])
    return [np.pad(x, node.attrs["pads"], constant_values=zero_point)]


def _round_half_away(values: np.ndarray) -> np.ndarray:
    """C's roundf, exactly: truncate, then step away from zero when the fraction is >= 0.5."""
    whole = np.trunc(values)
    step = (np.abs(values - whole) >= np.float32(0.5)) * np.sign(values)
    return (whole + step).astype(np.int64)


@register(INT_KERNELS, "quantize")
def quantize(node, inputs, graph):
    (x,) = inputs
    out = graph.tensors[node.outputs[0]]
    info = np.iinfo(DTYPES[out.dtype])
    if graph.tensors[node.inputs[0]].dtype == "float32":
        # TFLite's AffineQuantize: float32 division, round half away from zero.
        scaled = np.asarray(x, dtype=np.float32) / np.float32(out.quant.scale[0])
        # Clip in float first: a huge value, inf or NaN must not overflow the int64 cast.
        scaled = np.nan_to_num(np.clip(scaled, -2.0**31, 2.0**31), nan=0.0)
        q = _round_half_away(scaled) + int(out.quant.zero_point[0])
        return [np.clip(q, info.min, info.max).astype(info.dtype)]
    params = kernel_params(node, graph)
    raw = fp.multiply_by_quantized_multiplier(
        np.asarray(x, dtype=np.int64) + params["input_offset"],
        params["output_multiplier"],
        params["output_shift"],
    )
    return [_clamp(raw + params["output_offset"], params, info.dtype)]


@register(INT_KERNELS, "dequantize")
def dequantize(node, inputs, graph):
    (x,) = inputs
    quant = graph.tensors[node.inputs[0]].quant
    centered = np.asarray(x, dtype=np.int64) - int(quant.zero_point[0])
    # TFLite computes scale * (q - zero_point) in double, then rounds to float32.
    return [(np.float64(quant.scale[0]) * centered).astype(np.float32)]
