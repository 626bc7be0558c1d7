"""Model boundary: which tensors are the integer inputs and outputs of ``model_invoke``.

A quantized graph may take float inputs (a ``quantize`` node right after the input) and give
float outputs (a ``dequantize`` node right before the output). Those conversions move out of
the integer inference path into the generated float I/O helpers; everything else runs inside
``model_invoke``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgec.errors import UnsupportedOperatorError
from edgec.ir import DTYPES, Graph, Node, Quant


@dataclass
class Port:
    """One model input or output: its I/O tensor and the integer tensor model_invoke uses."""

    name: str  # graph input/output name (the model's own name)
    io_dtype: str  # dtype at the I/O boundary: float32 or an integer type
    tensor: str  # integer tensor inside model_invoke
    shape: tuple[int, ...]
    size: int  # elements
    quant: Quant | None
    dtype: str = "int8"  # dtype of ``tensor`` inside model_invoke
    # Accepted values of a token-id input: the rows of the gather table that reads it.
    value_range: tuple[int, int] | None = None

    @property
    def is_float(self) -> bool:
        return self.io_dtype == "float32"

    @property
    def int_bytes(self) -> int:
        """Bytes of the port inside model_invoke's concatenated input or output buffer."""
        return self.size * np.dtype(DTYPES[self.dtype]).itemsize

    @property
    def io_bytes(self) -> int:
        return self.size * np.dtype(DTYPES[self.io_dtype]).itemsize


@dataclass
class Boundary:
    inputs: list[Port]
    outputs: list[Port]
    core_nodes: list[Node]  # the nodes model_invoke runs, in order


def split_boundary(graph: Graph) -> Boundary:
    """Separate boundary quantize/dequantize nodes from the integer core of ``graph``."""
    removed: set[int] = set()
    inputs = [_input_port(graph, name, removed) for name in graph.inputs]
    outputs = [_output_port(graph, name, removed) for name in graph.outputs]
    core = [node for node in graph.nodes if id(node) not in removed]
    for node in core:
        if node.op in ("quantize", "dequantize") and "float32" in (
            graph.tensors[node.inputs[0]].dtype, graph.tensors[node.outputs[0]].dtype
        ):
            raise UnsupportedOperatorError(
                f"node '{node.name}' ({node.op}): float conversion inside the graph; edgec "
                "supports float only at graph inputs and outputs"
            )
    return Boundary(inputs, outputs, core)


def _input_port(graph: Graph, name: str, removed: set[int]) -> Port:
    tensor = graph.tensors[name]
    if tensor.dtype != "float32":
        return Port(name, tensor.dtype, name, tensor.shape, tensor.size, tensor.quant, tensor.dtype,
                    _index_range(graph, name))
    consumers = graph.consumers(name)
    if len(consumers) != 1 or consumers[0].op != "quantize":
        raise UnsupportedOperatorError(
            f"graph input '{name}' is float32 but is not consumed by exactly one quantize node"
        )
    node = consumers[0]
    removed.add(id(node))
    inner = graph.tensors[node.outputs[0]]
    return Port(name, "float32", inner.name, tensor.shape, tensor.size, inner.quant, inner.dtype)


def _index_range(graph: Graph, name: str) -> tuple[int, int] | None:
    """Return [-V, V - 1] for an input that gather nodes read as indices (V table rows,
    the smallest table if several), else None. Negative ids count from the end, as in ONNX."""
    rows = [graph.tensors[node.inputs[0]].shape[0] for node in graph.consumers(name)
            if node.op == "gather" and node.inputs[1] == name]
    return (-min(rows), min(rows) - 1) if rows else None


def _output_port(graph: Graph, name: str, removed: set[int]) -> Port:
    tensor = graph.tensors[name]
    if tensor.dtype != "float32":
        return Port(name, tensor.dtype, name, tensor.shape, tensor.size, tensor.quant, tensor.dtype)
    node = graph.producer(name)
    if node is None or node.op != "dequantize":
        raise UnsupportedOperatorError(
            f"graph output '{name}' is float32 but is not produced by a dequantize node"
        )
    removed.add(id(node))
    inner = graph.tensors[node.inputs[0]]
    return Port(name, "float32", inner.name, tensor.shape, tensor.size, inner.quant, inner.dtype)
