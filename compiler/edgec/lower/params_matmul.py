"""Integer kernel parameters of batch_matmul, gather and masked_mean (registered with
``@params_for``).

Where it sits: the lowering step, next to ``edgec.lower.params``. The reference kernels
(``edgec.reference.int_matmul``) and the C calls (``edgec.lower.calls_matmul``) read the same
numbers. Each function also rejects what its C kernel cannot compute exactly, with an edgec
error naming the node.

- batch_matmul: int8 inputs with per-tensor quantization and any zero points. The output is
  int8, or int16 with zero point 0 when a softmax follows. One Q31 multiplier represents
  ``alpha * s1 * s2 / s_out``. The int32 accumulator needs ``K * 255 * 255 < 2**31``, and the
  left shift of a multiplier of 1 or more must not wrap the largest accumulator.
- gather: an int8 constant (V, C) table. The output has the table's quantization exactly.
- masked_mean: the rescale ``s_in / s_out`` as one Q31 multiplier. The division by the number
  of unmasked rows happens in the kernel (see ``edgec.reference.int_matmul``).

To add a check, raise ``UnsupportedAttributeError`` for a shape, type or attribute the kernel
does not take, and ``QuantizationError`` for scales or zero points it cannot compute with.
"""

from __future__ import annotations

import math

import numpy as np

from edgec.errors import QuantizationError, UnsupportedAttributeError
from edgec.ir import Graph, Node, Quant
from edgec.lower.params import MAX_CENTERED_INPUT, QMAX, QMIN, KernelParams, params_for
from edgec.quantize.fixed_point import quantize_multiplier

# Exclusive bound on the magnitude of a sum in the int32 accumulators.
INT32_LIMIT = 2**31
# Largest batch_matmul depth K with K * 255 * 255 < 2**31.
MAX_MATMUL_DEPTH = (INT32_LIMIT - 1) // (MAX_CENTERED_INPUT * MAX_CENTERED_INPUT)
# Largest masked_mean row count T with T * 255 < 2**31.
MAX_MEAN_ROWS = (INT32_LIMIT - 1) // MAX_CENTERED_INPUT


def _where(node: Node) -> str:
    return f"node '{node.name}' ({node.op})"


def _per_tensor_quant(node: Node, graph: Graph, name: str, dtypes: tuple[str, ...]) -> Quant:
    """Return the per-tensor quantization of ``name``, whose dtype must be one of ``dtypes``."""
    tensor = graph.tensors[name]
    if tensor.dtype not in dtypes:
        raise UnsupportedAttributeError(
            f"{_where(node)}: tensor '{name}' is {tensor.dtype}, expected "
            f"{' or '.join(dtypes)}"
        )
    quant = tensor.quant
    if quant is None:
        raise QuantizationError(
            f"{_where(node)}: tensor '{name}' has no quantization parameters. Quantize the "
            "graph first"
        )
    if quant.scale.size != 1:
        raise QuantizationError(
            f"{_where(node)}: tensor '{name}' has {quant.scale.size} scales, but this op "
            "needs per-tensor quantization"
        )
    zero_point = int(quant.zero_point[0])
    if not QMIN[tensor.dtype] <= zero_point <= QMAX[tensor.dtype]:
        raise QuantizationError(
            f"{_where(node)}: tensor '{name}' has zero point {zero_point}, outside the "
            f"{tensor.dtype} range"
        )
    return quant


def largest_centered_value(zero_point: int) -> int:
    """Return the largest |q - zero_point| of an int8 value q."""
    return max(QMAX["int8"] - zero_point, zero_point - QMIN["int8"])


def _check_left_shift(node: Node, real: float, shift: int, largest_sum: int) -> None:
    """Reject a left shift that can wrap an int32 sum of magnitude up to ``largest_sum``.

    The double-rounding requantization shifts the sum left in int32 before it multiplies, so
    such a shift would give wrong outputs instead of saturated ones.
    """
    if shift > 0 and largest_sum << shift >= INT32_LIMIT:
        raise QuantizationError(
            f"{_where(node)}: the requantization multiplier {real:g} needs a left shift of "
            f"{shift} bits, which can overflow int32 for sums up to {largest_sum}. Use a "
            "larger output scale"
        )


