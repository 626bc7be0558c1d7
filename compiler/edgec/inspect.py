"""``edgec inspect``: a readable summary of a model as edgec's frontend imports it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from edgec.frontend import load_model
from edgec.ir import Graph, Tensor


def _describe_tensor(tensor: Tensor) -> str:
    text = f"{tensor.name}: {tensor.dtype} [{', '.join(map(str, tensor.shape))}]"
    if tensor.quant is not None and tensor.quant.scale.size == 1:
        text += f" scale {tensor.quant.scale[0]:g} zero_point {tensor.quant.zero_point[0]}"
    return text


def _boundary_note(graph: Graph, name: str, is_input: bool) -> str:
    """For a float port of a quantized graph, the integer tensor model_invoke uses."""
    tensor = graph.tensors[name]
    if tensor.dtype != "float32":
        return ""
    if is_input:
        nodes = [n for n in graph.consumers(name) if n.op == "quantize"]
        inner = graph.tensors[nodes[0].outputs[0]] if nodes else None
    else:
        node = graph.producer(name)
        inner = graph.tensors[node.inputs[0]] if node is not None and node.op == "dequantize" else None
    if inner is None or inner.quant is None:
        return ""
    return (f" (model_invoke: {inner.dtype} scale {inner.quant.scale[0]:g} "
            f"zero_point {inner.quant.zero_point[0]})")


def describe_graph(graph: Graph) -> str:
    lines = [f"model: {graph.name}", "inputs:"]
    lines += [f"  {_describe_tensor(graph.tensors[n])}{_boundary_note(graph, n, True)}"
              for n in graph.inputs]
    lines.append("outputs:")
    lines += [f"  {_describe_tensor(graph.tensors[n])}{_boundary_note(graph, n, False)}"
              for n in graph.outputs]
    counts = Counter(node.op for node in graph.nodes)
    lines.append(f"operators ({len(graph.nodes)} nodes after import):")
    lines += [f"  {op}: {count}" for op, count in sorted(counts.items())]
    weights = sum(t.nbytes for t in graph.tensors.values() if t.is_constant)
    lines.append(f"constant bytes: {weights}")
    float_ops = [n for n in graph.nodes if n.op not in ("quantize", "dequantize")
                 and graph.tensors[n.outputs[0]].dtype == "float32"]
    lines.append("quantized: " + ("no (compile needs --calibration)" if float_ops else "yes"))
    return "\n".join(lines)


def describe_model(path: Path, layers: bool = False) -> str:
    graph = load_model(path)
    graph.name = path.name
    text = describe_graph(graph)
    return text + "\n" + describe_layers(graph) if layers else text


def describe_layers(graph: Graph) -> str:
    """List every node after import (index, op, name): the names [layers] tables use."""
    lines = ["layers (index, op, name):"]
    lines += [f"  {index:3} {node.op:18} {node.name}" for index, node in enumerate(graph.nodes)]
    return "\n".join(lines)
