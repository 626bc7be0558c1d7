"""One-node graphs of batch_matmul, gather and masked_mean, and data for them.

``tests.kernels.matmul_cases`` describes each scenario (shapes, scales, zero points, masks)
and calls these helpers, which build the quantized IR graph and its feeds with
``tests.kernels.graphs.GraphBuilder`` and return the kernel case.
"""

from __future__ import annotations

import math

import numpy as np

from tests.kernels.bench import KernelCase
from tests.kernels.graphs import GraphBuilder, per_tensor, random_int8

# Output steps that one standard deviation of the product covers, per output dtype: the
# int8 outputs then use most of their range, and the int16 ones keep a fine resolution.
SPREAD_STEPS = {"int8": 40.0, "int16": 4000.0}


def softmax_probabilities(rng: np.random.Generator, shape, sharpness: float = 3.0) -> np.ndarray:
    """Random softmax rows quantized as an int8 softmax output: scale 1/256, zero point -128."""
    logits = rng.standard_normal(shape) * sharpness
    exps = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probabilities = exps / exps.sum(axis=-1, keepdims=True)
    return np.clip(np.round(probabilities * 256) - 128, -128, 127).astype(np.int8)


def spread_matmul_scale(a: np.ndarray, b: np.ndarray, quant1, quant2, alpha: float,
                        dtype: str) -> float:
    """An output scale that puts the products of ``a`` and ``b`` at about ``SPREAD_STEPS``
    steps per standard deviation."""
    centered1 = a.astype(np.float64) - quant1[1]
    centered2 = b.astype(np.float64) - quant2[1]
    real = alpha * quant1[0] * quant2[0] * np.matmul(centered1, centered2)
    spread = float(np.std(real)) or float(np.abs(real).max()) or 1.0
    return spread / SPREAD_STEPS[dtype]


def batch_matmul_case(name: str, rng: np.random.Generator, *, batch=(), rows: int, depth: int,
                      columns: int, quant1=(0.05, 0), quant2=(0.05, 0), output_quant=None,
                      output_dtype: str = "int8", alpha: float = 1.0, values1=None,
                      values2=None) -> KernelCase:
    """A batch_matmul case: input1 (*batch, rows, depth) times input2 (*batch, depth,
    columns). ``output_quant`` None picks a scale from ``spread_matmul_scale`` with zero
    point 0; ``values1``/``values2`` replace the random int8 inputs."""
    batch = tuple(batch)
    a = random_int8(rng, batch + (rows, depth)) if values1 is None else np.asarray(values1)
    b = random_int8(rng, batch + (depth, columns)) if values2 is None else np.asarray(values2)
    if output_quant is None:
        output_quant = (spread_matmul_scale(a, b, quant1, quant2, alpha, output_dtype), 0)

    builder = GraphBuilder()
    x1 = builder.input("input1", a.astype(np.int8), per_tensor(*quant1))
    x2 = builder.input("input2", b.astype(np.int8), per_tensor(*quant2))
    y = builder.output("output", batch + (rows, columns), per_tensor(*output_quant),
                       dtype=output_dtype)
    return builder.case(name, "batch_matmul", [x1, x2], y, {"alpha": alpha})


def gather_case(name: str, rng: np.random.Generator, *, table_rows: int, row_size: int,
                indices, quant=(0.02, 0), table=None) -> KernelCase:
    """A gather case of int32 ``indices`` into a constant int8 table (table_rows, row_size);
    the output shares the table's quantization."""
    indices = np.asarray(indices, dtype=np.int32)
    values = random_int8(rng, (table_rows, row_size)) if table is None else np.asarray(table)
    builder = GraphBuilder()
    t = builder.constant("table", values.astype(np.int8), "int8", per_tensor(*quant))
    i = builder.input("indices", indices, None, dtype="int32")
    y = builder.output("output", indices.shape + (row_size,), per_tensor(*quant))
    return builder.case(name, "gather", [t, i], y)


def masked_mean_case(name: str, rng: np.random.Generator, *, mask, channels: int,
                     input_quant=(0.05, 0), output_quant=None, values=None) -> KernelCase:
    """A masked_mean case: input (batch, rows, channels) with the int32 ``mask`` of shape
    (batch, rows). ``output_quant`` None keeps the input's scale and zero point."""
    mask = np.asarray(mask, dtype=np.int32)
    batches, rows = mask.shape
    x = random_int8(rng, (batches, rows, channels)) if values is None else np.asarray(values)
    if output_quant is None:
        output_quant = input_quant
    builder = GraphBuilder()
    x_name = builder.input("input", x.astype(np.int8), per_tensor(*input_quant))
    m_name = builder.input("mask", mask, None, dtype="int32")
    y = builder.output("output", (batches, channels), per_tensor(*output_quant))
    return builder.case(name, "masked_mean", [x_name, m_name], y)


def inverse_sqrt(value: float) -> float:
    """1 / sqrt(value) as a float32, the way an attention scale reaches the IR."""
    return float(np.float32(1.0 / math.sqrt(value)))
