"""Integer reference kernels of batch_matmul, gather and masked_mean.

These numpy functions define the integer semantics that the C kernels
(runtime_c/kernels/ref/batch_matmul_s8.c, batch_matmul_s8_s16.c, gather_s8.c,
masked_mean_s8.c) reproduce bit for bit. They read their integers from
``edgec.lower.params_matmul`` and compute in int64. Requantization goes through
``fixed_point.multiply_by_quantized_multiplier``, so it follows the graph's
``requantize_rounding`` ("double" or "single"). Each docstring gives the kernel's maximum
error against its float op (``edgec.reference.float_ops``); tests/reference/
test_matmul_error_bounds.py checks those bounds.
"""

from __future__ import annotations

import numpy as np

from edgec.errors import CalibrationError
from edgec.ir import DTYPES, Graph, Node
from edgec.lower.params import kernel_params
from edgec.quantize import fixed_point as fp
from edgec.reference.interpreter import INT_KERNELS, register


def _output(node: Node, graph: Graph, values: np.ndarray, params) -> np.ndarray:
    """Clamp ``values`` to the activation range and cast them to the output's dtype and shape."""
    out = graph.tensors[node.outputs[0]]
    clamped = np.clip(values, params["activation_min"], params["activation_max"])
    return clamped.astype(DTYPES[out.dtype]).reshape(out.shape)


@register(INT_KERNELS, "batch_matmul")
def batch_matmul(node: Node, inputs: list, graph: Graph) -> list:
    """Compute ``alpha * input1 @ input2`` over the last two axes, for int8 or int16 output.

    ``acc[n, i, j] = sum_k (a[n, i, k] + input1_offset) * (b[n, k, j] + input2_offset)`` is
    exact in int32 (the params keep ``K * 255 * 255 < 2**31``). It is requantized with the Q31
    multiplier of ``alpha * s1 * s2 / s_out``, offset by the output zero point and clamped to
    the output type.

    Error bound, against the exact product of the dequantized inputs clamped to the output's
    representable range: at most 3/4 output step with double rounding (1/2 step for a right
    shift of 0) and 1/2 step with single rounding. The Q31 multiplier adds its relative
    error, 2**-31 times the exact output in steps. Double rounding rounds twice: the
    doubling high multiply by at most 1/2 of 2**-right_shift steps, then the right shift by
    at most 1/2 step.
    """
    params = kernel_params(node, graph)
    a = np.asarray(inputs[0], dtype=np.int64) + params["input1_offset"]
    b = np.asarray(inputs[1], dtype=np.int64) + params["input2_offset"]
    acc = np.matmul(a, b)
    raw = fp.multiply_by_quantized_multiplier(
        acc, params["output_multiplier"], params["output_shift"]
    )
    return [_output(node, graph, raw + params["output_offset"], params)]


@register(INT_KERNELS, "gather")
def gather(node: Node, inputs: list, graph: Graph) -> list:
    """Copy the table rows at ``indices``; output shape (*indices.shape, row size).

    Indices count from 0, and a negative index ``i`` in [-rows, -1] selects row
    ``rows + i``, as ONNX Gather and numpy indexing do. An index outside [-rows, rows) is
    invalid input data (calibration or verification feeds), so it raises CalibrationError
    naming the node and the first such index. The output is exact: it has the table's
    quantization, so its error is the table's own quantization error.
    """
    table, indices = np.asarray(inputs[0]), np.asarray(inputs[1], dtype=np.int64)
    rows = table.shape[0]
    outside = np.flatnonzero((indices < -rows) | (indices >= rows))
    if outside.size:
        position = int(outside[0])
        raise CalibrationError(
            f"node '{node.name}' (gather): index {int(indices.ravel()[position])} at position "
            f"{position} of '{node.inputs[1]}' is outside the table's {rows} rows; indices "
            f"must be in [{-rows}, {rows - 1}], so check the input ids"
        )
    rows_taken = np.where(indices < 0, indices + rows, indices)
    out = graph.tensors[node.outputs[0]]
    return [table[rows_taken].astype(DTYPES[out.dtype]).reshape(out.shape)]


def divide_round_half_away(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Return ``numerator / denominator`` rounded half away from zero (denominator >= 1)."""
    numerator = np.asarray(numerator, dtype=np.int64)
    denominator = np.asarray(denominator, dtype=np.int64)
    magnitude = (np.abs(numerator) + denominator // 2) // denominator
    return np.where(numerator < 0, -magnitude, magnitude)


@register(INT_KERNELS, "masked_mean")
def masked_mean(node: Node, inputs: list, graph: Graph) -> list:
    """Average the rows of a (batch, T, C) input whose mask value is not 0.

    Per batch and channel c, with n the number of rows t whose mask is not 0:

    - ``S_c = sum over those t of (x[t, c] + input_offset)``, exact in int32 (the params keep
      ``T * 255 < 2**31``);
    - ``r = multiply_by_quantized_multiplier(S_c, M, shift)`` with ``M = s_in / s_out``;
    - ``out = clamp(output_offset + round_half_away(r / n))``, and ``output_offset`` when
      n is 0.

    Error bound, against the float masked mean of the dequantized input clamped to the
    output's representable range: at most 7/8 output step with double rounding and 3/4 step
    with single rounding. The Q31 multiplier adds its relative error, 2**-31 times the exact
    mean in steps. ``r`` is off by at most 3/4 step (double) or 1/2 step (single), as in
    batch_matmul. For n = 1 the division is exact, so that is the bound. For n >= 2 the
    division adds 1/2 step and divides the error of ``r`` by n. With n = 0 the float op
    returns 0.0, which the output zero point represents exactly.
    """
    params = kernel_params(node, graph)
    x = np.asarray(inputs[0], dtype=np.int64) + params["input_offset"]
    keep = np.asarray(inputs[1]).reshape(x.shape[0], x.shape[1]) != 0
    count = keep.sum(axis=1, keepdims=True)
    sums = np.where(keep[..., np.newaxis], x, 0).sum(axis=1)
    rescaled = fp.multiply_by_quantized_multiplier(
        sums, params["output_multiplier"], params["output_shift"]
    )
    mean = np.where(count > 0, divide_round_half_away(rescaled, np.maximum(count, 1)), 0)
    return [_output(node, graph, mean + params["output_offset"], params)]
