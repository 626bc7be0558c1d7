"""Fusion of the decomposed transformer subgraphs of an ONNX model into single nodes.

Where it sits: the ONNX frontend runs ``fuse_patterns`` after shape inference and before it
checks which nodes it can convert, so a model that spells LayerNorm or GELU out of primitive
ops converts like one that uses the ONNX ops. Each match replaces its subgraph by one node:

- LayerNorm, ``ReduceMean -> Sub -> Pow 2 -> ReduceMean -> Add eps -> Sqrt -> Div`` over the
  last axis, with an optional ``Mul gamma`` and ``Add beta`` after it: ``LayerNormalization``
  (axis -1, the model's epsilon).
- GELU, ``x * 0.5 * (1 + Erf(x / sqrt 2))`` in either order of the two multiplications:
  ``Gelu``.
- An additive attention mask, ``Softmax(scores + m)`` where ``m`` is a function of one integer
  graph input M of shape (1, K): 0 where M is not 0 and at most -1e4 where it is 0. It
  becomes ``ai.edgec.MaskedSoftmax(scores, M)``.
- Masked mean pooling, ``ReduceSum(h * m, axis 1) / Clip(ReduceSum(m, axis 1), eps)`` with
  ``m`` the float copy of M (1 where M is not 0): ``ai.edgec.MaskedMean(h, M)``.
- L2 normalisation, ``x / Clip(ReduceL2(x, last axis), eps)`` (an Expand of the divisor to
  x's shape is allowed): ``ai.edgec.L2Normalize(x)`` with the model's epsilon.

A mask term is recognised by what it computes, not by its ops: its subgraph is extracted and
run with ``onnx.reference`` on probe masks, so the Shape/Equal/Where/Expand/Cast chain of a
torch export and the ``(1 - mask) * -10000`` of older exports both match. Nodes left without
readers by a fusion are removed. Fused nodes of the ``ai.edgec`` domain exist only between
this module and the converters (``onnx_transformer_ops``).

To add a pattern: write a ``_match_*`` function that returns a ``Fusion`` or None and add it
to ``MATCHERS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

EDGEC_DOMAIN = "ai.edgec"
# An additive mask term at or below this value removes a position from a softmax.
MASKED_LOGIT = -1e4


@dataclass
class Fusion:
    """One match: the node that replaces it and the nodes it makes unnecessary."""

    node: onnx.NodeProto
    anchor: onnx.NodeProto  # the new node goes where this node was
    replaced: list[onnx.NodeProto] = field(default_factory=list)


class GraphIndex:
    """Producers, readers and constant values of an ONNX graph, for pattern matching."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        graph = model.graph
        self.producer = {out: node for node in graph.node for out in node.output}
        self.readers: dict[str, list[onnx.NodeProto]] = {}
        for node in graph.node:
            for name in node.input:
                self.readers.setdefault(name, []).append(node)
        for value in graph.output:
            self.readers.setdefault(value.name, []).append(None)
        self.constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
        for node in graph.node:
            if node.op_type == "Constant" and node.attribute[0].name == "value":
                self.constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        self.inputs = {value.name: value for value in graph.input if value.name not in
                       self.constants}
        self.ranks = _value_ranks(model)

    def op(self, name: str, *op_types: str) -> onnx.NodeProto | None:
        """Return the producer of ``name`` if it is one of ``op_types``."""
        node = self.producer.get(name)
        return node if node is not None and node.op_type in op_types else None

    def scalar(self, name: str) -> float | None:
        value = self.constants.get(name)
        if value is None or value.size != 1:
            return None
        return float(value.reshape(()))

    def only_reader(self, name: str) -> onnx.NodeProto | None:
        readers = self.readers.get(name, [])
        return readers[0] if len(readers) == 1 else None

    def last_axis(self, node: onnx.NodeProto) -> bool:
        """Return whether a reduction ``node`` reduces exactly the last axis of its input."""
        axes = _reduce_axes(node, self)
        rank = self.ranks.get(node.input[0])
        return axes is not None and rank is not None and [a % rank for a in axes] == [rank - 1]

    def sources(self, name: str) -> set[str]:
        """Return the non-constant graph inputs that value ``name`` depends on."""
        found, seen, stack = set(), set(), [name]
        while stack:
            value = stack.pop()
            if value in seen or not value or value in self.constants:
                continue
            seen.add(value)
            if value in self.inputs:
                found.add(value)
            elif value in self.producer:
                stack.extend(self.producer[value].input)
        return found


