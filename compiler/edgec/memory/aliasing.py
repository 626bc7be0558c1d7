"""In-place rules: where a kernel may write its output over the bytes of an input.

Each rule receives one node and the graph and returns an ``Alias``: the input whose bytes
the output may reuse and the output's byte offset relative to that input. The planner
applies an alias only when this node is the last reader of that input and of every tensor
sharing its bytes (``edgec.memory.planner``).

Rules, one per op family (add an op by registering it in ``RULES``):

- view (reshape): the output is the input's bytes and no kernel runs. Views never write,
  so the input may stay live after the node.
- elementwise (add, sub, mul, clip, quantize): the reference kernels read element ``i`` of
  each input before they write element ``i`` of the output, and never read it again. So an
  input with the output's shape may be overwritten at offset 0.
- window (conv2d, depthwise_conv2d, average_pool2d, max_pool2d; batch 1): the kernels
  write output pixels in NHWC order, each pixel's channels after reading its input window.
  Output pixel ``p`` may overwrite input bytes that no pixel ``q >= p`` reads any more.
  So the output starts ``-offset`` bytes below the input. ``offset`` is the minimum over
  ``p`` of the lowest input byte read by pixels ``>= p``, minus the end of pixel ``p``'s
  output bytes. It is rounded down to ``ALIGNMENT`` so that every tensor stays aligned,
  which is safe because any lower offset is safe too.

Optimized kernels (other loop orders) must declare their own rule before they may run in
place; until then the planner treats them like the reference kernels they replace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edgec.ir import Graph, Node

ALIGNMENT = 16

VIEW = "view"
IN_PLACE = "in-place"


@dataclass(frozen=True)
class Alias:
    """The output of a node may live at ``offset`` bytes from input ``source``."""

    source: str
    offset: int
    kind: str  # VIEW or IN_PLACE


Rule = Callable[[Node, Graph], "Alias | None"]
RULES: dict[str, Rule] = {}


def rule(*ops: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        for op in ops:
            RULES[op] = fn
        return fn
    return register


def node_alias(node: Node, graph: Graph) -> Alias | None:
    """The alias the node's kernel allows, or None when it must write a separate buffer."""
    fn = RULES.get(node.op)
    if fn is None or len(node.outputs) != 1:
        return None
    return fn(node, graph)


@rule("reshape")
def _view(node: Node, graph: Graph) -> Alias | None:
    return Alias(node.inputs[0], 0, VIEW)


@rule("add", "sub", "mul", "clip", "quantize")
def _elementwise(node: Node, graph: Graph) -> Alias | None:
    out = graph.tensors[node.outputs[0]]
    for name in node.inputs:
        tensor = graph.tensors.get(name) if name else None
        if tensor is None or tensor.is_constant:
            continue
        if tensor.shape == out.shape and tensor.dtype == out.dtype:
            return Alias(name, 0, IN_PLACE)
    return None


@rule("conv2d", "depthwise_conv2d", "average_pool2d", "max_pool2d")
def _window(node: Node, graph: Graph) -> Alias | None:
    source = graph.tensors[node.inputs[0]]
    out = graph.tensors[node.outputs[0]]
    if len(source.shape) != 4 or len(out.shape) != 4 or source.shape[0] != 1:
        return None
    if source.dtype != "int8" or out.dtype != "int8":
        return None
    offset = window_offset(
        source.shape[1:], out.shape[1:], node.attrs.get("strides", (1, 1)),
        node.attrs.get("pads", (0, 0, 0, 0)),
    )
    return Alias(source.name, offset, IN_PLACE)


def window_offset(
    in_hwc: tuple[int, int, int], out_hwc: tuple[int, int, int],
    strides: tuple[int, int], pads: tuple[int, int, int, int],
) -> int:
    """Highest safe byte offset of a window kernel's output relative to its input (<= 0)."""
    in_h, in_w, in_c = in_hwc
    out_h, out_w, out_c = out_hwc
    rows = np.clip(np.arange(out_h) * strides[0] - pads[0], 0, in_h - 1)
    cols = np.clip(np.arange(out_w) * strides[1] - pads[1], 0, in_w - 1)
    lowest = ((rows[:, None] * in_w + cols[None, :]) * in_c).ravel().astype(np.int64)
    # Pixels are written in order, so what pixel p may overwrite is bounded by the lowest
    # byte any later pixel still reads: a suffix minimum.
    still_read = np.minimum.accumulate(lowest[::-1])[::-1]
    written_end = (np.arange(lowest.size, dtype=np.int64) + 1) * out_c
    offset = int(np.min(still_read - written_end))
    return -((-offset + ALIGNMENT - 1) // ALIGNMENT) * ALIGNMENT
