"""Fold constant scalings and constant offsets into the node that produces their input.

Stages:
1. A ``mul`` by a constant scalar whose input is a ``batch_matmul`` read by nothing else
   becomes the matmul's ``alpha`` (the 1/sqrt(d) of attention scores), so the quantized
   graph requantizes once instead of twice.
2. An ``add`` of a constant to the output of another ``add`` of a constant, read by nothing
   else, becomes one add of the summed constant (the token-type and position embeddings of
   a BERT embedding layer).

Both rewrite float graphs only, and neither removes a node that writes a graph output, so
graph outputs keep their names.
"""

from __future__ import annotations

import numpy as np

from edgec.ir.graph import Graph, Node, Tensor
from edgec.passes.rewrite import has_node, is_plain_float, remove_passthrough


def fold_scalars(graph: Graph) -> Graph:
    for node in list(graph.nodes):
        if has_node(graph, node) and node.op == "mul":
            _fold_matmul_scale(graph, node)
        if has_node(graph, node) and node.op == "add":
            _merge_constant_adds(graph, node)
    return graph


def _constant_operand(graph: Graph, node: Node) -> tuple[str, np.ndarray] | None:
    """Return (activation input, constant data) of a two-input node with one constant."""
    first, second = (graph.tensors[name] for name in node.inputs)
    if second.is_constant and not first.is_constant:
        return first.name, second.data
    if first.is_constant and not second.is_constant:
        return second.name, first.data
    return None


def _single_reader_producer(graph: Graph, name: str, op: str) -> Node | None:
    producer = graph.producer(name)
    if producer is None or producer.op != op or name in graph.outputs:
        return None
    return producer if len(graph.consumers(name)) == 1 else None


def _fold_matmul_scale(graph: Graph, node: Node) -> None:
    operand = _constant_operand(graph, node)
    if operand is None or operand[1].size != 1 or node.attrs.get("activation") is not None:
        return
    if node.outputs[0] in graph.outputs:
        return  # the output keeps its node, so that graph outputs keep their names
    source, value = operand
    matmul = _single_reader_producer(graph, source, "batch_matmul")
    if matmul is None or not is_plain_float(graph, [*matmul.inputs, source]):
        return
    if graph.tensors[source].shape != graph.tensors[node.outputs[0]].shape:
        return
    matmul.attrs["alpha"] = float(matmul.attrs.get("alpha", 1.0)) * float(value.reshape(()))
    remove_passthrough(graph, _as_passthrough(node, source))


def _merge_constant_adds(graph: Graph, node: Node) -> None:
    operand = _constant_operand(graph, node)
    if operand is None or node.attrs.get("activation") is not None:
        return
    if node.outputs[0] in graph.outputs:
        return
    source, outer = operand
    inner = _single_reader_producer(graph, source, "add")
    if inner is None or inner.attrs.get("activation") is not None:
        return
    inner_operand = _constant_operand(graph, inner)
    if inner_operand is None or not is_plain_float(graph, [*inner.inputs, *node.inputs]):
        return
    total = np.add(inner_operand[1], outer).astype(np.float32)
    out_shape = graph.tensors[node.outputs[0]].shape
    if np.broadcast_shapes(graph.tensors[inner_operand[0]].shape, total.shape) != out_shape:
        return
    if total.size == int(np.prod(out_shape)):
        total = total.reshape(out_shape)  # same-shape operands suit every add kernel
    name = graph.unique_name(f"{inner.name}/merged_constant")
    graph.add_tensor(Tensor(name, total.shape, "float32", total))
    inner.inputs = [inner_operand[0], name]
    graph.tensors[source] = Tensor(source, out_shape, "float32")
    remove_passthrough(graph, _as_passthrough(node, source))


def _as_passthrough(node: Node, source: str) -> Node:
    """Make ``node`` read only ``source`` so that remove_passthrough can drop it."""
    node.inputs = [source]
    return node