def _value_ranks(model: onnx.ModelProto) -> dict[str, int]:
    ranks = {}
    graph = model.graph
    for value in list(graph.input) + list(graph.value_info) + list(graph.output):
        if value.type.tensor_type.HasField("shape"):
            ranks[value.name] = len(value.type.tensor_type.shape.dim)
    for init in graph.initializer:
        ranks[init.name] = len(init.dims)
    return ranks


def _reduce_axes(node: onnx.NodeProto, index: GraphIndex) -> list[int] | None:
    for attribute in node.attribute:
        if attribute.name == "axes":
            return list(attribute.ints)
    if len(node.input) > 1 and node.input[1] in index.constants:
        return [int(a) for a in index.constants[node.input[1]].reshape(-1)]
    return None


def _keepdims(node: onnx.NodeProto) -> int:
    for attribute in node.attribute:
        if attribute.name == "keepdims":
            return int(attribute.i)
    return 1


def _other(node: onnx.NodeProto, name: str) -> str:
    """Return the input of a two-input ``node`` that is not ``name``."""
    return node.input[1] if node.input[0] == name else node.input[0]


def _close(value: float | None, target: float, tolerance: float = 1e-3) -> bool:
    return value is not None and abs(value - target) <= tolerance * abs(target)


# LayerNorm -----------------------------------------------------------------------------------


def _match_layer_norm(node: onnx.NodeProto, index: GraphIndex) -> Fusion | None:
    """Match at the Div of a decomposed LayerNorm (see the module docstring)."""
    if node.op_type != "Div":
        return None
    sub = index.op(node.input[0], "Sub")
    sqrt = index.op(node.input[1], "Sqrt")
    if sub is None or sqrt is None:
        return None

    mean = index.op(sub.input[1], "ReduceMean")
    add_eps = index.op(sqrt.input[0], "Add")
    if mean is None or add_eps is None or mean.input[0] != sub.input[0]:
        return None
    variance = index.op(add_eps.input[0], "ReduceMean") or index.op(add_eps.input[1], "ReduceMean")
    if variance is None:
        return None
    epsilon = index.scalar(_other(add_eps, variance.output[0]))
    square = index.op(variance.input[0], "Pow")
    if epsilon is None or square is None or square.input[0] != sub.output[0]:
        return None
    if index.scalar(square.input[1]) != 2.0 or not (index.last_axis(mean) and
                                                     index.last_axis(variance)):
        return None

    x = sub.input[0]
    replaced = [mean, sub, square, variance, add_eps, sqrt, node]
    gamma, beta, out, last = _affine_tail(node.output[0], index, replaced)
    width = _last_dim(index, x)
    if width is None:
        return None
    gamma = gamma if gamma is not None else np.ones(width, np.float32)
    beta = beta if beta is not None else np.zeros(width, np.float32)
    if gamma.size != width or beta.size != width:
        return None

    names = _add_constants(index, last.name or out, {"gamma": gamma, "beta": beta})
    fused = helper.make_node("LayerNormalization", [x, names["gamma"], names["beta"]], [out],
                             name=(last.name or out) + "/fused", axis=-1, epsilon=epsilon)
    return Fusion(fused, last, replaced)


