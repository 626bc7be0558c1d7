"""Dead-node removal: drop nodes whose outputs reach no graph output, then unused tensors.

Stages: one backward walk from the graph outputs marks the live tensors, and nodes with no
live output are dropped. ``Graph.remove_unused_tensors`` then drops the constants and
activations that no remaining node names. Graph inputs always stay, even when nothing reads
them, because they are part of the model's interface.
"""

from __future__ import annotations

from edgec.ir.graph import Graph


def remove_dead_nodes(graph: Graph) -> Graph:
    live = set(graph.outputs)
    live_nodes = []
    for node in reversed(graph.nodes):
        if any(name in live for name in node.outputs):
            live_nodes.append(node)
            live.update(name for name in node.inputs if name)
    graph.nodes = live_nodes[::-1]
    graph.remove_unused_tensors()
    return graph
