"""Layout clean-up: remove the transposes and reshapes that layout conversion leaves behind.

The ONNX frontend inserts a transpose wherever a consumer needs a value in another layout
(for example back to NCHW before a Flatten). Most of them cancel or are reshapes in disguise.

Stages, repeated until nothing changes:
1. Merge a transpose of a transpose into one transpose with the composed permutation.
2. Drop a transpose whose permutation is the identity.
3. Turn a transpose that moves only size-1 dims into a reshape (same memory order), such as
   NHWC (1, 1, 1, C) to NCHW (1, C, 1, 1) after a global pool.
4. Merge a reshape of a reshape into one reshape.
5. Drop a reshape whose output shape equals its input shape.

Left to other passes: the bypassed first transpose or reshape of a merged pair stays in the
graph while another node reads it, and otherwise dead-node removal drops it. Only tensors
with equal dtype and quantization are rewritten, so quantized graphs keep their parameters.
"""

from __future__ import annotations

from edgec.ir.graph import Graph, Node
from edgec.passes.rewrite import has_node, remove_passthrough, same_quant


def clean_layout(graph: Graph) -> Graph:
    changed = True
    while changed:
        changed = False
        for node in list(graph.nodes):
            rules = _RULES.get(node.op, ())
            if not rules or not has_node(graph, node):
                continue
            if not same_quant(graph, node.inputs[:1] + node.outputs):
                continue
            for rule in rules:
                if rule(graph, node):
                    changed = True
                    break
    return graph


def _compose(first: tuple[int, ...], second: tuple[int, ...]) -> tuple[int, ...]:
    """Permutation equal to transposing by ``first`` and then by ``second``."""
    return tuple(first[axis] for axis in second)


def _merge_transposes(graph: Graph, node: Node) -> bool:
    producer = graph.producer(node.inputs[0])
    if producer is None or producer.op != "transpose":
        return False
    if not same_quant(graph, [producer.inputs[0], node.inputs[0]]):
        return False
    node.attrs["perm"] = _compose(tuple(producer.attrs["perm"]), tuple(node.attrs["perm"]))
    node.inputs[0] = producer.inputs[0]
    return True


def _drop_identity_transpose(graph: Graph, node: Node) -> bool:
    perm = tuple(node.attrs["perm"])
    return perm == tuple(range(len(perm))) and remove_passthrough(graph, node)


def _transpose_to_reshape(graph: Graph, node: Node) -> bool:
    shape = graph.tensors[node.inputs[0]].shape
    moved = [axis for axis in node.attrs["perm"] if shape[axis] != 1]
    if moved != sorted(moved):
        return False
    node.op = "reshape"
    node.attrs = {}
    return True


def _merge_reshapes(graph: Graph, node: Node) -> bool:
    producer = graph.producer(node.inputs[0])
    if producer is None or producer.op != "reshape":
        return False
    if not same_quant(graph, [producer.inputs[0], node.inputs[0]]):
        return False
    node.inputs[0] = producer.inputs[0]
    return True


def _drop_identity_reshape(graph: Graph, node: Node) -> bool:
    return remove_passthrough(graph, node)


_RULES = {
    "transpose": (_merge_transposes, _drop_identity_transpose, _transpose_to_reshape),
    "reshape": (_merge_reshapes, _drop_identity_reshape),
}