def _affine_tail(name: str, index: GraphIndex, replaced: list):
    """Follow an optional ``Mul`` by a constant and ``Add`` of a constant after ``name``.

    Returns (gamma or None, beta or None, output name, last node) and appends the nodes it
    takes to ``replaced``.
    """
    gamma = beta = None
    last = replaced[-1]
    reader = index.only_reader(name)
    if reader is not None and reader.op_type == "Mul":
        value = index.constants.get(_other(reader, name))
        if value is not None:
            gamma, name, last = value.reshape(-1).astype(np.float32), reader.output[0], reader
            replaced.append(reader)
            reader = index.only_reader(name)
    if reader is not None and reader.op_type == "Add":
        value = index.constants.get(_other(reader, name))
        if value is not None:
            beta, name, last = value.reshape(-1).astype(np.float32), reader.output[0], reader
            replaced.append(reader)
    return gamma, beta, name, last


def _last_dim(index: GraphIndex, name: str) -> int | None:
    for value in list(index.model.graph.value_info) + list(index.model.graph.input):
        if value.name == name:
            dims = value.type.tensor_type.shape.dim
            return int(dims[-1].dim_value) if dims and dims[-1].dim_value > 0 else None
    return None


def _add_constants(index: GraphIndex, base: str, arrays: dict[str, np.ndarray]) -> dict[str, str]:
    names = {}
    existing = {init.name for init in index.model.graph.initializer}
    for key, array in arrays.items():
        name = f"{base}/{key}"
        while name in existing:
            name += "_"
        index.model.graph.initializer.append(numpy_helper.from_array(array, name))
        index.constants[name] = array
        names[key] = name
    return names


# GELU ----------------------------------------------------------------------------------------


def _match_gelu(node: onnx.NodeProto, index: GraphIndex) -> Fusion | None:
    """Match at the Erf of ``x * 0.5 * (1 + Erf(x / sqrt 2))``."""
    if node.op_type != "Erf":
        return None
    scale = index.op(node.input[0], "Div", "Mul")
    if scale is None:
        return None
    x = scale.input[0]
    factor = index.scalar(scale.input[1])
    expected = np.sqrt(2.0) if scale.op_type == "Div" else 1 / np.sqrt(2.0)
    plus_one = index.only_reader(node.output[0])
    if not _close(factor, expected) or plus_one is None or plus_one.op_type != "Add":
        return None
    if index.scalar(_other(plus_one, node.output[0])) != 1.0:
        return None

    product = index.only_reader(plus_one.output[0])
    if product is None or product.op_type != "Mul":
        return None
    partner = _other(product, plus_one.output[0])
    replaced = [scale, node, plus_one, product]

    if partner == x:
        half = index.only_reader(product.output[0])
        if half is None or half.op_type != "Mul" or not _close(
                index.scalar(_other(half, product.output[0])), 0.5):
            return None
        replaced.append(half)
        last = half
    else:
        half = index.op(partner, "Mul")
        if half is None or x not in half.input or not _close(index.scalar(_other(half, x)), 0.5):
            return None
        replaced.append(half)
        last = product

    fused = helper.make_node("Gelu", [x], [last.output[0]], name=(last.name or x) + "/fused")
    return Fusion(fused, last, replaced)


# Masks ---------------------------------------------------------------------------------------


