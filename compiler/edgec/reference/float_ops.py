"""Float32 reference kernels: the float semantics of every op a float IR graph uses.

Where they sit: the reference interpreter runs them for float nodes (``FLOAT_KERNELS``). The
quantizer calibrates by running them, and the constant-folding pass evaluates constant
subgraphs with them. They follow ``edgec.ir.ops``: NHWC activations, conv2d filter OHWI,
depthwise_conv2d filter 1HW(C*M), fully_connected filter (O, I), explicit pads
(top, left, bottom, right), and the fused ``activation`` range applied last.

Window ops loop over the kernel taps (at most kh * kw iterations) and compute each tap for
all output positions at once with numpy, so a 96x96 MobileNet sample takes milliseconds.
Every kernel returns float32 arrays with exactly the shapes of its output tensors.

To add an op, write one function and register it with ``@register(FLOAT_KERNELS, "op")``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from edgec.ir import Graph, Node
from edgec.reference.interpreter import FLOAT_KERNELS, register


def _activate(values: np.ndarray, node: Node) -> np.ndarray:
    """Clamp to the node's fused ``activation`` range (no clamp when it is None)."""
    activation = node.attrs.get("activation")
    if activation is not None:
        values = np.clip(values, activation[0], activation[1])
    return values.astype(np.float32, copy=False)


def _output_shape(node: Node, graph: Graph, index: int = 0) -> tuple[int, ...]:
    return graph.tensors[node.outputs[index]].shape


# Window ops ----------------------------------------------------------------------------------


