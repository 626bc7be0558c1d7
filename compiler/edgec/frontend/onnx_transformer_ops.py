"""ONNX converters of the transformer ops: LayerNormalization, Gelu, the embedding Gather,
MatMul of two activations, and the nodes ``onnx_patterns`` fuses (masked softmax, masked
mean pooling, L2 normalisation).

Every op here works on the model's own (ONNX) layout: transformer activations are (batch,
tokens, hidden) or (batch, heads, tokens, depth), never images, so nothing moves to NHWC.
Integer graph inputs (token ids, attention masks) are int32 IR tensors. A converter takes
them as gather indices or as masks and rejects them anywhere else.
"""

from __future__ import annotations

import numpy as np

from edgec.frontend.onnx_registry import NodeView, converter
from edgec.frontend.onnx_values import ConversionContext


def _float_activation(ctx: ConversionContext, node: NodeView, name: str) -> str:
    """Return the IR tensor of float activation ``name`` in ONNX layout.

    ``ctx.tensor`` rejects integer inputs.
    """
    return ctx.tensor(name)


def _integer_input(ctx: ConversionContext, node: NodeView, name: str, role: str) -> str:
    tensor = ctx.integer_tensor(name)
    if tensor is None:
        raise node.reject(f"the {role} '{name}' must be an integer graph input")
    return tensor


def _last_axis(node: NodeView, axis: int, rank: int) -> None:
    if axis % rank != rank - 1:
        raise node.reject_attribute("axis", axis, f"the last axis ({rank - 1} or -1)")


@converter("LayerNormalization", attrs={"axis": -1, "epsilon": 1e-5, "stash_type": 1})
def convert_layer_norm(ctx: ConversionContext, node: NodeView) -> None:
    """Convert LayerNormalization over the last axis with a constant scale and optional bias."""
    x = node.input(0)
    shape = ctx.shape(x)
    _last_axis(node, int(node.attrs["axis"]), len(shape))
    width = shape[-1]
    params = []
    for index, default, role in ((1, np.ones, "gamma"), (2, np.zeros, "beta")):
        name = node.input(index)
        if name and not ctx.is_constant(name):
            raise node.reject(f"input '{name}' must be a constant")
        value = ctx.constant(name).astype(np.float32) if name else default(width, np.float32)
        if value.size != width:
            raise node.reject(f"input '{name}' has {value.size} values for {width} channels")
        params.append(ctx.constant_tensor(value.reshape(width), f"{node.name}/{role}"))
    out = ctx.new_output(node.output(), shape)
    ctx.add_node("layer_norm", node.name, [_float_activation(ctx, node, x), *params], [out],
                 {"epsilon": float(node.attrs["epsilon"])})


@converter("Gelu", attrs={"approximate": "none"})
def convert_gelu(ctx: ConversionContext, node: NodeView) -> None:
    """Convert Gelu in its exact erf form. The tanh approximation is rejected."""
    if node.attrs["approximate"] != "none":
        raise node.reject_attribute("approximate", node.attrs["approximate"], "'none'")
    x = node.input(0)
    out = ctx.new_output(node.output(), ctx.shape(x))
    ctx.add_node("gelu", node.name, [_float_activation(ctx, node, x)], [out])


@converter("Gather", attrs={"axis": 0}, constant_inputs=(0,))
def convert_gather(ctx: ConversionContext, node: NodeView) -> None:
    """Convert a Gather of rows of a constant 2-D table (an embedding) at integer indices."""
    table = ctx.constant(node.input(0))
    if table.ndim != 2 or int(node.attrs["axis"]) != 0:
        raise node.reject(f"only rows (axis 0) of a 2-D table are supported, got table shape "
                          f"{list(table.shape)} and axis {node.attrs['axis']}")
    indices = _integer_input(ctx, node, node.input(1), "index input")
    name = ctx.constant_tensor(table.astype(np.float32), f"{node.input(0)}/table",
                               key=("gather", node.input(0)))
    out = ctx.new_output(node.output(), ctx.shape(node.input(1)) + (table.shape[1],))
    ctx.add_node("gather", node.name, [name, indices], [out])


def convert_batch_matmul(ctx: ConversionContext, node: NodeView) -> None:
    """Convert a MatMul of two activations with equal batch dims into batch_matmul.

    Attention uses it for Q times K transposed and for the attention probabilities times V.
    """
    a, b = node.input(0), node.input(1)
    shape_a, shape_b = ctx.shape(a), ctx.shape(b)
    if len(shape_a) < 2 or shape_a[:-2] != shape_b[:-2] or shape_a[-1] != shape_b[-2]:
        raise node.reject(f"needs (..., M, K) x (..., K, N) with equal batch dims, got "
                          f"{list(shape_a)} x {list(shape_b)}")
    out = ctx.new_output(node.output(), shape_a[:-1] + (shape_b[-1],))
    ctx.add_node("batch_matmul", node.name,
                 [_float_activation(ctx, node, a), _float_activation(ctx, node, b)], [out],
                 {"alpha": 1.0})


@converter("MaskedSoftmax")
def convert_masked_softmax(ctx: ConversionContext, node: NodeView) -> None:
    """Convert MaskedSoftmax: a softmax over the last axis that gives masked positions (mask 0)
    probability 0."""
    x = node.input(0)
    mask = _integer_input(ctx, node, node.input(1), "mask")
    out = ctx.new_output(node.output(), ctx.shape(x))
    ctx.add_node("softmax", node.name, [_float_activation(ctx, node, x), mask], [out],
                 {"beta": 1.0})


@converter("MaskedMean")
def convert_masked_mean(ctx: ConversionContext, node: NodeView) -> None:
    """Convert MaskedMean: the mean over axis 1 of the rows whose mask is not 0
    (sentence-embedding pooling)."""
    x = node.input(0)
    shape = ctx.shape(x)
    if len(shape) != 3 or shape[0] != 1:
        raise node.reject(f"needs a (1, tokens, hidden) input, got {list(shape)}")
    mask = _integer_input(ctx, node, node.input(1), "mask")
    out = ctx.new_output(node.output(), (1, shape[2]))
    ctx.add_node("masked_mean", node.name, [_float_activation(ctx, node, x), mask], [out])


@converter("L2Normalize", attrs={"epsilon": 1e-12})
def convert_l2_normalize(ctx: ConversionContext, node: NodeView) -> None:
    x = node.input(0)
    out = ctx.new_output(node.output(), ctx.shape(x))
    ctx.add_node("l2_normalize", node.name, [_float_activation(ctx, node, x)], [out],
                 {"epsilon": float(node.attrs["epsilon"])})


@converter("LpNormalization", attrs={"axis": -1, "p": 2})
def convert_lp_normalization(ctx: ConversionContext, node: NodeView) -> None:
    """Convert LpNormalization with p = 2 over the last axis into l2_normalize."""
    x = node.input(0)
    _last_axis(node, int(node.attrs["axis"]), len(ctx.shape(x)))
    if int(node.attrs["p"]) != 2:
        raise node.reject_attribute("p", node.attrs["p"], "2")
    out = ctx.new_output(node.output(), ctx.shape(x))
    ctx.add_node("l2_normalize", node.name, [_float_activation(ctx, node, x)], [out],
                 {"epsilon": 1e-12})
