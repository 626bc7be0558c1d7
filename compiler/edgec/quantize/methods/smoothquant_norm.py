"""SmoothQuant for the linear layers that read a LayerNorm (transformer blocks).

Where it sits: ``smooth_activations`` calls ``norm_groups`` first and smooths each group
here. The layers of a group are then left out of the producer-layer pairing. AWQ
(``awq.apply_awq``) folds its scales into the same groups with ``fold_factors``.

A group is a layer_norm node L and the fully_connected layers that read its output X (the
query, key and value projections of one attention block read the same X). One factor per
channel serves the whole group: s_j = max|X_j|^alpha / max_B max|W_B_j|^(1 - alpha), with
the maximum over the group's layers B. SmoothQuant (Xiao et al. 2023, arXiv:2211.10438)
smooths the shared input of Q, K and V the same way. The division by s_j goes into L's
gamma and beta, which is exact, because L's output channel j is gamma_j * n_j + beta_j.

Post-LayerNorm encoders (BERT, MiniLM) also add X to the block's output (the residual),
which must keep the unsmoothed values. When another node reads X, the group gets its own
copy of L (``<name>/smoothed``) with the divided gamma and beta, and the other readers keep the
original L. A copy costs one more normalisation of the same input, far less work than the
linear layers it serves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgec.ir import Graph, Node, Tensor
from edgec.quantize.methods.layers import (
    WEIGHTED_LAYERS,
    clamp_factors,
    input_ranges,
    layer_arrays,
    scale_input_channels,
    significant,
    write_layer,
)


@dataclass
class NormGroup:
    """A layer_norm and the fully_connected layers that read its output."""

    norm: Node
    layers: list[Node]

    @property
    def activation(self) -> str:
        return self.norm.outputs[0]


def norm_groups(graph: Graph) -> list[NormGroup]:
    """Return the layer_norm nodes whose output feeds at least one fully_connected layer."""
    groups = []
    for node in graph.nodes:
        if node.op != "layer_norm" or node.outputs[0] in graph.outputs:
            continue
        layers = [reader for reader in graph.consumers(node.outputs[0])
                  if reader.op == "fully_connected" and reader.inputs[0] == node.outputs[0]]
        if layers:
            groups.append(NormGroup(node, layers))
    return groups


def smooth_group(graph: Graph, group: NormGroup, activation_max: np.ndarray,
                 alpha: float) -> str:
    """Rescale the channels between ``group.norm`` and its layers, and return the change line."""
    channels = activation_max.size
    weight_max = np.zeros(channels)
    for layer in group.layers:
        weights, _ = layer_arrays(graph, layer)
        weight_max = np.maximum(weight_max, input_ranges(weights, WEIGHTED_LAYERS[layer.op],
                                                         channels))
    usable = (activation_max > 0) & significant(weight_max)
    names = ", ".join(f"'{layer.name}'" for layer in group.layers)
    if not usable.any():
        return f"skipped '{group.norm.name}' -> {names}: no channel has both ranges"
    factors = np.ones(channels)
    factors[usable] = activation_max[usable] ** alpha / weight_max[usable] ** (1.0 - alpha)
    factors, _ = clamp_factors(factors, np.ones(channels))
    copied = fold_factors(graph, group, factors)
    return (f"smoothed '{group.norm.name}' -> {names}: {channels} channels, factors s in "
            f"[{factors.min():.3g}, {factors.max():.3g}]{copied}")


def fold_factors(graph: Graph, group: NormGroup, factors: np.ndarray) -> str:
    """Divide the group's LayerNorm output channels by ``factors`` and multiply the weights
    of its layers by them. Returns a note for the change line when the LayerNorm was
    copied (see the module docstring), else ""."""
    norm = _norm_for_layers(graph, group)
    for index in (1, 2):
        tensor = graph.tensors[norm.inputs[index]]
        tensor.data = (tensor.data.astype(np.float64) / factors).astype(np.float32)
    for layer in group.layers:
        weights, _ = layer_arrays(graph, layer)
        write_layer(graph, layer, scale_input_channels(weights, WEIGHTED_LAYERS[layer.op],
                                                       factors), None)
    if norm is group.norm:
        return ""
    return " (a copy of the LayerNorm, so the residual keeps the original)"


def _norm_for_layers(graph: Graph, group: NormGroup) -> Node:
    """Return the layer_norm whose gamma and beta may change: ``group.norm`` itself when the
    group's layers are its only readers, else a new copy that only they read. Either way
    the node gets gamma and beta tensors of its own."""
    source = group.activation
    others = [n for n in graph.consumers(source) if all(n is not layer for layer in group.layers)]
    norm = group.norm
    if others:
        output = graph.unique_name(f"{source}/smoothed")
        graph.add_tensor(Tensor(output, graph.tensors[source].shape, "float32"))
        norm = Node("layer_norm", f"{group.norm.name}/smoothed", list(group.norm.inputs),
                    [output], dict(group.norm.attrs))
        graph.nodes.insert(graph.nodes.index(group.norm) + 1, norm)
        for layer in group.layers:
            layer.inputs[0] = output
    for index, role in ((1, "gamma"), (2, "beta")):
        original = graph.tensors[norm.inputs[index]]
        name = graph.unique_name(f"{norm.name}/{role}")
        graph.add_tensor(Tensor(name, original.shape, "float32", original.data.copy()))
        norm.inputs[index] = name
    return norm
