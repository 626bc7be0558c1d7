"""ONNX converters for ops that compute: convolutions, matrix products, pooling, elementwise,
activations, normalization, softmax and reductions.

Each converter reads one ONNX node (``NodeView``) and appends IR nodes through the
``ConversionContext``. Window ops (Conv, pools) read and write NHWC. Elementwise ops and
activations keep the layout their input already has. Ops that name axes (Softmax,
ReduceMean) pick a layout that needs no transpose where possible and remap the axes.

Rewrites left to the graph passes: activations stay standalone ``clip`` nodes (fused into the
producer later), BatchNormalization becomes a per-channel ``mul`` and ``add`` (folded into a
preceding conv or fully_connected later), and MatMul followed by Add keeps the ``add``.
"""

from __future__ import annotations

import math

import numpy as np

from edgec.frontend.onnx_registry import REQUIRED, NodeView, converter
from edgec.frontend.onnx_transformer_ops import convert_batch_matmul
from edgec.frontend.onnx_values import NHWC, ConversionContext, identity, permute
from edgec.ir.graph import Tensor

RELU = (0.0, math.inf)


# Window ops ----------------------------------------------------------------------------------


def _pair(node: NodeView, attribute: str, default: int) -> tuple[int, int]:
    value = node.attrs[attribute]
    if value is None:
        return (default, default)
    if len(value) != 2:
        raise node.reject_attribute(attribute, value, "2 values (only 2-D windows are supported)")
    return (int(value[0]), int(value[1]))


