"""One-node layer_norm and l2_normalize graphs, and the row values their tests sweep.

Inputs are int8 (any zero point) or int16 (zero point 0) per-tensor tensors of shape
(rows, depth) or larger. layer_norm's gamma and beta are float32 constants, as the quantizer
leaves them, and its output is int8 (any zero point) or int16 (zero point 0). Without an
explicit output quantization, a layer_norm output gets the range of the float result on the
dequantized input, so that few outputs saturate. l2_normalize's output always has scale
1/128 and zero point 0.
"""

from __future__ import annotations

import numpy as np

from edgec.ir import Graph, Node
from edgec.reference.float_ops import layer_norm as float_layer_norm
from tests.kernels.graphs import GraphBuilder, per_tensor

INT_LIMITS = {"int8": (-128, 127), "int16": (-32768, 32767)}
NUMPY_TYPES = {"int8": np.int8, "int16": np.int16}


def random_rows(rng: np.random.Generator, shape, dtype: str = "int8") -> np.ndarray:
    low, high = INT_LIMITS[dtype]
    return rng.integers(low, high + 1, size=shape).astype(NUMPY_TYPES[dtype])


def normal_rows(rng: np.random.Generator, shape, spread: float, center: float = 0.0,
                dtype: str = "int8") -> np.ndarray:
    """Rows of rounded normal values (standard deviation ``spread`` steps), clamped."""
    low, high = INT_LIMITS[dtype]
    values = np.rint(rng.normal(center, spread, size=shape))
    return np.clip(values, low, high).astype(NUMPY_TYPES[dtype])


def dequantize(values: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """The real values of ``values``, in float64."""
    return np.float64(np.float32(scale)) * (np.asarray(values, dtype=np.float64) - zero_point)


def float_layer_norm_values(real: np.ndarray, gamma, beta, epsilon: float) -> np.ndarray:
    """edgec's float layer_norm of ``real`` (float32 result, as the float kernel returns)."""
    node = Node("layer_norm", "float", ["x", "gamma", "beta"], ["y"], {"epsilon": epsilon})
    inputs = [real, np.asarray(gamma, np.float32), np.asarray(beta, np.float32)]
    with np.errstate(invalid="ignore", divide="ignore"):
        return float_layer_norm(node, inputs, Graph())[0]


def range_quant(values: np.ndarray, dtype: str = "int8") -> tuple[float, int]:
    """(scale, zero_point) whose range covers ``values`` and 0, ignoring NaN (the float
    result of a constant row with epsilon 0): asymmetric for int8, symmetric with zero
    point 0 for int16."""
    finite = values[np.isfinite(values)]
    low = min(float(finite.min(initial=0.0)), 0.0)
    high = max(float(finite.max(initial=0.0)), 0.0)
    if dtype == "int16":
        return float(np.float32(max(-low, high, 1e-6) / 32767.0)), 0
    scale = max((high - low) / 255.0, 1e-6)
    zero_point = int(np.clip(np.round(-128 - low / scale), -128, 127))
    return float(np.float32(scale)), zero_point


def _layer_norm_builder(values: np.ndarray, *, input_quant, gamma, beta, output_quant=None,
                        epsilon: float = 1e-5, dtype: str = "int8",
                        output_dtype: str = "int8") -> GraphBuilder:
    """Return a builder holding the tensors of a layer_norm graph (the node is added later)."""
    values = np.asarray(values, dtype=NUMPY_TYPES[dtype])
    depth = values.shape[-1]
    gamma = np.broadcast_to(np.asarray(gamma, dtype=np.float32), (depth,)).copy()
    beta = np.broadcast_to(np.asarray(beta, dtype=np.float32), (depth,)).copy()
    if output_quant is None:
        real = dequantize(values, *input_quant)
        output_quant = range_quant(float_layer_norm_values(real, gamma, beta, epsilon),
                                   output_dtype)

    builder = GraphBuilder()
    builder.input("input", values, per_tensor(*input_quant), dtype=dtype)
    builder.constant("gamma", gamma, "float32", None)
    builder.constant("beta", beta, "float32", None)
    builder.output("output", values.shape, per_tensor(*output_quant), dtype=output_dtype)
    return builder


def layer_norm_case(name: str, values: np.ndarray, *, epsilon: float = 1e-5, **kwargs):
    """A layer_norm kernel case over the last axis of ``values``.

    ``kwargs``: ``input_quant`` (scale, zero point), ``gamma`` and ``beta`` (one value or one
    per channel), ``output_quant`` (None: the float result's range), ``dtype`` (input type)
    and ``output_dtype``.
    """
    builder = _layer_norm_builder(values, epsilon=epsilon, **kwargs)
    return builder.case(name, "layer_norm", ["input", "gamma", "beta"], "output",
                        {"epsilon": epsilon})


def layer_norm_graph(values: np.ndarray, *, epsilon: float = 1e-5,
                     **kwargs) -> tuple[Graph, dict[str, np.ndarray]]:
    """The layer_norm graph of ``layer_norm_case`` and its feeds, without a kernel case."""
    builder = _layer_norm_builder(values, epsilon=epsilon, **kwargs)
    builder.graph.nodes.append(Node("layer_norm", "layer_norm", ["input", "gamma", "beta"],
                                    ["output"], {"epsilon": epsilon}))
    return builder.graph, builder.feeds


def _l2_normalize_builder(values: np.ndarray, input_quant) -> GraphBuilder:
    builder = GraphBuilder()
    builder.input("input", np.asarray(values, dtype=np.int8), per_tensor(*input_quant))
    builder.output("output", np.shape(values), per_tensor(1.0 / 128.0, 0))
    return builder


def l2_normalize_case(name: str, values: np.ndarray, *, input_quant, epsilon: float = 1e-12):
    """An l2_normalize kernel case over the last axis of int8 ``values``."""
    builder = _l2_normalize_builder(values, input_quant)
    return builder.case(name, "l2_normalize", ["input"], "output", {"epsilon": epsilon})


def l2_normalize_graph(values: np.ndarray, *, input_quant,
                       epsilon: float = 1e-12) -> tuple[Graph, dict[str, np.ndarray]]:
    """The l2_normalize graph of ``l2_normalize_case`` and its feeds."""
    builder = _l2_normalize_builder(values, input_quant)
    builder.graph.nodes.append(Node("l2_normalize", "l2_normalize", ["input"], ["output"],
                                    {"epsilon": epsilon}))
    return builder.graph, builder.feeds
