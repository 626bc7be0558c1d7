"""Conversion state of the ONNX frontend: ONNX values, the IR tensors that hold them, layouts.

ONNX activations are NCHW and the edgec IR is NHWC. The frontend does not rewrite layouts
afterwards. Instead it records, for every ONNX activation, which IR tensors hold it and the
permutation each one applies: an IR tensor recorded under ``perm`` contains
``onnx_value.transpose(perm)``. A converter requests a value in the permutation it needs
(``ctx.tensor(name, NHWC)`` for a convolution input). It gets an existing tensor, or a new
transpose node that every later consumer reuses.

A Transpose node of the model therefore emits nothing: its output is the same IR tensor seen
through another permutation. The tf2onnx input transpose (NHWC to NCHW) followed by a Conv,
which requests NHWC, needs no transpose at all.

Constants (initializers, Constant nodes, folded subgraphs) stay numpy arrays in logical ONNX
layout until a node needs them as an IR tensor.

Naming: the first IR tensor of an ONNX value takes the ONNX name, and further forms get a
suffix (``/nhwc``, ``/nchw``, ``/perm...``). A transposed form of a graph output never takes
the ONNX name, which stays free for the tensor in the model's own layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgec.errors import UnsupportedOperatorError
from edgec.ir.graph import Graph, Node, Tensor

NHWC = (0, 2, 3, 1)
"""Permutation that turns an NCHW value into NHWC: ``nchw.transpose(NHWC)`` is NHWC."""


def identity(rank: int) -> tuple[int, ...]:
    return tuple(range(rank))


def inverse(perm: tuple[int, ...]) -> tuple[int, ...]:
    result = [0] * len(perm)
    for position, axis in enumerate(perm):
        result[axis] = position
    return tuple(result)


def compose(first: tuple[int, ...], second: tuple[int, ...]) -> tuple[int, ...]:
    """Return ``p`` with ``x.transpose(first).transpose(second) == x.transpose(p)``."""
    return tuple(first[axis] for axis in second)


def permute(shape: tuple[int, ...], perm: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(shape[axis] for axis in perm)


def _perm_suffix(perm: tuple[int, ...]) -> str:
    if perm == NHWC:
        return "nhwc"
    if perm == identity(4):
        return "nchw"
    return "perm" + "".join(str(axis) for axis in perm)


class IntegerInputError(UnsupportedOperatorError):
    """An integer graph input reaches a converter that needs a float tensor; the loader
    adds the node's name to the message."""


@dataclass
class Activation:
    """A non-constant ONNX value: its ONNX shape and the IR tensors that hold it.

    ``forms`` maps a permutation to the IR tensor holding ``value.transpose(perm)``. ``home``
    is the permutation of the tensor the producer wrote, from which other forms are derived.
    """

    shape: tuple[int, ...]
    forms: dict[tuple[int, ...], str]
    home: tuple[int, ...]
    integer: bool = False  # an int32 graph input (token ids, a mask) or a view of one


