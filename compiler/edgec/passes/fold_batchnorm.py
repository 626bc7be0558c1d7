"""BatchNorm folding: merge a constant per-channel scale and shift into the preceding
conv2d, depthwise_conv2d or fully_connected.

The IR has no batch-norm op: the ONNX frontend writes an inference BatchNormalization as a
``mul`` by a per-channel scale followed by an ``add`` of a per-channel shift. Keras and
tf2onnx exports that keep BatchNorm as explicit Mul and Add (Gemm -> Mul -> Add -> Relu), and
a MatMul followed by a bias Add, have the same form, so one rewrite handles all of them.

Stages, repeated until nothing changes: find a conv2d, depthwise_conv2d or fully_connected
without a fused activation whose output has exactly one reader. Fold that reader when it is
a ``mul``, ``add`` or ``sub`` (output minus constant) whose other operand is a constant with
one value per output channel (shape (), (1,) or (C,) after leading 1s):
- mul by s: filter rows of output channel c times s[c], bias times s;
- add of t (sub: of -t): bias plus t, creating a zero bias when there was none.
The producer then writes the reader's output and takes over its fused activation.

Left to other passes: activations stay standalone clips until activation fusion runs, so
this pass must run first. A scale or shift before a conv is not folded (padding would see
the shift), and neither is a constant shared with another reader: that case gets new
filter and bias tensors instead of changing the shared ones.
"""

from __future__ import annotations

import numpy as np

from edgec.ir.graph import Graph, Node, Tensor
from edgec.passes.rewrite import is_plain_float, remove_node

# Axis of the output channel in each op's filter (OHWI, 1HW(C*M), (O, I)).
_FILTER_CHANNEL_AXIS = {"conv2d": 0, "depthwise_conv2d": 3, "fully_connected": 0}


def fold_batchnorm(graph: Graph) -> Graph:
    changed = True
    while changed:
        changed = False
        for node in list(graph.nodes):
            if node.op in _FILTER_CHANNEL_AXIS and _fold_next_affine(graph, node):
                changed = True
    return graph


def _fold_next_affine(graph: Graph, node: Node) -> bool:
    """Fold the scale or shift that reads ``node``'s output into it; return whether it did."""
    if node.attrs.get("activation") is not None:
        return False
    output = node.outputs[0]
    readers = graph.consumers(output)
    if output in graph.outputs or len(readers) != 1 or readers[0].op not in ("mul", "add", "sub"):
        return False
    reader = readers[0]
    if reader.inputs.count(output) != 1 or (reader.op == "sub" and reader.inputs[0] != output):
        return False
    operand = reader.inputs[1] if reader.inputs[0] == output else reader.inputs[0]
    filter_name = node.inputs[1]
    bias_name = node.inputs[2] if len(node.inputs) > 2 else ""
    names = [operand, filter_name, bias_name, output] + reader.outputs
    if not is_plain_float(graph, names) or not graph.tensors[filter_name].is_constant:
        return False
    if bias_name and not graph.tensors[bias_name].is_constant:
        return False
    out_shape = graph.tensors[output].shape
    if graph.tensors[reader.outputs[0]].shape != out_shape:
        return False
    values = _per_channel_values(graph.tensors[operand], out_shape)
    if values is None:
        return False

    weights = graph.tensors[filter_name].data
    bias = graph.tensors[bias_name].data if bias_name else np.zeros(out_shape[-1], np.float32)
    if reader.op == "mul":
        shape = [1] * weights.ndim
        shape[_FILTER_CHANNEL_AXIS[node.op]] = -1
        weights = weights * values.reshape(shape)
        bias = bias * values
        _set_constant(graph, node, 1, weights, "filter")
        if bias_name:
            _set_constant(graph, node, 2, bias, "bias")
    else:
        bias = bias + values if reader.op == "add" else bias - values
        _set_constant(graph, node, 2, bias, "bias")

    node.outputs[0] = reader.outputs[0]
    node.attrs["activation"] = reader.attrs.get("activation")
    remove_node(graph, reader)
    del graph.tensors[output]
    return True


def _per_channel_values(tensor: Tensor, out_shape: tuple[int, ...]) -> np.ndarray | None:
    """Return the operand as one float32 value per output channel, or None if it is not
    constant along every other axis of the output."""
    if not tensor.is_constant or len(tensor.shape) > len(out_shape):
        return None
    dims = list(tensor.shape)
    while dims and dims[0] == 1:
        dims.pop(0)
    channels = out_shape[-1]
    if dims in ([], [1]):
        return np.full(channels, float(tensor.data.reshape(-1)[0]), np.float32)
    if dims == [channels]:
        return tensor.data.reshape(channels).astype(np.float32)
    return None


def _set_constant(graph: Graph, node: Node, index: int, data: np.ndarray, role: str) -> None:
    """Store ``data`` as input ``index`` of ``node``: in place when no other node reads the
    old tensor, otherwise (or when the input is absent) as a new tensor."""
    data = np.asarray(data, np.float32)
    name = node.inputs[index] if index < len(node.inputs) else ""
    shared = name and sum(n.inputs.count(name) for n in graph.nodes) > 1
    if name and not shared and name not in graph.outputs:
        graph.tensors[name] = Tensor(name, data.shape, "float32", data)
        return
    new_name = graph.unique_name(f"{node.name}/{role}")
    graph.add_tensor(Tensor(new_name, data.shape, "float32", data))
    while len(node.inputs) <= index:
        node.inputs.append("")
    node.inputs[index] = new_name