def _pad_plane(x: np.ndarray, pads, value: float) -> np.ndarray:
    top, left, bottom, right = pads
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _taps(
    padded: np.ndarray, kernel, strides, dilations, out_hw
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(i, j, view)`` per kernel tap, where ``view[n, y, x, c]`` is
    ``padded[n, y * stride_h + i * dilation_h, x * stride_w + j * dilation_w, c]``."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, strides, dilations, out_hw
    for i in range(kh):
        for j in range(kw):
            top, left = i * dh, j * dw
            yield i, j, padded[:, top: top + (oh - 1) * sh + 1: sh, left: left + (ow - 1) * sw + 1: sw, :]


def _window(node: Node, graph: Graph, kernel) -> tuple:
    """Return (kernel, strides, dilations, pads, (out_h, out_w)) of a window node."""
    strides = tuple(node.attrs.get("strides") or (1, 1))
    dilations = tuple(node.attrs.get("dilations") or (1, 1))
    pads = tuple(node.attrs.get("pads") or (0, 0, 0, 0))
    out_hw = _output_shape(node, graph)[1:3]
    return tuple(kernel), strides, dilations, pads, out_hw


@register(FLOAT_KERNELS, "conv2d")
def conv2d(node: Node, inputs: list, graph: Graph) -> list:
    """NHWC convolution with an OHWI filter: one (positions x I) @ (I x O) product per tap."""
    x, weights, bias = inputs
    kernel, strides, dilations, pads, out_hw = _window(node, graph, weights.shape[1:3])
    padded = _pad_plane(x, pads, 0.0)
    out = np.zeros(_output_shape(node, graph), dtype=np.float32)
    for i, j, view in _taps(padded, kernel, strides, dilations, out_hw):
        out += view @ weights[:, i, j, :].T
    if bias is not None:
        out += bias
    return [_activate(out, node)]


@register(FLOAT_KERNELS, "depthwise_conv2d")
def depthwise_conv2d(node: Node, inputs: list, graph: Graph) -> list:
    """Depthwise convolution: output channel ``c * M + m`` reads input channel ``c`` only."""
    x, weights, bias = inputs
    multiplier = int(node.attrs.get("depth_multiplier", 1))
    batch, _, _, channels = x.shape
    kernel, strides, dilations, pads, out_hw = _window(node, graph, weights.shape[1:3])
    taps = weights[0].reshape(kernel[0], kernel[1], channels, multiplier)
    padded = _pad_plane(x, pads, 0.0)
    out = np.zeros((batch, out_hw[0], out_hw[1], channels, multiplier), dtype=np.float32)
    for i, j, view in _taps(padded, kernel, strides, dilations, out_hw):
        out += view[..., np.newaxis] * taps[i, j]
    out = out.reshape(batch, out_hw[0], out_hw[1], channels * multiplier)
    if bias is not None:
        out += bias
    return [_activate(out, node)]


@register(FLOAT_KERNELS, "average_pool2d")
def average_pool2d(node: Node, inputs: list, graph: Graph) -> list:
    """Mean over each window's in-bounds elements; padding is not counted."""
    (x,) = inputs
    kernel, strides, dilations, pads, out_hw = _window(node, graph, node.attrs["kernel"])
    padded = _pad_plane(x, pads, 0.0)
    inside = _pad_plane(np.ones((1,) + x.shape[1:3] + (1,), np.float32), pads, 0.0)
    total = np.zeros(_output_shape(node, graph), dtype=np.float32)
    count = np.zeros((1, out_hw[0], out_hw[1], 1), dtype=np.float32)
    for (_, _, view), (_, _, mask) in zip(
        _taps(padded, kernel, strides, dilations, out_hw),
        _taps(inside, kernel, strides, dilations, out_hw),
    ):
        total += view
        count += mask
    return [_activate(total / count, node)]


@register(FLOAT_KERNELS, "max_pool2d")
def max_pool2d(node: Node, inputs: list, graph: Graph) -> list:
    """Maximum over each window's in-bounds elements (padding never wins)."""
    (x,) = inputs
    kernel, strides, dilations, pads, out_hw = _window(node, graph, node.attrs["kernel"])
    padded = _pad_plane(x, pads, -np.inf)
    out = np.full(_output_shape(node, graph), -np.inf, dtype=np.float32)
    for _, _, view in _taps(padded, kernel, strides, dilations, out_hw):
        np.maximum(out, view, out=out)
    return [_activate(out, node)]


# Matrix, reduction and elementwise ops -------------------------------------------------------


@register(FLOAT_KERNELS, "fully_connected")
def fully_connected(node: Node, inputs: list, graph: Graph) -> list:
    """``input (..., I) @ filter (O, I)^T + bias``, applied to each row of the last dim."""
    x, weights, bias = inputs
    out = x @ weights.T
    if bias is not None:
        out = out + bias
    return [_activate(out.reshape(_output_shape(node, graph)), node)]


@register(FLOAT_KERNELS, "mean")
def mean(node: Node, inputs: list, graph: Graph) -> list:
    (x,) = inputs
    axes = tuple(node.attrs["axes"])
    out = np.mean(x, axis=axes, keepdims=bool(node.attrs.get("keepdims", False)), dtype=np.float64)
    return [out.astype(np.float32).reshape(_output_shape(node, graph))]


@register(FLOAT_KERNELS, "add")
def add(node: Node, inputs: list, graph: Graph) -> list:
    return [_activate(np.add(inputs[0], inputs[1]), node)]


@register(FLOAT_KERNELS, "sub")
def sub(node: Node, inputs: list, graph: Graph) -> list:
    return [_activate(np.subtract(inputs[0], inputs[1]), node)]


@register(FLOAT_KERNELS, "mul")
def mul(node: Node, inputs: list, graph: Graph) -> list:
    return [_activate(np.multiply(inputs[0], inputs[1]), node)]


@register(FLOAT_KERNELS, "clip")
def clip(node: Node, inputs: list, graph: Graph) -> list:
    return [_activate(np.asarray(inputs[0]), node)]


@register(FLOAT_KERNELS, "softmax")
def softmax(node: Node, inputs: list, graph: Graph) -> list:
    """Softmax of ``beta * x`` over the last axis, shifted by the row maximum for range.

    With a mask, positions whose mask value is 0 get probability 0; a row with every
    position masked is uniform, as ONNX's additive -FLT_MAX mask gives.
    """
    x = np.asarray(inputs[0], dtype=np.float32)
    beta = float(node.attrs.get("beta", 1.0))
    keep = _softmax_keep(inputs, x.shape)
    empty = ~keep.any(axis=-1, keepdims=True)
    keep = keep | empty
    masked = np.where(keep, np.where(empty, 0.0, x), -np.inf)
    shifted = beta * (masked - np.max(masked, axis=-1, keepdims=True))
    exps = np.where(keep, np.exp(shifted), 0.0)
    out = exps / np.sum(exps, axis=-1, keepdims=True)
    return [out.astype(np.float32)]


def _softmax_keep(inputs: list, shape: tuple[int, ...]) -> np.ndarray:
    """Return the positions a softmax uses: all, or those with a non-zero mask. The caller
    makes a row whose mask is all zero uniform, as the ONNX additive mask does."""
    if len(inputs) < 2 or inputs[1] is None:
        return np.ones(shape, dtype=bool)
    return np.broadcast_to(np.asarray(inputs[1]).reshape(-1) != 0, shape)


# Transformer ops -----------------------------------------------------------------------------


@register(FLOAT_KERNELS, "batch_matmul")
def batch_matmul(node: Node, inputs: list, graph: Graph) -> list:
    a, b = (np.asarray(v, dtype=np.float32) for v in inputs)
    out = float(node.attrs.get("alpha", 1.0)) * np.matmul(a, b)
    return [out.astype(np.float32).reshape(_output_shape(node, graph))]


@register(FLOAT_KERNELS, "gather")
def gather(node: Node, inputs: list, graph: Graph) -> list:
    table, indices = inputs
    return [np.asarray(table)[np.asarray(indices, dtype=np.int64)].astype(np.float32)]


@register(FLOAT_KERNELS, "layer_norm")
def layer_norm(node: Node, inputs: list, graph: Graph) -> list:
    x, gamma, beta = (np.asarray(v, dtype=np.float64) for v in inputs)
    centered = x - x.mean(axis=-1, keepdims=True)
    variance = np.mean(centered * centered, axis=-1, keepdims=True)
    normalized = centered / np.sqrt(variance + float(node.attrs.get("epsilon", 1e-5)))
    return [(normalized * gamma + beta).astype(np.float32)]


@register(FLOAT_KERNELS, "gelu")
def gelu(node: Node, inputs: list, graph: Graph) -> list:
    return [gelu_values(np.asarray(inputs[0], dtype=np.float64)).astype(np.float32)]


def gelu_values(x: np.ndarray) -> np.ndarray:
    """Compute the exact GELU, x * Phi(x), in float64 (math.erf per element, because numpy
    has no erf)."""
    erf = np.vectorize(math.erf, otypes=[np.float64])
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


@register(FLOAT_KERNELS, "masked_mean")
def masked_mean(node: Node, inputs: list, graph: Graph) -> list:
    x = np.asarray(inputs[0], dtype=np.float64)
    keep = (np.asarray(inputs[1]) != 0).reshape(x.shape[0], x.shape[1], 1)
    total = np.sum(x * keep, axis=1)
    count = np.maximum(keep.sum(axis=1), 1)
    return [(total / count).astype(np.float32).reshape(_output_shape(node, graph))]


@register(FLOAT_KERNELS, "l2_normalize")
def l2_normalize(node: Node, inputs: list, graph: Graph) -> list:
    x = np.asarray(inputs[0], dtype=np.float64)
    norm = np.sqrt(np.sum(x * x, axis=-1, keepdims=True))
    return [(x / np.maximum(norm, float(node.attrs.get("epsilon", 1e-12)))).astype(np.float32)]


# Data movement -------------------------------------------------------------------------------


@register(FLOAT_KERNELS, "reshape")
def reshape(node: Node, inputs: list, graph: Graph) -> list:
    return [np.reshape(inputs[0], _output_shape(node, graph))]


@register(FLOAT_KERNELS, "transpose")
def transpose(node: Node, inputs: list, graph: Graph) -> list:
    return [np.ascontiguousarray(np.transpose(inputs[0], node.attrs["perm"]))]


@register(FLOAT_KERNELS, "concat")
def concat(node: Node, inputs: list, graph: Graph) -> list:
    return [np.concatenate(inputs, axis=node.attrs["axis"]).astype(np.float32, copy=False)]


@register(FLOAT_KERNELS, "pad")
def pad(node: Node, inputs: list, graph: Graph) -> list:
    """Pad with 0.0; ``pads`` contains one (before, after) pair per dim."""
    pairs = [tuple(pair) for pair in node.attrs["pads"]]
    return [np.pad(inputs[0], pairs, constant_values=0.0)]