def _window_pads(
    node: NodeView, size: tuple[int, int], kernel: tuple[int, int], strides: tuple[int, int],
    dilations: tuple[int, int],
) -> tuple[int, int, int, int]:
    """Resolve ``pads`` and ``auto_pad`` into explicit (top, left, bottom, right)."""
    auto_pad = node.attrs["auto_pad"]
    if auto_pad == "NOTSET":
        pads = node.attrs["pads"]
        if pads is None:
            return (0, 0, 0, 0)
        if len(pads) != 4 or min(pads) < 0:
            raise node.reject_attribute("pads", pads, "4 non-negative values")
        return tuple(int(p) for p in pads)
    if auto_pad == "VALID":
        return (0, 0, 0, 0)
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        raise node.reject_attribute("auto_pad", auto_pad, "NOTSET, VALID, SAME_UPPER or SAME_LOWER")
    before, after = [], []
    for length, k, s, d in zip(size, kernel, strides, dilations):
        out = -(-length // s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - length)
        small, large = total // 2, total - total // 2
        # SAME_UPPER puts the odd element at the end, SAME_LOWER at the beginning.
        before.append(small if auto_pad == "SAME_UPPER" else large)
        after.append(large if auto_pad == "SAME_UPPER" else small)
    return (before[0], before[1], after[0], after[1])


def _window_output(
    node: NodeView, size: tuple[int, int], kernel: tuple[int, int], strides: tuple[int, int],
    dilations: tuple[int, int], pads: tuple[int, int, int, int], ceil: bool = False,
) -> tuple[int, int]:
    out = []
    for axis in range(2):
        span = size[axis] + pads[axis] + pads[axis + 2] - ((kernel[axis] - 1) * dilations[axis] + 1)
        if span < 0:
            raise node.reject(
                f"the window ({kernel[axis]} with dilation {dilations[axis]}) is larger than the "
                f"padded input ({size[axis]} + padding) along spatial axis {axis}"
            )
        steps = -(-span // strides[axis]) if ceil else span // strides[axis]
        out.append(steps + 1)
    return (out[0], out[1])


def _require_rank(ctx: ConversionContext, node: NodeView, name: str, rank: int, limit: str) -> None:
    shape = ctx.shape(name)
    if len(shape) != rank:
        raise node.reject(f"{limit}; input '{name}' has shape {list(shape)}")


_CONV_ATTRS = {
    "auto_pad": "NOTSET", "dilations": None, "group": 1, "kernel_shape": None, "pads": None,
    "strides": None,
}


@converter("Conv", attrs=_CONV_ATTRS, constant_inputs=(1, 2))
def convert_conv(ctx: ConversionContext, node: NodeView) -> None:
    """Convert Conv with group 1 to conv2d (OHWI filter), and Conv with group equal to the
    input channels to depthwise_conv2d (1HW(C*M) filter, M = output / input channels)."""
    x = node.input(0)
    _require_rank(ctx, node, x, 4, "only 2-D convolution (4-D NCHW input) is supported")
    weights = ctx.constant(node.input(1)).astype(np.float32)
    batch, channels, height, width = ctx.shape(x)
    out_channels, group_channels, kh, kw = weights.shape
    kernel = _pair(node, "kernel_shape", 0)
    if node.attrs["kernel_shape"] is not None and kernel != (kh, kw):
        raise node.reject_attribute("kernel_shape", list(kernel), f"the filter size {[kh, kw]}")
    strides = _pair(node, "strides", 1)
    dilations = _pair(node, "dilations", 1)
    pads = _window_pads(node, (height, width), (kh, kw), strides, dilations)
    out_h, out_w = _window_output(node, (height, width), (kh, kw), strides, dilations, pads)

    group = int(node.attrs["group"])
    attrs = {"strides": strides, "dilations": dilations, "pads": pads, "activation": None}
    if group == 1:
        op = "conv2d"
        filter_data = weights.transpose(0, 2, 3, 1)
    elif group == channels and group_channels == 1 and out_channels % channels == 0:
        op = "depthwise_conv2d"
        # ONNX output channel o reads input channel o // M, the same order as TFLite's c * M + m.
        filter_data = weights.reshape(out_channels, kh, kw).transpose(1, 2, 0)[np.newaxis]
        attrs["depth_multiplier"] = out_channels // channels
    else:
        raise node.reject_attribute(
            "group", group, f"1 or the number of input channels ({channels}); grouped "
            "convolution is not supported"
        )
    if group == 1 and group_channels != channels:
        raise node.reject(f"filter has {group_channels} input channels but the input has {channels}")

    filter_name = ctx.constant_tensor(filter_data, f"{node.input(1)}/{op}", key=(op, node.input(1)))
    bias_name = ""
    if node.input(2):
        bias_name = ctx.tensor(node.input(2))
    inputs = [ctx.tensor(x, NHWC), filter_name, bias_name]
    out = ctx.new_output(node.output(), (batch, out_channels, out_h, out_w), NHWC)
    ctx.add_node(op, node.name, inputs, [out], attrs)


def _pool_window(ctx: ConversionContext, node: NodeView) -> tuple:
    """Return (kernel, strides, pads, output (h, w)) of an AveragePool or MaxPool node."""
    x = node.input(0)
    _require_rank(ctx, node, x, 4, "only 2-D pooling (4-D NCHW input) is supported")
    _, _, height, width = ctx.shape(x)
    kernel = _pair(node, "kernel_shape", 0)
    strides = _pair(node, "strides", 1)
    dilations = _pair(node, "dilations", 1)
    if dilations != (1, 1):
        raise node.reject_attribute("dilations", list(dilations), "[1, 1]")
    pads = _window_pads(node, (height, width), kernel, strides, dilations)
    out = _window_output(node, (height, width), kernel, strides, dilations, pads)
    if node.attrs["ceil_mode"]:
        # ceil_mode only matters when it adds a last, partial window.
        ceil_out = _window_output(node, (height, width), kernel, strides, dilations, pads, ceil=True)
        if ceil_out != out:
            raise node.reject_attribute(
                "ceil_mode", 1, f"0 (ceil_mode 1 adds a partial window here: output {list(ceil_out)} "
                f"instead of {list(out)})"
            )
    return kernel, strides, pads, out


def _emit_pool(ctx: ConversionContext, node: NodeView, op: str, window: tuple) -> None:
    kernel, strides, pads, (out_h, out_w) = window
    x = node.input(0)
    batch, channels, _, _ = ctx.shape(x)
    out = ctx.new_output(node.output(), (batch, channels, out_h, out_w), NHWC)
    attrs = {"kernel": kernel, "strides": strides, "pads": pads, "activation": None}
    ctx.add_node(op, node.name, [ctx.tensor(x, NHWC)], [out], attrs)


_POOL_ATTRS = {
    "auto_pad": "NOTSET", "ceil_mode": 0, "kernel_shape": REQUIRED, "pads": None, "strides": None,
}


@converter("AveragePool", attrs=dict(_POOL_ATTRS, count_include_pad=0))
@converter("AveragePool", since=19, attrs=dict(_POOL_ATTRS, count_include_pad=0, dilations=None))
def convert_average_pool(ctx: ConversionContext, node: NodeView) -> None:
    """Convert AveragePool to average_pool2d, whose mean counts only in-bounds elements."""
    node.attrs.setdefault("dilations", None)
    window = _pool_window(ctx, node)
    if node.attrs["count_include_pad"] and any(window[2]):
        raise node.reject_attribute(
            "count_include_pad", 1, "0 (padding counted in the mean is not supported)"
        )
    _emit_pool(ctx, node, "average_pool2d", window)


@converter("MaxPool", attrs=dict(_POOL_ATTRS, dilations=None, storage_order=0))
def convert_max_pool(ctx: ConversionContext, node: NodeView) -> None:
    if node.output(1):
        raise node.reject("the Indices output is not supported")
    _emit_pool(ctx, node, "max_pool2d", _pool_window(ctx, node))


def _global_pool(ctx: ConversionContext, node: NodeView, op: str) -> None:
    x = node.input(0)
    _require_rank(ctx, node, x, 4, "only 2-D pooling (4-D NCHW input) is supported")
    _, _, height, width = ctx.shape(x)
    _emit_pool(ctx, node, op, ((height, width), (1, 1), (0, 0, 0, 0), (1, 1)))


@converter("GlobalAveragePool")
def convert_global_average_pool(ctx: ConversionContext, node: NodeView) -> None:
    """Convert GlobalAveragePool to average_pool2d with the whole plane as its window."""
    _global_pool(ctx, node, "average_pool2d")


@converter("GlobalMaxPool")
def convert_global_max_pool(ctx: ConversionContext, node: NodeView) -> None:
    _global_pool(ctx, node, "max_pool2d")


# Matrix products -----------------------------------------------------------------------------


@converter("Gemm", attrs={"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 0},
           constant_inputs=(1,))
def convert_gemm(ctx: ConversionContext, node: NodeView) -> None:
    """Convert Gemm with a constant B to fully_connected, folding alpha and beta into the
    constants.

    A bias C that is the same for every row becomes the fully_connected bias. Any other C
    (a per-row constant or an activation) is added by an ``add`` node.
    """
    a, b, c = node.input(0), node.input(1), node.input(2)
    alpha, beta = float(node.attrs["alpha"]), float(node.attrs["beta"])
    weights = ctx.constant(b).astype(np.float32)
    if weights.ndim != 2:
        raise node.reject(f"B must be 2-D, got shape {list(weights.shape)}")
    if node.attrs["transB"]:
        weights = weights.T
    if len(ctx.shape(a)) != 2:
        raise node.reject(f"A must be 2-D, got shape {list(ctx.shape(a))}")
    a_perm = (1, 0) if node.attrs["transA"] else (0, 1)
    rows, depth = permute(ctx.shape(a), a_perm)
    if weights.shape[0] != depth:
        raise node.reject(f"A has {depth} columns but B has {weights.shape[0]} rows")
    columns = weights.shape[1]
    filter_name = ctx.constant_tensor(alpha * weights.T, f"{b}/fully_connected",
                                      key=("gemm", b, alpha, node.attrs["transB"]))

    bias_name, extra = "", None
    if c and ctx.is_constant(c):
        bias = np.broadcast_to(beta * ctx.constant(c).astype(np.float32), (rows, columns))
        if np.all(bias == bias[0]):
            bias_name = ctx.constant_tensor(bias[0], f"{c}/bias")
        else:
            extra = ctx.constant_tensor(bias, f"{c}/bias")
    elif c:
        extra = ctx.tensor(c)
        if beta != 1.0:
            scaled = ctx.fresh_name(f"{node.output()}/beta_c")
            ctx.graph.add_tensor(_float_tensor(scaled, ctx.shape(c)))
            beta_name = ctx.constant_tensor(np.array([beta], np.float32), f"{node.name}/beta")
            ctx.add_node("mul", f"{node.name}/beta", [extra, beta_name], [scaled], {"activation": None})
            extra = scaled

    inputs = [ctx.tensor(a, a_perm), filter_name, bias_name]
    if extra is None:
        out = ctx.new_output(node.output(), (rows, columns))
        ctx.add_node("fully_connected", node.name, inputs, [out], {"activation": None})
        return
    product = ctx.fresh_name(f"{node.output()}/product")
    ctx.graph.add_tensor(_float_tensor(product, (rows, columns)))
    ctx.add_node("fully_connected", node.name, inputs, [product], {"activation": None})
    out = ctx.new_output(node.output(), (rows, columns))
    ctx.add_node("add", f"{node.name}/add_c", [product, extra], [out], {"activation": None})


def _float_tensor(name: str, shape: tuple[int, ...]) -> Tensor:
    return Tensor(name, shape, "float32")


@converter("MatMul")
def convert_matmul(ctx: ConversionContext, node: NodeView) -> None:
    """Convert MatMul of an activation (..., K) by a constant (K, N) to fully_connected, and
    MatMul of two activations to batch_matmul."""
    a, b = node.input(0), node.input(1)
    if not ctx.is_constant(b):
        convert_batch_matmul(ctx, node)
        return
    weights = ctx.constant(b).astype(np.float32)
    shape = ctx.shape(a)
    if weights.ndim != 2 or len(shape) < 2:
        raise node.reject(
            f"only an activation of rank >= 2 times a 2-D constant is supported; got "
            f"{list(shape)} x {list(weights.shape)}"
        )
    if weights.shape[0] != shape[-1]:
        raise node.reject(f"A has {shape[-1]} columns but B has {weights.shape[0]} rows")
    filter_name = ctx.constant_tensor(weights.T, f"{b}/fully_connected", key=("matmul", b))
    out = ctx.new_output(node.output(), shape[:-1] + (weights.shape[1],))
    ctx.add_node("fully_connected", node.name, [ctx.tensor(a), filter_name, ""], [out],
                 {"activation": None})


# Elementwise ops and activations -------------------------------------------------------------


def common_perm(ctx: ConversionContext, names: list[str], rank: int) -> tuple[int, ...]:
    """Pick the layout of an op whose inputs and output share axes.

    NHWC when the output is 4-D, every activation input is 4-D and one of them already lives
    in NHWC; otherwise the ONNX layout.
    """
    activations = [name for name in names if not ctx.is_constant(name)]
    if rank == 4 and activations and all(len(ctx.shape(n)) == 4 for n in activations):
        if any(ctx.home_perm(n) == NHWC for n in activations):
            return NHWC
    return identity(rank)


def emit_elementwise(ctx: ConversionContext, op: str, name: str, inputs: list[str], output: str) -> None:
    """Emit a broadcasting ``op`` (add, sub, mul) of two ONNX values into ONNX value ``output``."""
    shape = tuple(np.broadcast_shapes(*(ctx.shape(i) for i in inputs)))
    perm = common_perm(ctx, inputs, len(shape))
    tensors = []
    for value in inputs:
        if ctx.is_constant(value):
            tensors.append(ctx.broadcast_constant(value, len(shape), perm))
        elif len(ctx.shape(value)) == len(perm):
            tensors.append(ctx.tensor(value, perm))
        else:
            # Lower-rank activations occur only with the ONNX layout; numpy broadcasting
            # aligns their trailing dims as ONNX does.
            tensors.append(ctx.tensor(value))
    out = ctx.new_output(output, shape, perm)
    ctx.add_node(op, name, tensors, [out], {"activation": None})


def _binary(op: str):
    def convert(ctx: ConversionContext, node: NodeView) -> None:
        emit_elementwise(ctx, op, node.name, [node.input(0), node.input(1)], node.output())

    convert.__name__ = f"convert_{op}"
    convert.__doc__ = f"Elementwise {op} with ONNX (numpy) broadcasting; constants stay tensors."
    return convert


for _op_type, _op in (("Add", "add"), ("Sub", "sub"), ("Mul", "mul")):
    converter(_op_type)(_binary(_op))


@converter("Div", constant_inputs=(1,))
def convert_div(ctx: ConversionContext, node: NodeView) -> None:
    """Convert division by a constant to multiplication by its reciprocal."""
    divisor = ctx.constant(node.input(1))
    if not np.issubdtype(divisor.dtype, np.floating):
        raise node.reject("only division of float tensors is supported")
    reciprocal = ctx.fresh_name(f"{node.input(1)}/reciprocal")
    ctx.set_constant(reciprocal, (1.0 / divisor).astype(np.float32))
    emit_elementwise(ctx, "mul", node.name, [node.input(0), reciprocal], node.output())


def emit_clip(ctx: ConversionContext, node: NodeView, low: float, high: float) -> None:
    x = node.input(0)
    perm = ctx.home_perm(x)
    source = ctx.tensor(x, perm)
    out = ctx.new_output(node.output(), ctx.shape(x), perm)
    ctx.add_node("clip", node.name, [source], [out], {"activation": (float(low), float(high))})


@converter("Relu")
def convert_relu(ctx: ConversionContext, node: NodeView) -> None:
    """Convert Relu to a standalone clip to [0, inf), which activation fusion moves into the
    producer."""
    emit_clip(ctx, node, *RELU)


@converter("Clip", since=11, constant_inputs=(1, 2))
def convert_clip(ctx: ConversionContext, node: NodeView) -> None:
    """Convert Clip with optional constant min and max inputs to clip; an absent bound
    leaves that side open."""
    bounds = []
    for index, default in ((1, -math.inf), (2, math.inf)):
        name = node.input(index)
        if not name:
            bounds.append(default)
            continue
        value = ctx.constant(name)
        if value.size != 1:
            raise node.reject(f"input '{name}' must be a scalar, got shape {list(value.shape)}")
        bounds.append(float(value.reshape(())))
    emit_clip(ctx, node, bounds[0], bounds[1])


@converter("BatchNormalization", attrs={"epsilon": 1e-5, "momentum": 0.9},
           constant_inputs=(1, 2, 3, 4))
@converter("BatchNormalization", since=14,
           attrs={"epsilon": 1e-5, "momentum": 0.9, "training_mode": 0},
           constant_inputs=(1, 2, 3, 4))
def convert_batch_normalization(ctx: ConversionContext, node: NodeView) -> None:
    """Convert inference BatchNormalization to a per-channel (axis 1) ``mul`` and ``add``.

    The scale is gamma / sqrt(var + epsilon) and the shift beta - mean * scale. The
    fold_batchnorm pass merges both into a preceding conv or fully_connected.
    """
    if node.attrs.get("training_mode"):
        raise node.reject_attribute("training_mode", 1, "0 (inference)")
    if any(node.outputs[1:]):
        raise node.reject("the running mean and variance outputs (training mode) are not supported")
    x = node.input(0)
    rank = len(ctx.shape(x))
    if rank < 2:
        raise node.reject(f"input must have a channel axis, got shape {list(ctx.shape(x))}")
    gamma, beta, mean, var = (ctx.constant(node.input(i)).astype(np.float64) for i in range(1, 5))
    scale = gamma / np.sqrt(var + float(node.attrs["epsilon"]))
    shift = beta - mean * scale
    channel_shape = (-1,) + (1,) * (rank - 2)
    scale_name = ctx.fresh_name(f"{node.name}/scale")
    shift_name = ctx.fresh_name(f"{node.name}/shift")
    ctx.set_constant(scale_name, scale.astype(np.float32).reshape(channel_shape))
    ctx.set_constant(shift_name, shift.astype(np.float32).reshape(channel_shape))
    scaled = ctx.fresh_name(f"{node.output()}/scaled")
    emit_elementwise(ctx, "mul", f"{node.name}/mul", [x, scale_name], scaled)
    emit_elementwise(ctx, "add", f"{node.name}/add", [scaled, shift_name], node.output())


# Axis ops ------------------------------------------------------------------------------------


def _axis(node: NodeView, axis: int, rank: int, attribute: str = "axis") -> int:
    if not -rank <= axis < rank:
        raise node.reject_attribute(attribute, axis, f"an axis in [{-rank}, {rank - 1}]")
    return axis % rank


def _emit_softmax_last(ctx: ConversionContext, node: NodeView, axis: int) -> None:
    """Softmax over ``axis``: the IR op normalizes the last axis, so pick a layout whose last
    axis is ``axis`` (the producer's NHWC works for the channel axis)."""
    x = node.input(0)
    rank = len(ctx.shape(x))
    perm = ctx.home_perm(x)
    if perm[-1] != axis:
        perm = tuple(a for a in range(rank) if a != axis) + (axis,)
    source = ctx.tensor(x, perm)
    out = ctx.new_output(node.output(), ctx.shape(x), perm)
    ctx.add_node("softmax", node.name, [source], [out], {"beta": 1.0})


@converter("Softmax", attrs={"axis": 1})
def convert_softmax_v1(ctx: ConversionContext, node: NodeView) -> None:
    """Convert Softmax before opset 13, which flattens the input to 2-D at ``axis`` and
    normalizes each row."""
    x = node.input(0)
    shape = ctx.shape(x)
    axis = _axis(node, int(node.attrs["axis"]), len(shape))
    if axis == len(shape) - 1:
        _emit_softmax_last(ctx, node, axis)
        return
    rows = (int(np.prod(shape[:axis])), int(np.prod(shape[axis:])))
    flat = ctx.fresh_name(f"{node.output()}/rows")
    ctx.graph.add_tensor(_float_tensor(flat, rows))
    ctx.add_node("reshape", f"{node.name}/flatten", [ctx.tensor(x)], [flat])
    normalized = ctx.fresh_name(f"{node.output()}/softmax")
    ctx.graph.add_tensor(_float_tensor(normalized, rows))
    ctx.add_node("softmax", node.name, [flat], [normalized], {"beta": 1.0})
    out = ctx.new_output(node.output(), shape)
    ctx.add_node("reshape", f"{node.name}/unflatten", [normalized], [out])


@converter("Softmax", since=13, attrs={"axis": -1})
def convert_softmax(ctx: ConversionContext, node: NodeView) -> None:
    shape = ctx.shape(node.input(0))
    _emit_softmax_last(ctx, node, _axis(node, int(node.attrs["axis"]), len(shape)))


def _emit_mean(ctx: ConversionContext, node: NodeView, axes: list[int] | None, keepdims: bool) -> None:
    """Emit ``mean`` over logical ``axes`` (None: all), in the layout the input already has."""
    x = node.input(0)
    shape = ctx.shape(x)
    rank = len(shape)
    axes = sorted({_axis(node, int(a), rank, "axes") for a in (axes or range(rank))})
    perm = ctx.home_perm(x)
    physical_axes = tuple(i for i, axis in enumerate(perm) if axis in axes)
    if keepdims:
        out_shape = tuple(1 if i in axes else d for i, d in enumerate(shape))
        out_perm = perm
    else:
        out_shape = tuple(d for i, d in enumerate(shape) if i not in axes)
        # Logical axes that remain, in the order the tensor stores them.
        remaining = [axis for axis in perm if axis not in axes]
        out_perm = tuple(sorted(remaining).index(axis) for axis in remaining)
    source = ctx.tensor(x, perm)
    out = ctx.new_output(node.output(), out_shape, out_perm)
    ctx.add_node("mean", node.name, [source], [out],
                 {"axes": physical_axes, "keepdims": bool(keepdims)})


@converter("ReduceMean", attrs={"axes": None, "keepdims": 1})
def convert_reduce_mean(ctx: ConversionContext, node: NodeView) -> None:
    """Convert ReduceMean to ``mean``. On an NHWC tensor the axes are remapped, so a mean
    over H and W of an NCHW value needs no transpose."""
    _emit_mean(ctx, node, node.attrs["axes"], node.attrs["keepdims"])


@converter("ReduceMean", since=18, attrs={"keepdims": 1, "noop_with_empty_axes": 0},
           constant_inputs=(1,))
def convert_reduce_mean_v18(ctx: ConversionContext, node: NodeView) -> None:
    """Convert ReduceMean from opset 18, which takes the axes as an optional input."""
    axes = []
    if node.input(1):
        axes = [int(a) for a in ctx.constant(node.input(1)).reshape(-1)]
    if not axes and node.attrs["noop_with_empty_axes"]:
        ctx.alias(node.output(), node.input(0))
        return
    _emit_mean(ctx, node, axes or None, node.attrs["keepdims"])