def _requantization(node: Node, real: float, largest_sum: int) -> tuple[int, int]:
    """Return the Q31 (multiplier, shift) of ``real``, rejecting a wrapping left shift.

    A real multiplier below 2**-32 becomes multiplier 0. The rounded output is then the
    output zero point, less than half a step from the exact value when the sum is below 2**31.
    """
    multiplier, shift = quantize_multiplier(real)
    _check_left_shift(node, real, shift, largest_sum)
    return multiplier, shift


# --- batch_matmul --------------------------------------------------------------------------


def matmul_dims(node: Node, graph: Graph) -> tuple[int, int, int, int]:
    """Return ``(batches, rows, depth, columns)`` of a batch_matmul node, checking its shapes.

    input1 is (*batch, rows, depth), input2 (*batch, depth, columns) and the output
    (*batch, rows, columns), with the same batch dimensions everywhere (no broadcasting).
    """
    shape1 = graph.tensors[node.inputs[0]].shape
    shape2 = graph.tensors[node.inputs[1]].shape
    out_shape = graph.tensors[node.outputs[0]].shape
    if len(shape1) < 2 or len(shape2) < 2:
        raise UnsupportedAttributeError(
            f"{_where(node)}: inputs have shapes {shape1} and {shape2}, but both need at "
            "least 2 dimensions"
        )
    if shape1[:-2] != shape2[:-2]:
        raise UnsupportedAttributeError(
            f"{_where(node)}: batch dimensions {shape1[:-2]} and {shape2[:-2]} differ. "
            "batch_matmul does not broadcast, so expand the smaller input first"
        )
    if shape1[-1] != shape2[-2]:
        raise UnsupportedAttributeError(
            f"{_where(node)}: input1 {shape1} and input2 {shape2} have different depths "
            f"({shape1[-1]} and {shape2[-2]})"
        )
    expected = shape1[:-1] + shape2[-1:]
    if out_shape != expected:
        raise UnsupportedAttributeError(
            f"{_where(node)}: output shape {out_shape}, expected {expected}"
        )
    batches = int(np.prod(shape1[:-2], dtype=np.int64))
    return batches, shape1[-2], shape1[-1], shape2[-1]


def _matmul_alpha(node: Node) -> float:
    alpha = float(node.attrs.get("alpha", 1.0))
    if not (math.isfinite(alpha) and alpha > 0):
        raise UnsupportedAttributeError(
            f"{_where(node)}: alpha {alpha} is not supported, because the integer kernel "
            "needs a finite alpha > 0. Fold a sign into the next op"
        )
    return alpha


@params_for("batch_matmul")
def _batch_matmul_params(node: Node, graph: Graph) -> KernelParams:
    """Return the offsets, multiplier and clamp range of ``alpha * input1 @ input2``."""
    _, _, depth, _ = matmul_dims(node, graph)
    q1 = _per_tensor_quant(node, graph, node.inputs[0], ("int8",))
    q2 = _per_tensor_quant(node, graph, node.inputs[1], ("int8",))
    q_out = _per_tensor_quant(node, graph, node.outputs[0], ("int8", "int16"))
    out_dtype = graph.tensors[node.outputs[0]].dtype
    if out_dtype == "int16" and int(q_out.zero_point[0]) != 0:
        raise QuantizationError(
            f"{_where(node)}: int16 output '{node.outputs[0]}' has zero point "
            f"{int(q_out.zero_point[0])}, but int16 activations must be symmetric (zero "
            "point 0)"
        )
    if depth > MAX_MATMUL_DEPTH:
        raise UnsupportedAttributeError(
            f"{_where(node)}: depth {depth} can overflow the int32 accumulator "
            f"(depth * 255 * 255 must be below 2**31, so at most {MAX_MATMUL_DEPTH}). Split "
            "the product along its depth"
        )

    zero_point1, zero_point2 = int(q1.zero_point[0]), int(q2.zero_point[0])
    largest_sum = (
        depth * largest_centered_value(zero_point1) * largest_centered_value(zero_point2)
    )
    real = _matmul_alpha(node) * float(q1.scale[0]) * float(q2.scale[0]) / float(q_out.scale[0])
    multiplier, shift = _requantization(node, real, largest_sum)
    values = {
        "input1_offset": -zero_point1,
        "input2_offset": -zero_point2,
        "output_offset": int(q_out.zero_point[0]),
        "output_multiplier": multiplier,
        "output_shift": shift,
        "activation_min": QMIN[out_dtype],
        "activation_max": QMAX[out_dtype],
    }
    return KernelParams(values)