class MaskProbe:
    """Evaluator of mask-derived values on probe masks: it runs their extracted subgraph."""

    def __init__(self, index: GraphIndex) -> None:
        self.index = index
        self._cache: dict[tuple[str, str], list | None] = {}

    def probes(self, mask: str) -> list[np.ndarray]:
        value = self.index.inputs[mask]
        dims = [d.dim_value for d in value.type.tensor_type.shape.dim]
        length = dims[-1]
        rng = np.random.default_rng(0)
        rows = [np.ones(length), np.zeros(length), (np.arange(length) < 1),
                (np.arange(length) < length // 2 + 1), rng.integers(0, 2, length)]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
        return [np.asarray(row).reshape(dims).astype(dtype) for row in rows]

    def evaluate(self, mask: str, name: str) -> list[np.ndarray] | None:
        """Return ``name`` computed for each probe mask, or None when it cannot be run."""
        key = (mask, name)
        if key not in self._cache:
            self._cache[key] = self._run(mask, name)
        return self._cache[key]

    def _run(self, mask: str, name: str) -> list[np.ndarray] | None:
        try:
            extracted = onnx.utils.Extractor(self.index.model).extract_model([mask], [name])
            session = ReferenceEvaluator(extracted)
            return [np.asarray(session.run(None, {mask: probe})[0]) for probe in self.probes(mask)]
        except Exception:  # noqa: BLE001 - any failure means "not a mask term"
            return None


def _mask_source(index: GraphIndex, name: str) -> str | None:
    """Return the one integer graph input of shape (1, K) that ``name`` depends on, if any."""
    sources = index.sources(name)
    if len(sources) != 1:
        return None
    (mask,) = sources
    tensor_type = index.inputs[mask].type.tensor_type
    dims = [d.dim_value for d in tensor_type.shape.dim]
    integer = tensor_type.elem_type in (onnx.TensorProto.INT64, onnx.TensorProto.INT32,
                                        onnx.TensorProto.BOOL)
    return mask if integer and len(dims) == 2 and dims[0] == 1 else None


def _is_key_mask_term(values: list[np.ndarray], probes: list[np.ndarray]) -> bool:
    """Check that each value is 0 where the probe mask is set and at most MASKED_LOGIT
    elsewhere, broadcast along the last axis."""
    for value, probe in zip(values, probes):
        keep = probe.reshape(-1) != 0
        if value.shape[-1] != keep.size:
            return False
        if np.any(value[..., keep] != 0) or np.any(value[..., ~keep] > MASKED_LOGIT):
            return False
    return True


def _match_masked_softmax(node: onnx.NodeProto, index: GraphIndex,
                          probe: MaskProbe) -> Fusion | None:
    if node.op_type != "Softmax" or not _softmax_over_last(node, index):
        return None
    add = index.op(node.input[0], "Add")
    if add is None or index.only_reader(add.output[0]) is None:
        return None
    for term, scores in ((add.input[1], add.input[0]), (add.input[0], add.input[1])):
        mask = _mask_source(index, term)
        if mask is None:
            continue
        values = probe.evaluate(mask, term)
        if values is not None and _is_key_mask_term(values, probe.probes(mask)):
            fused = helper.make_node("MaskedSoftmax", [scores, mask], [node.output[0]],
                                     name=(node.name or node.output[0]) + "/fused",
                                     domain=EDGEC_DOMAIN)
            return Fusion(fused, node, [add, node])
    return None


def _softmax_over_last(node: onnx.NodeProto, index: GraphIndex) -> bool:
    axis = next((a.i for a in node.attribute if a.name == "axis"), -1)
    rank = index.ranks.get(node.input[0])
    return rank is not None and axis % rank == rank - 1


def _is_float_mask(values: list[np.ndarray], probes: list[np.ndarray]) -> bool:
    """Check that each value is the probe mask as 0/1 floats of shape (1, K, 1)."""
    return all(
        value.shape == (1, probe.size, 1)
        and np.array_equal(value.reshape(-1), (probe.reshape(-1) != 0).astype(value.dtype))
        for value, probe in zip(values, probes)
    )


def _match_masked_mean(node: onnx.NodeProto, index: GraphIndex,
                       probe: MaskProbe) -> Fusion | None:
    """Match at the Div of masked mean pooling over axis 1 (see the module docstring)."""
    if node.op_type != "Div":
        return None
    total = index.op(node.input[0], "ReduceSum")
    clip = index.op(node.input[1], "Clip", "Max")
    if total is None or clip is None or _reduce_axes(total, index) != [1]:
        return None
    count = index.op(clip.input[0], "ReduceSum")
    product = index.op(total.input[0], "Mul")
    if count is None or product is None or _reduce_axes(count, index) != [1]:
        return None
    weights = count.input[0]
    if weights not in product.input or _keepdims(total) or _keepdims(count):
        return None
    hidden = _other(product, weights)
    mask = _mask_source(index, weights)
    if mask is None:
        return None
    values = probe.evaluate(mask, weights)
    if values is None or not _is_float_mask(values, probe.probes(mask)):
        return None
    fused = helper.make_node("MaskedMean", [hidden, mask], [node.output[0]],
                             name=(node.name or node.output[0]) + "/fused", domain=EDGEC_DOMAIN)
    return Fusion(fused, node, [product, total, count, clip, node])


# L2 normalisation ----------------------------------------------------------------------------


def _match_l2_normalize(node: onnx.NodeProto, index: GraphIndex) -> Fusion | None:
    if node.op_type != "Div":
        return None
    divisor = index.op(node.input[1], "Expand")
    replaced = []
    if divisor is not None:
        replaced.append(divisor)
        name = divisor.input[0]
    else:
        name = node.input[1]
    clip = index.op(name, "Clip", "Max")
    if clip is None:
        return None
    norm = index.op(clip.input[0], "ReduceL2")
    epsilon = index.scalar(clip.input[1]) if len(clip.input) > 1 else None
    if norm is None or norm.input[0] != node.input[0] or epsilon is None:
        return None
    if not index.last_axis(norm) or not _keepdims(norm):
        return None
    fused = helper.make_node("L2Normalize", [node.input[0]], [node.output[0]],
                             name=(node.name or node.output[0]) + "/fused", domain=EDGEC_DOMAIN,
                             epsilon=epsilon)
    return Fusion(fused, node, [norm, clip, *replaced, node])


MATCHERS: list[Callable] = [_match_layer_norm, _match_gelu, _match_l2_normalize]
MASK_MATCHERS: list[Callable] = [_match_masked_softmax, _match_masked_mean]


def fuse_patterns(model: onnx.ModelProto) -> tuple[onnx.ModelProto, dict[str, int]]:
    """Return a copy of ``model`` with the patterns fused, and the count of each fused op."""
    model = _copy(model)
    index = GraphIndex(model)
    probe = MaskProbe(index)
    fusions = []
    claimed: set[int] = set()
    for node in list(model.graph.node):
        for match in MATCHERS + MASK_MATCHERS:
            fusion = match(node, index, probe) if match in MASK_MATCHERS else match(node, index)
            if fusion is not None and not claimed & {id(n) for n in fusion.replaced}:
                fusions.append(fusion)
                claimed.update(id(n) for n in fusion.replaced)
                break
    counts: dict[str, int] = {}
    for fusion in fusions:
        counts[fusion.node.op_type] = counts.get(fusion.node.op_type, 0) + 1
    if fusions:
        _rewrite(model, fusions)
    return model, counts


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    copied = onnx.ModelProto()
    copied.CopyFrom(model)
    return copied


def _rewrite(model: onnx.ModelProto, fusions: list[Fusion]) -> None:
    """Put each fused node where its anchor was, and drop the replaced nodes and then every
    node whose outputs no node or graph output reads."""
    anchors = {id(f.anchor): f.node for f in fusions}
    dropped = {id(n) for f in fusions for n in f.replaced}
    nodes = []
    for node in model.graph.node:
        if id(node) in anchors:
            nodes.append(anchors[id(node)])
        elif id(node) not in dropped:
            nodes.append(node)
    nodes = _without_dead_nodes(nodes, {value.name for value in model.graph.output})
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    if any(f.node.domain == EDGEC_DOMAIN for f in fusions) and not any(
            o.domain == EDGEC_DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(EDGEC_DOMAIN, 1))


def _without_dead_nodes(nodes: list, outputs: set[str]) -> list:
    needed = set(outputs)
    live = []
    for node in reversed(nodes):
        if any(out in needed for out in node.output):
            live.append(node)
            needed.update(name for name in node.input if name)
    return list(reversed(live))
