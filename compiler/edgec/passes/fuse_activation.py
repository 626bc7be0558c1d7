"""Activation fusion: move a standalone ``clip`` into the op that produces its input.

Stages: for each clip node, find the producer of its input. The producer must have an
``activation`` attribute (conv2d, depthwise_conv2d, fully_connected, add, sub, mul, the
pools, or another clip), and the clip must be the only reader of a value that is not a
graph output. Then the producer's range becomes the intersection of both ranges, and the
producer writes the clip's output directly. Relu arrives here as a clip to [0, inf).

Left alone: a clip after an op without a fused activation (reshape, concat, softmax ...),
a clip whose input has other readers, and a pair of ranges that do not overlap (their
composition is a constant, not a clamp). Only float tensors are rewritten, because in a
quantized graph the clip may change the quantization parameters.
"""

from __future__ import annotations

from edgec.ir.graph import Graph, Node
from edgec.ir.ops import OPS
from edgec.passes.rewrite import is_plain_float, remove_node


def fuse_activations(graph: Graph) -> Graph:
    for node in list(graph.nodes):
        if node.op == "clip":
            _fuse_into_producer(graph, node)
    return graph


def _fuse_into_producer(graph: Graph, clip: Node) -> bool:
    source = clip.inputs[0]
    producer = graph.producer(source)
    if producer is None or "activation" not in OPS[producer.op].attrs:
        return False
    if source in graph.outputs or len(graph.consumers(source)) != 1:
        return False
    if not is_plain_float(graph, [source] + clip.outputs):
        return False
    merged = _intersect(producer.attrs.get("activation"), clip.attrs.get("activation"))
    if merged is not None and merged[0] > merged[1]:
        return False
    producer.attrs["activation"] = merged
    producer.outputs[producer.outputs.index(source)] = clip.outputs[0]
    remove_node(graph, clip)
    del graph.tensors[source]
    return True


def _intersect(first, second):
    if first is None:
        return None if second is None else tuple(second)
    if second is None:
        return tuple(first)
    return (max(first[0], second[0]), min(first[1], second[1]))
