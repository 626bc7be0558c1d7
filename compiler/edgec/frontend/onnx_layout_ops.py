"""ONNX converters for ops that move data: reshapes, transposes, concat, pad, and the ops that
vanish at inference (Identity, Dropout, float-to-float Cast).

Reshape, Flatten, Squeeze and Unsqueeze need their input in the model's own (ONNX) layout.
For an input stored as NHWC, the context inserts the transpose back. The layout pass later
turns that transpose into a reshape when it only moves size-1 dims, as in the usual flatten
after a global pool. Transpose emits nothing, because its output is the input tensor read
through a new permutation. Concat and Pad keep the layout of their inputs and remap the
axis or the pads.
"""

from __future__ import annotations

import numpy as np
import onnx

from edgec.frontend.onnx_compute_ops import common_perm
from edgec.frontend.onnx_registry import NodeView, converter
from edgec.frontend.onnx_values import ConversionContext


def emit_reshape(ctx: ConversionContext, node: NodeView, shape: tuple[int, ...]) -> None:
    """Emit a reshape of the node's first input (ONNX layout) to ``shape``."""
    x = node.input(0)
    if int(np.prod(shape)) != int(np.prod(ctx.shape(x))):
        raise node.reject(f"cannot reshape {list(ctx.shape(x))} to {list(shape)}")
    source = ctx.tensor(x)
    out = ctx.new_output(node.output(), shape)
    ctx.add_node("reshape", node.name, [source], [out])


def _reshape_target(node: NodeView, shape: tuple[int, ...], request: list[int]) -> tuple[int, ...]:
    """Resolve ONNX Reshape's 0 (copy the input dim, unless allowzero) and -1 (infer)."""
    target = []
    for index, dim in enumerate(request):
        if dim == 0 and not node.attrs.get("allowzero"):
            if index >= len(shape):
                raise node.reject(f"shape {request} copies dim {index} of a rank-{len(shape)} input")
            dim = shape[index]
        target.append(int(dim))
    if target.count(-1) > 1:
        raise node.reject(f"shape {request} has more than one -1")
    if -1 in target:
        known = int(np.prod([d for d in target if d != -1]))
        total = int(np.prod(shape))
        if known == 0 or total % known:
            raise node.reject(f"cannot reshape {list(shape)} to {request}")
        target[target.index(-1)] = total // known
    return tuple(target)


@converter("Reshape", constant_inputs=(1,))
@converter("Reshape", since=14, attrs={"allowzero": 0}, constant_inputs=(1,))
def convert_reshape(ctx: ConversionContext, node: NodeView) -> None:
    request = [int(d) for d in ctx.constant(node.input(1)).reshape(-1)]
    emit_reshape(ctx, node, _reshape_target(node, ctx.shape(node.input(0)), request))


@converter("Flatten", attrs={"axis": 1})
def convert_flatten(ctx: ConversionContext, node: NodeView) -> None:
    shape = ctx.shape(node.input(0))
    axis = int(node.attrs["axis"])
    if not -len(shape) <= axis <= len(shape):
        raise node.reject_attribute("axis", axis, f"an axis in [{-len(shape)}, {len(shape)}]")
    axis %= len(shape) + 1
    emit_reshape(ctx, node, (int(np.prod(shape[:axis])), int(np.prod(shape[axis:]))))


def _squeeze(ctx: ConversionContext, node: NodeView, axes) -> None:
    shape = ctx.shape(node.input(0))
    rank = len(shape)
    if axes is None:
        axes = [i for i, d in enumerate(shape) if d == 1]
    axes = {int(a) % rank for a in axes}
    for axis in axes:
        if shape[axis] != 1:
            raise node.reject(f"cannot squeeze axis {axis} of size {shape[axis]}")
    emit_reshape(ctx, node, tuple(d for i, d in enumerate(shape) if i not in axes))


def _unsqueeze(ctx: ConversionContext, node: NodeView, axes) -> None:
    shape = list(ctx.shape(node.input(0)))
    rank = len(shape) + len(axes)
    for axis in sorted(int(a) % rank for a in axes):
        shape.insert(axis, 1)
    emit_reshape(ctx, node, tuple(shape))


@converter("Squeeze", attrs={"axes": None})
def convert_squeeze_v11(ctx: ConversionContext, node: NodeView) -> None:
    _squeeze(ctx, node, node.attrs["axes"])


@converter("Squeeze", since=13, constant_inputs=(1,))
def convert_squeeze(ctx: ConversionContext, node: NodeView) -> None:
    axes = ctx.constant(node.input(1)).reshape(-1).tolist() if node.input(1) else None
    _squeeze(ctx, node, axes)


@converter("Unsqueeze", attrs={"axes": None})
def convert_unsqueeze_v11(ctx: ConversionContext, node: NodeView) -> None:
    if node.attrs["axes"] is None:
        raise node.reject("attribute 'axes' is missing")
    _unsqueeze(ctx, node, node.attrs["axes"])


@converter("Unsqueeze", since=13, constant_inputs=(1,))
def convert_unsqueeze(ctx: ConversionContext, node: NodeView) -> None:
    _unsqueeze(ctx, node, ctx.constant(node.input(1)).reshape(-1).tolist())


