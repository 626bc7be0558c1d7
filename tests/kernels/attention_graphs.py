"""One-node graphs of the attention kernels: softmax with an int16 input or a mask, and gelu.

The softmax graphs have an int8 or int16 input, an optional int32 mask input of shape
(depth,) or (1, depth) and an int8 output with scale 1/256 and zero point -128. The gelu
graphs have an int8 input (or int16 with zero point 0) and an int8 output with their own
scales and zero points. Expected outputs come from the reference interpreter.

The call builders below are written from runtime_c/include/edgec/kernels_attention.h,
independently of ``edgec.lower.calls_attention``. The masked softmax builder is not
registered for the "softmax" op, whose registered builder (``tests.kernels.calls``) calls
edgec_softmax_s8; ``masked_softmax_case`` uses it directly.
"""

from __future__ import annotations

import numpy as np

from edgec.ir import DTYPES, Node
from edgec.lower.params import kernel_params
from edgec.reference.interpreter import run
from tests.kernels.bench import KernelCase
from tests.kernels.calls import CallParts, builds
from tests.kernels.graphs import GraphBuilder, per_tensor

# The call macro of each softmax input dtype (kernel_calls_attention.c.j2).
MASKED_SOFTMAX_MACROS = {"int8": "softmax_masked_s8", "int16": "softmax_s16_s8"}


def _masked_softmax_call(node, graph, feeds) -> CallParts:
    params = kernel_params(node, graph)
    source = graph.tensors[node.inputs[0]]
    fields = {
        "params": dict(params.values),
        "rows": source.size // source.shape[-1],
        "depth": source.shape[-1],
        "has_mask": len(node.inputs) > 1 and bool(node.inputs[1]),
    }
    arrays = {"input": np.asarray(feeds[node.inputs[0]], dtype=DTYPES[source.dtype])}
    if fields["has_mask"]:
        arrays["mask"] = np.asarray(feeds[node.inputs[1]], dtype=np.int32).ravel()
    return MASKED_SOFTMAX_MACROS[source.dtype], fields, arrays


def masked_softmax_case(name: str, values: np.ndarray, *, scale: float, zero_point: int = 0,
                        dtype: str = "int16", mask=None, mask_shape: str = "row",
                        beta: float = 1.0) -> KernelCase:
    """A softmax case over the last axis of ``values`` calling the masked or int16 kernel.

    ``mask`` None means no mask input, and the kernel gets NULL. Otherwise it is one int32
    value per element of the last axis. It becomes a graph input of shape (1, depth) for
    ``mask_shape`` "row" or (depth,) for "vector".
    """
    values = np.asarray(values, dtype=DTYPES[dtype])
    depth = values.shape[-1]
    builder = GraphBuilder()
    inputs = [builder.input("input", values, per_tensor(scale, zero_point), dtype=dtype)]
    if mask is not None:
        shape = (1, depth) if mask_shape == "row" else (depth,)
        mask_values = np.asarray(mask, dtype=np.int64).astype(np.int32).reshape(shape)
        inputs.append(builder.input("mask", mask_values, None, dtype="int32"))
    output = builder.output("output", values.shape, per_tensor(1 / 256, -128))

    graph = builder.graph
    graph.nodes.append(Node("softmax", name, inputs, [output], {"beta": beta}))
    graph.check()
    expected = run(graph, builder.feeds)[output]
    macro, fields, arrays = _masked_softmax_call(graph.nodes[0], graph, builder.feeds)
    return KernelCase(name, macro, fields, arrays, np.ascontiguousarray(expected).tobytes(),
                      graph=graph, feeds=builder.feeds)


@builds("gelu")
def _gelu_call(node, graph, feeds) -> CallParts:
    params = kernel_params(node, graph)
    source = graph.tensors[node.inputs[0]]
    if source.dtype == "int16":
        fields = {"params": dict(params.values), "size": source.size}
        return "gelu_s16_s8", fields, {"input": np.asarray(feeds[source.name], dtype=np.int16)}
    fields = {"size": source.size, "has_table": True}
    arrays = {
        "input": np.asarray(feeds[node.inputs[0]], dtype=np.int8),
        "table": np.asarray(params.table, dtype=np.int8),
    }
    return "gelu_s8", fields, arrays


def gelu_case(name: str, values: np.ndarray, *, input_quant, output_quant,
              in_place: bool = False, dtype: str = "int8") -> KernelCase:
    """A gelu case on int8 or int16 ``values`` with an int8 output; ``in_place`` (int8
    only) passes the output buffer as the input."""
    builder = GraphBuilder()
    x = builder.input("input", np.asarray(values, dtype=DTYPES[dtype]), per_tensor(*input_quant),
                      dtype=dtype)
    y = builder.output("output", np.shape(values), per_tensor(*output_quant))
    case = builder.case(name, "gelu", [x], y)
    if in_place:
        case.macro = "gelu_s8_in_place"
    return case
