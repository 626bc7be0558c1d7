"""Reference interpreter: executes an edgec IR graph with numpy.

For quantized graphs it is the golden model: every C kernel on every target must match it bit
for bit. For float graphs (ONNX before quantization) it is the float model used for
calibration and accuracy checks.

Kernels are looked up in two registries keyed by op name: ``FLOAT_KERNELS`` (float32
tensors, ``edgec.reference.float_ops``) and ``INT_KERNELS`` (quantized tensors,
``edgec.reference.int_ops``). A kernel has the signature
``kernel(node, inputs, graph) -> list[np.ndarray]`` where ``inputs`` contains one array per
node input (``None`` for an empty optional input), each with exactly the shape of its graph
tensor: the interpreter runs one sample at a time (``run_samples`` loops over a batch). To add
an op, register one function in each registry.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edgec.ir import Graph, Node

Kernel = Callable[[Node, list, Graph], list]
FLOAT_KERNELS: dict[str, Kernel] = {}
INT_KERNELS: dict[str, Kernel] = {}


def register(registry: dict[str, Kernel], *ops: str) -> Callable[[Kernel], Kernel]:
    """Decorator: register ``fn`` as the kernel of ``ops`` in ``registry``."""

    def wrap(fn: Kernel) -> Kernel:
        for op in ops:
            registry[op] = fn
        return fn

    return wrap


def _is_float_node(node: Node, graph: Graph) -> bool:
    """A node runs in float when its main output is float32 and was never quantized."""
    out = graph.tensors[node.outputs[0]]
    first = graph.tensors[node.inputs[0]] if node.inputs and node.inputs[0] else None
    if node.op == "dequantize":
        return False
    if node.op == "quantize":
        return False
    return out.dtype == "float32" and (first is None or first.dtype == "float32")


def _load_kernels() -> None:
    # Imported for their registration side effects.
    import edgec.reference.float_ops
    import edgec.reference.int_attention
    import edgec.reference.int_matmul
    import edgec.reference.int_norm
    import edgec.reference.int_ops  # noqa: F401


def run(
    graph: Graph, feeds: dict[str, np.ndarray], keep_all: bool = False
) -> dict[str, np.ndarray]:
    """Run ``graph`` on ``feeds`` (graph input name -> array with a leading batch axis).

    Returns the graph outputs, or every computed tensor when ``keep_all`` is true.
    """
    _load_kernels()
    values: dict[str, np.ndarray] = {}
    for name in graph.inputs:
        tensor = graph.tensors[name]
        value = np.asarray(feeds[name]).reshape(tensor.shape)
        if tensor.dtype == "int32":
            value = value.astype(np.int32)  # token ids and masks arrive as int64
        values[name] = value
    for name, tensor in graph.tensors.items():
        if tensor.is_constant:
            values[name] = tensor.data
    from edgec.quantize.fixed_point import requantize_rounding

    with requantize_rounding(graph.requantize_rounding):
        for node in graph.nodes:
            _run_node(node, graph, values)
    if keep_all:
        return values
    return {name: values[name] for name in graph.outputs}


def _run_node(node, graph: Graph, values: dict[str, np.ndarray]) -> None:
    registry = FLOAT_KERNELS if _is_float_node(node, graph) else INT_KERNELS
    kernel = registry.get(node.op)
    if kernel is None:
        kind = "float" if registry is FLOAT_KERNELS else "quantized"
        raise NotImplementedError(f"node '{node.name}': no {kind} reference kernel for '{node.op}'")
    args = [values[i] if i else None for i in node.inputs]
    results = kernel(node, args, graph)
    for name, value in zip(node.outputs, results):
        values[name] = value


def run_samples(
    graph: Graph, feeds: dict[str, np.ndarray], keep: list[str] | None = None
) -> dict[str, np.ndarray]:
    """Run every sample of ``feeds`` (arrays with a leading sample axis) through ``graph``.

    Returns the graph outputs (or the tensors named in ``keep``) stacked along a new leading
    sample axis, so an output of shape ``(1, 10)`` comes back as ``(N, 1, 10)``.
    """
    count = len(next(iter(feeds.values())))
    names = list(dict.fromkeys(keep if keep is not None else graph.outputs))
    collected: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for i in range(count):
        sample = {name: feeds[name][i] for name in graph.inputs}
        values = run(graph, sample, keep_all=keep is not None)
        for name in names:
            collected[name].append(values[name])
    return {name: np.stack(arrays) for name, arrays in collected.items()}
