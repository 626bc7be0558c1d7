"""Constant folding inside the ONNX frontend.

A node whose inputs are all constants (initializers, Constant nodes, earlier folded nodes) is
evaluated while the model is read, and its outputs become constants. Shape and Size of any
value fold too, because every shape in edgec is static. Shape-computing chains (Shape,
Gather, Unsqueeze, Concat, Cast, ConstantOfShape, Reshape of a shape ...) therefore vanish
before conversion, and converters receive them as numpy arrays.

Shape and Size are computed here. Every other op runs through ``onnx.reference`` at the
model's opset; that module of the onnx package implements the ONNX specification in numpy.
QuantizeLinear and DequantizeLinear are never folded: ``onnx_qdq`` reads them (a QDQ model's
integer constants must keep their integers), and DynamicQuantizeLinear gets the
unsupported-operator error. Random generators are never folded either.
"""

from __future__ import annotations

from collections.abc import Container

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from edgec.errors import UnsupportedOperatorError
from edgec.frontend.onnx_registry import attribute_value, display_name
from edgec.frontend.onnx_values import ConversionContext

NEVER_FOLDED = {
    "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "RandomNormal",
    "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli",
}
SHAPE_OPS = {"Shape", "Size"}


def is_foldable(node: onnx.NodeProto, constants: Container[str]) -> bool:
    """Return whether ``node`` computes constants, given the constant value names so far."""
    if node.domain not in ("", "ai.onnx") or node.op_type in NEVER_FOLDED:
        return False
    if not onnx.defs.has(node.op_type):
        return False
    if node.op_type in SHAPE_OPS:
        return True
    return all(name in constants for name in node.input if name)


def fold_node(ctx: ConversionContext, node: onnx.NodeProto) -> None:
    """Evaluate a foldable node and record its outputs as constants in ``ctx``."""
    if node.op_type in SHAPE_OPS:
        outputs = [_fold_shape(ctx, node)]
    else:
        inputs = [ctx.constant(name) if name else None for name in node.input]
        outputs = _evaluate(node, inputs, ctx.opset)
    for name, value in zip([name for name in node.output if name], outputs):
        ctx.set_constant(name, np.asarray(value))


def _fold_shape(ctx: ConversionContext, node: onnx.NodeProto) -> np.ndarray:
    shape = np.array(ctx.shape(node.input[0]), dtype=np.int64)
    if node.op_type == "Size":
        return np.array(int(np.prod(shape)), dtype=np.int64)
    attrs = {a.name: attribute_value(a) for a in node.attribute}
    # Python slicing clamps out-of-range start/end the way ONNX Shape-15 specifies.
    return shape[attrs.get("start", 0): attrs.get("end", len(shape))]


def _evaluate(node: onnx.NodeProto, inputs: list, opset: int) -> list[np.ndarray]:
    initializers = [
        numpy_helper.from_array(np.asarray(value), name)
        for name, value in zip(node.input, inputs)
        if name
    ]
    outputs = [helper.make_value_info(name, onnx.TypeProto()) for name in node.output if name]
    graph = helper.make_graph([node], "fold", [], outputs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    try:
        return ReferenceEvaluator(model).run(None, {})
    except Exception as exc:  # onnx.reference raises many types; report them all the same way
        raise UnsupportedOperatorError(
            f"node '{display_name(node)}' ({node.op_type}): its inputs are constant but folding "
            f"them failed ({type(exc).__name__}: {exc}); simplify the model, for example with onnx-simplifier"
        ) from exc