@converter("Transpose", attrs={"perm": None})
def convert_transpose(ctx: ConversionContext, node: NodeView) -> None:
    """Transpose emits no node: the output is the input's tensor seen through ``perm``."""
    rank = len(ctx.shape(node.input(0)))
    perm = node.attrs["perm"]
    perm = tuple(reversed(range(rank))) if perm is None else tuple(int(a) for a in perm)
    if sorted(perm) != list(range(rank)):
        raise node.reject_attribute("perm", list(perm), f"a permutation of 0..{rank - 1}")
    ctx.alias(node.output(), node.input(0), perm)


@converter("Concat", attrs={"axis": None})
def convert_concat(ctx: ConversionContext, node: NodeView) -> None:
    """Concat keeps NHWC when its inputs are in NHWC, with the axis remapped."""
    inputs = [name for name in node.inputs if name]
    shapes = [ctx.shape(name) for name in inputs]
    rank = len(shapes[0])
    if node.attrs["axis"] is None:
        raise node.reject("attribute 'axis' is missing")
    axis = int(node.attrs["axis"])
    if not -rank <= axis < rank:
        raise node.reject_attribute("axis", axis, f"an axis in [{-rank}, {rank - 1}]")
    axis %= rank
    out_shape = list(shapes[0])
    out_shape[axis] = sum(shape[axis] for shape in shapes)
    perm = common_perm(ctx, inputs, rank)
    tensors = [ctx.tensor(name, perm) for name in inputs]
    out = ctx.new_output(node.output(), tuple(out_shape), perm)
    ctx.add_node("concat", node.name, tensors, [out], {"axis": perm.index(axis)})


@converter("Pad", since=11, attrs={"mode": "constant"}, constant_inputs=(1, 2, 3))
def convert_pad(ctx: ConversionContext, node: NodeView) -> None:
    """Pad in constant mode with value 0 becomes ``pad``; the pads follow the input's layout."""
    if node.attrs["mode"] != "constant":
        raise node.reject_attribute("mode", node.attrs["mode"], "'constant'")
    x = node.input(0)
    shape = ctx.shape(x)
    rank = len(shape)
    if node.input(2):
        value = ctx.constant(node.input(2))
        if value.size and float(value.reshape(-1)[0]) != 0.0:
            raise node.reject(f"constant_value {value.reshape(-1)[0]} is not supported, only 0")
    pads = [int(p) for p in ctx.constant(node.input(1)).reshape(-1)]
    axes = list(range(rank))
    if node.input(3):
        axes = [int(a) % rank for a in ctx.constant(node.input(3)).reshape(-1)]
    if len(pads) != 2 * len(axes) or min(pads, default=0) < 0:
        raise node.reject(f"pads {pads} must hold 2 x {len(axes)} non-negative values")
    before, after = [0] * rank, [0] * rank
    for index, axis in enumerate(axes):
        before[axis], after[axis] = pads[index], pads[index + len(axes)]
    if not any(before) and not any(after):
        ctx.alias(node.output(), x)
        return
    perm = ctx.home_perm(x)
    source = ctx.tensor(x, perm)
    out_shape = tuple(d + b + a for d, b, a in zip(shape, before, after))
    out = ctx.new_output(node.output(), out_shape, perm)
    physical = tuple((before[axis], after[axis]) for axis in perm)
    ctx.add_node("pad", node.name, [source], [out], {"pads": physical})


@converter("Identity")
def convert_identity(ctx: ConversionContext, node: NodeView) -> None:
    ctx.alias(node.output(), node.input(0))


@converter("Dropout", attrs={"ratio": 0.5})
@converter("Dropout", since=12, attrs={"seed": 0}, constant_inputs=(1, 2))
def convert_dropout(ctx: ConversionContext, node: NodeView) -> None:
    """Dropout at inference passes its input through; training mode is rejected."""
    if node.input(2) and bool(ctx.constant(node.input(2)).reshape(-1)[0]):
        raise node.reject("training_mode is true; export the model for inference")
    if node.output(1):
        raise node.reject("the mask output is not supported")
    ctx.alias(node.output(), node.input(0))


@converter("Cast", attrs={"to": None})
@converter("Cast", since=19, attrs={"to": None, "saturate": 1})
@converter("Cast", since=24, attrs={"to": None, "saturate": 1, "round_mode": "up"})
def convert_cast(ctx: ConversionContext, node: NodeView) -> None:
    """Cast of a float32 activation to float32 passes through; other activation casts are
    rejected (edgec compiles float32 models). ``saturate`` and ``round_mode`` only affect
    8-bit float targets, so they do not matter here."""
    if node.attrs["to"] != onnx.TensorProto.FLOAT:
        target = onnx.TensorProto.DataType.Name(node.attrs["to"])
        raise node.reject_attribute("to", target, "FLOAT for a non-constant input")
    if ctx.integer_tensor(node.input(0)) is not None:
        raise node.reject(f"input '{node.input(0)}' is an integer tensor; integer inputs can "
                          "only be gather indices or attention masks")
    ctx.alias(node.output(), node.input(0))
