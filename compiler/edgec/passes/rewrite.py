"""Small graph-rewriting helpers shared by the passes.

They edit a ``Graph`` in place and keep its invariants: nodes stay in execution order, every
tensor a node names exists, and graph input and output names never change.
"""

from __future__ import annotations

from edgec.ir.graph import Graph, Node


def is_plain_float(graph: Graph, names: list[str]) -> bool:
    """Return whether every named tensor (empty names skipped) is unquantized float32."""
    for name in names:
        if not name:
            continue
        tensor = graph.tensors[name]
        if tensor.dtype != "float32" or tensor.quant is not None:
            return False
    return True


def same_quant(graph: Graph, names: list[str]) -> bool:
    """Return whether the named tensors share one dtype and equal quantization (or none)."""
    tensors = [graph.tensors[name] for name in names]
    first = tensors[0]
    for tensor in tensors[1:]:
        if tensor.dtype != first.dtype:
            return False
        if (tensor.quant is None) != (first.quant is None):
            return False
        if tensor.quant is not None and not tensor.quant.same_as(first.quant):
            return False
    return True


def has_node(graph: Graph, node: Node) -> bool:
    """Return whether ``node`` (this object, not an equal one) is still in the graph."""
    return any(other is node for other in graph.nodes)


def remove_node(graph: Graph, node: Node) -> None:
    graph.nodes = [other for other in graph.nodes if other is not node]


def replace_input(graph: Graph, old: str, new: str) -> None:
    """Make every node that reads ``old`` read ``new`` instead."""
    for node in graph.nodes:
        node.inputs = [new if name == old else name for name in node.inputs]


def remove_passthrough(graph: Graph, node: Node) -> bool:
    """Remove ``node`` whose output equals its first input (same shape, same values).

    Consumers of the output read the input instead. When the output is a graph output, the
    input tensor takes its name, which is possible only if the input is produced by a node.
    Returns whether the node was removed.
    """
    source, target = node.inputs[0], node.outputs[0]
    if graph.tensors[source].shape != graph.tensors[target].shape:
        return False
    if target not in graph.outputs:
        remove_node(graph, node)
        replace_input(graph, target, source)
        del graph.tensors[target]
        return True
    renamable = (
        source not in graph.inputs
        and source not in graph.outputs
        and not graph.tensors[source].is_constant
    )
    if not renamable:
        return False
    remove_node(graph, node)
    for other in graph.nodes:
        other.outputs = [target if name == source else name for name in other.outputs]
    replace_input(graph, source, target)
    del graph.tensors[source]
    return True
