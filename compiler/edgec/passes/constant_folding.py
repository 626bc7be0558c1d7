"""Constant folding: evaluate every float node whose inputs are all constants.

Stages: walk the nodes in execution order. A node whose non-empty inputs are all float32
constants, and that has a float reference kernel (``edgec.reference.float_ops``), runs once
through that kernel. Its outputs become constant tensors and the node is removed. Because
nodes are visited in order, whole constant chains fold in one walk.

Left to other passes: the inputs that are no longer used are dropped by dead-node removal.
Quantized nodes are never folded, so integer semantics stay with the quantizer.
"""

from __future__ import annotations

import edgec.reference.float_ops  # noqa: F401  (registers FLOAT_KERNELS)
from edgec.ir.graph import Graph, Tensor
from edgec.passes.rewrite import is_plain_float, remove_node
from edgec.reference.interpreter import FLOAT_KERNELS


def fold_constants(graph: Graph) -> Graph:
    for node in list(graph.nodes):
        inputs = [name for name in node.inputs if name]
        kernel = FLOAT_KERNELS.get(node.op)
        if kernel is None or not is_plain_float(graph, inputs + node.outputs):
            continue
        if not all(graph.tensors[name].is_constant for name in inputs):
            continue
        arguments = [graph.tensors[name].data if name else None for name in node.inputs]
        results = kernel(node, arguments, graph)
        for name, value in zip(node.outputs, results):
            shape = graph.tensors[name].shape
            graph.tensors[name] = Tensor(name, shape, "float32", value.reshape(shape))
        remove_node(graph, node)
    return graph