class ConversionContext:
    """The IR graph under construction and the map from ONNX values to IR tensors."""

    def __init__(
        self, graph: Graph, opset: int, onnx_names: set[str], output_names: list[str]
    ) -> None:
        self.graph = graph
        self.opset = opset
        self.constants: dict[str, np.ndarray] = {}
        self.activations: dict[str, Activation] = {}
        self.expected_shapes: dict[str, tuple[int, ...]] = {}
        self._reserved = set(onnx_names)
        self._outputs = set(output_names)
        self._constant_tensors: dict[tuple, str] = {}

    # Queries

    def is_constant(self, name: str) -> bool:
        return name in self.constants

    def constant(self, name: str) -> np.ndarray:
        return self.constants[name]

    def shape(self, name: str) -> tuple[int, ...]:
        """Return the ONNX (logical) shape of a value."""
        if name in self.constants:
            return tuple(self.constants[name].shape)
        return self.activations[name].shape

    def home_perm(self, name: str) -> tuple[int, ...]:
        """Return the permutation the value's producer wrote (identity for constants)."""
        if name in self.constants:
            return identity(self.constants[name].ndim)
        return self.activations[name].home

    def tensor(self, name: str, perm: tuple[int, ...] | None = None) -> str:
        """Return the IR tensor holding value ``name`` transposed by ``perm`` (default none).

        Inserts a transpose node the first time an activation is requested in a new
        permutation; constants become constant tensors.
        """
        if name in self.constants:
            data = self.constants[name]
            perm = identity(data.ndim) if perm is None else tuple(perm)
            return self._own_constant(np.transpose(data, perm), name, ("perm", name, perm))
        value = self.activations[name]
        if value.integer:
            raise IntegerInputError(
                f"integer input '{name}' is read by an op other than an embedding Gather or "
                "an attention mask; integer inputs can only be token ids or masks, so compute "
                "the rest of the model from float inputs"
            )
        perm = identity(len(value.shape)) if perm is None else tuple(perm)
        if perm in value.forms:
            return value.forms[perm]
        source = value.forms[value.home]
        tensor = self._new_tensor(name, permute(value.shape, perm), perm)
        transpose = compose(inverse(value.home), perm)
        self.add_node("transpose", f"{name}/to_{_perm_suffix(perm)}", [source], [tensor],
                      {"perm": transpose})
        value.forms[perm] = tensor
        return tensor

    def integer_tensor(self, name: str) -> str | None:
        """Return the IR tensor of integer graph input ``name``, or None when ``name`` is
        not one (or is a reshaped or transposed view of one)."""
        value = self.activations.get(name)
        if value is None or not value.integer or value.home not in value.forms:
            return None
        if value.home != identity(len(value.shape)):
            return None
        return value.forms[value.home]

    def broadcast_constant(self, name: str, rank: int, perm: tuple[int, ...]) -> str:
        """Return an IR constant for operand ``name`` of an elementwise op of ``rank`` dims.

        The array is aligned to ``rank`` dims as ONNX broadcasting does (leading 1s), transposed
        by ``perm``, and stripped of leading 1s again, so a per-channel NCHW constant of shape
        (C, 1, 1) becomes (C,) in NHWC.
        """
        data = self.constants[name]
        data = data.reshape((1,) * (rank - data.ndim) + data.shape).transpose(perm)
        dims = list(data.shape)
        while len(dims) > 1 and dims[0] == 1:
            dims.pop(0)
        return self._own_constant(data.reshape(dims), name, ("broadcast", name, rank, perm))

    def constant_tensor(self, data: np.ndarray, base: str, key: tuple | None = None) -> str:
        """Add a float32 constant tensor named after ``base`` and return its name.

        With a ``key``, later calls with the same key return the first tensor, so a filter
        shared by two nodes is converted and stored once.
        """
        if key is not None and key in self._constant_tensors:
            return self._constant_tensors[key]
        name = self.fresh_name(base)
        self.graph.add_tensor(Tensor(name, data.shape, "float32", np.asarray(data, np.float32)))
        if key is not None:
            self._constant_tensors[key] = name
        return name

    def _own_constant(self, data: np.ndarray, onnx_name: str, key: tuple) -> str:
        """Add ONNX constant ``onnx_name`` in one form, once per ``key``; the first form
        takes the ONNX name."""
        if key in self._constant_tensors:
            return self._constant_tensors[key]
        if onnx_name in self.graph.tensors:
            name = self.constant_tensor(data, onnx_name)
        else:
            name = onnx_name
            self.graph.add_tensor(Tensor(name, data.shape, "float32", np.asarray(data, np.float32)))
        self._constant_tensors[key] = name
        return name

    def fresh_name(self, base: str) -> str:
        """Return a tensor name that is neither in the graph nor an ONNX value name."""
        if base not in self.graph.tensors and base not in self._reserved:
            self._reserved.add(base)
            return base
        index = 1
        while f"{base}_{index}" in self.graph.tensors or f"{base}_{index}" in self._reserved:
            index += 1
        name = f"{base}_{index}"
        self._reserved.add(name)
        return name

    # Definitions

    def set_constant(self, name: str, data: np.ndarray) -> None:
        self.constants[name] = np.asarray(data)

    def add_graph_input(self, name: str, shape: tuple[int, ...], dtype: str = "float32") -> None:
        self.graph.add_tensor(Tensor(name, shape, dtype))
        self.graph.inputs.append(name)
        rank = len(shape)
        self.activations[name] = Activation(tuple(shape), {identity(rank): name}, identity(rank),
                                            integer=dtype != "float32")

    def new_output(self, name: str, shape: tuple[int, ...], perm: tuple[int, ...] | None = None) -> str:
        """Define activation ``name`` of ONNX ``shape``, written transposed by ``perm``.

        Returns the new IR tensor. Raises RuntimeError when ONNX shape inference computed a
        different shape, which means a converter has a bug.
        """
        shape = tuple(int(d) for d in shape)
        perm = identity(len(shape)) if perm is None else tuple(perm)
        expected = self.expected_shapes.get(name)
        if expected is not None and expected != shape:
            raise RuntimeError(
                f"ONNX value '{name}': converter computed shape {shape}, ONNX shape inference "
                f"{expected}"
            )
        tensor = self._new_tensor(name, permute(shape, perm), perm)
        self.activations[name] = Activation(shape, {perm: tensor}, perm)
        return tensor

    def alias(self, name: str, source: str, perm: tuple[int, ...] | None = None) -> None:
        """Define value ``name`` as ``source.transpose(perm)`` without emitting a node."""
        if source in self.constants:
            data = self.constants[source]
            self.constants[name] = data if perm is None else np.transpose(data, perm)
            return
        value = self.activations[source]
        perm = identity(len(value.shape)) if perm is None else tuple(perm)
        back = inverse(perm)
        forms = {tuple(back[axis] for axis in held): tensor for held, tensor in value.forms.items()}
        home = tuple(back[axis] for axis in value.home)
        self.activations[name] = Activation(permute(value.shape, perm), forms, home,
                                            value.integer)

    def add_node(self, op: str, name: str, inputs: list[str], outputs: list[str],
                 attrs: dict | None = None) -> Node:
        node = Node(op, name, list(inputs), list(outputs), dict(attrs or {}))
        self.graph.nodes.append(node)
        return node

    def bind_output(self, name: str) -> None:
        """Make graph output ``name`` an IR tensor of that name in the model's own layout."""
        if name in self.constants:
            data = self.constants[name]
            if name not in self.graph.tensors:
                self.graph.add_tensor(Tensor(name, data.shape, "float32", data.astype(np.float32)))
        else:
            tensor = self.tensor(name)
            if tensor != name:
                # An output that aliases another value (Identity, graph input) gets a copy.
                shape = self.activations[name].shape
                self.graph.add_tensor(Tensor(name, shape, "float32"))
                self.add_node("reshape", f"{name}/copy", [tensor], [name])
        self.graph.outputs.append(name)

    def _new_tensor(self, name: str, shape: tuple[int, ...], perm: tuple[int, ...]) -> str:
        """Add the IR tensor for value ``name`` in ``perm``.

        The tensor takes the ONNX name when it is free, except for a transposed form of a graph
        output, which would otherwise take the name the output needs in its own layout.
        """
        blocks_output = name in self._outputs and perm != identity(len(perm))
        if name not in self.graph.tensors and not blocks_output:
            tensor_name = name
        else:
            tensor_name = self.fresh_name(f"{name}/{_perm_suffix(perm)}")
        self.graph.add_tensor(Tensor(tensor_name, shape, "float32"))
        return tensor_name