# --- gather --------------------------------------------------------------------------------


@params_for("gather")
def _gather_params(node: Node, graph: Graph) -> KernelParams:
    """Check a gather of rows of a constant int8 table and return the table and index sizes."""
    table = graph.tensors[node.inputs[0]]
    indices = graph.tensors[node.inputs[1]]
    output = graph.tensors[node.outputs[0]]
    if not table.is_constant or table.dtype != "int8" or len(table.shape) != 2:
        kind = "constant" if table.is_constant else "activation"
        raise UnsupportedAttributeError(
            f"{_where(node)}: table '{table.name}' is a {len(table.shape)}-D {table.dtype} "
            f"{kind}, but the kernel takes a 2-D int8 constant (rows, row size)"
        )
    if indices.dtype != "int32":
        raise UnsupportedAttributeError(
            f"{_where(node)}: indices '{indices.name}' are {indices.dtype}, expected int32"
        )
    expected = indices.shape + table.shape[1:]
    if output.shape != expected or output.dtype != "int8":
        raise UnsupportedAttributeError(
            f"{_where(node)}: output '{output.name}' is {output.dtype} {output.shape}, "
            f"expected int8 {expected}"
        )
    q_table = _per_tensor_quant(node, graph, table.name, ("int8",))
    if not q_table.same_as(output.quant):
        raise QuantizationError(
            f"{_where(node)}: output '{output.name}' has a different quantization than the "
            f"table (scale {q_table.scale[0]:g}, zero point {int(q_table.zero_point[0])}). A "
            "gather copies rows, so give the output the table's scale and zero point"
        )
    values = {"table_rows": table.shape[0], "row_size": table.shape[1], "count": indices.size}
    return KernelParams(values)


# --- masked_mean ---------------------------------------------------------------------------


def masked_mean_dims(node: Node, graph: Graph) -> tuple[int, int, int]:
    """Return ``(batches, rows, channels)`` of a masked_mean node, checking its shapes.

    input is (batches, rows, channels), the mask (batches, rows) and the output
    (batches, channels).
    """
    x = graph.tensors[node.inputs[0]]
    mask = graph.tensors[node.inputs[1]]
    output = graph.tensors[node.outputs[0]]
    if len(x.shape) != 3:
        raise UnsupportedAttributeError(
            f"{_where(node)}: input '{x.name}' has shape {x.shape}, expected "
            "(batch, rows, channels)"
        )
    batches, rows, channels = x.shape
    if mask.dtype != "int32" or mask.shape != (batches, rows):
        raise UnsupportedAttributeError(
            f"{_where(node)}: mask '{mask.name}' is {mask.dtype} {mask.shape}, expected "
            f"int32 {(batches, rows)}"
        )
    if output.shape != (batches, channels):
        raise UnsupportedAttributeError(
            f"{_where(node)}: output '{output.name}' has shape {output.shape}, expected "
            f"{(batches, channels)}"
        )
    return batches, rows, channels


@params_for("masked_mean")
def _masked_mean_params(node: Node, graph: Graph) -> KernelParams:
    """Return the offsets, the rescale ``s_in / s_out`` and the clamp range of a masked mean."""
    _, rows, _ = masked_mean_dims(node, graph)
    q_in = _per_tensor_quant(node, graph, node.inputs[0], ("int8",))
    q_out = _per_tensor_quant(node, graph, node.outputs[0], ("int8",))
    if rows > MAX_MEAN_ROWS:
        raise UnsupportedAttributeError(
            f"{_where(node)}: {rows} rows can overflow the int32 sum (at most "
            f"{MAX_MEAN_ROWS}). Split the mean"
        )
    zero_point = int(q_in.zero_point[0])
    largest_sum = rows * largest_centered_value(zero_point)
    real = float(q_in.scale[0]) / float(q_out.scale[0])
    multiplier, shift = _requantization(node, real, largest_sum)
    values = {
        "input_offset": -zero_point,
        "output_offset": int(q_out.zero_point[0]),
        "output_multiplier": multiplier,
        "output_shift": shift,
        "activation_min": QMIN["int8"],
        "activation_max": QMAX["int8"],
    }
    return KernelParams(values)
