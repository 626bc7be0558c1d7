"""The edgec intermediate representation: a small typed dataflow graph.

Both frontends (ONNX, TFLite) produce this IR; passes rewrite it, the quantizer turns float
tensors into integer ones, and the reference interpreter and the C code generator consume it.

Invariants:
- Tensors are identified by unique names; ``Graph.tensors`` maps name to ``Tensor``.
- ``Graph.nodes`` is in a valid execution order (every input is a graph input, a constant,
  or the output of an earlier node).
- Activation layout is NHWC for 4-D tensors once a frontend has finished.
- Op names and attribute keys are listed in ``edgec.ir.ops.OPS``. ``Graph.check`` rejects
  anything else, so a pass cannot silently produce an op the backends do not know.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

DTYPES = {
    "float32": np.float32,
    "int8": np.int8,
    # int4 weights are stored unpacked, one int8 value in [-7, 7] per element; the generated C
    # packs them two per byte (edgec.quantize.params.pack_int4).
    "int4": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "uint8": np.uint8,
}


@dataclass
class Quant:
    """Affine quantization parameters: real = scale * (q - zero_point).

    ``scale`` and ``zero_point`` are 1-D arrays: length 1 for per-tensor parameters, or
    the size of dimension ``axis`` for per-channel ones. Scales are float32 values, as
    TFLite stores them; derived multipliers are computed from them in double precision.

    Per-group int4 weights also set ``group_size`` and ``group_multipliers`` (uint8, shape
    (channels, groups), values in [1, 255]). Group ``g`` of channel ``c`` holds the channel's
    reduction values ``k`` with ``k // group_size == g``, and its real scale is
    ``scale[c] * group_multipliers[c, g] / 255``. Both fields are None for every other tensor.
    """

    scale: np.ndarray
    zero_point: np.ndarray
    axis: int | None = None
    group_size: int | None = None
    group_multipliers: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.scale = np.atleast_1d(np.asarray(self.scale, dtype=np.float32))
        self.zero_point = np.atleast_1d(np.asarray(self.zero_point, dtype=np.int64))
        if self.scale.shape != self.zero_point.shape:
            raise ValueError(
                f"scale has {self.scale.size} values but zero_point has {self.zero_point.size}"
            )
        if (self.group_size is None) != (self.group_multipliers is None):
            raise ValueError("group_size and group_multipliers must be given together")
        if self.group_multipliers is not None:
            self.group_size = int(self.group_size)
            self.group_multipliers = np.asarray(self.group_multipliers, dtype=np.uint8)
            if self.group_multipliers.ndim != 2 or len(self.group_multipliers) != self.scale.size:
                raise ValueError(
                    f"group_multipliers has shape {self.group_multipliers.shape}, expected "
                    f"({self.scale.size}, groups) for {self.scale.size} channel scales"
                )

    @property
    def per_group(self) -> bool:
        return self.group_multipliers is not None

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1 or self.axis is not None

    def same_as(self, other: Quant | None) -> bool:
        return (
            other is not None
            and np.array_equal(self.scale, other.scale)
            and np.array_equal(self.zero_point, other.zero_point)
            and self.group_size == other.group_size
            and _same_optional(self.group_multipliers, other.group_multipliers)
        )


def _same_optional(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return np.array_equal(a, b)


@dataclass
class Tensor:
    """A value in the graph: an activation (``data is None``) or a constant."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    data: np.ndarray | None = None
    quant: Quant | None = None

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"tensor '{self.name}': unknown dtype '{self.dtype}'")
        self.shape = tuple(int(d) for d in self.shape)
        if self.data is not None:
            self.data = np.asarray(self.data, dtype=DTYPES[self.dtype])
            if self.data.shape != self.shape:
                raise ValueError(
                    f"tensor '{self.name}': data shape {self.data.shape} != shape {self.shape}"
                )
            if self.dtype == "int4" and self.data.size and (
                self.data.min() < -7 or self.data.max() > 7
            ):
                raise ValueError(f"tensor '{self.name}': int4 values must be in [-7, 7]")

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(DTYPES[self.dtype]).itemsize


@dataclass
class Node:
    """One operation: ``op`` from ``edgec.ir.ops.OPS``, tensor names in and out."""

    op: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Graph:
    """Tensors, nodes in execution order, and the graph's input and output names."""

    tensors: dict[str, Tensor] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    name: str = "model"
    # How requantization rounds: "double" (TFLite's default, and edgec's own quantizer) or
    # "single" (one rounding, as ONNX runtimes do for QDQ models). See quantize.fixed_point.
    requantize_rounding: str = "double"

    def add_tensor(self, tensor: Tensor) -> Tensor:
        if tensor.name in self.tensors:
            raise ValueError(f"tensor '{tensor.name}' is defined twice")
        self.tensors[tensor.name] = tensor
        return tensor

    def unique_name(self, base: str) -> str:
        name, i = base, 1
        while name in self.tensors:
            name, i = f"{base}_{i}", i + 1
        return name

    def producer(self, tensor_name: str) -> Node | None:
        for node in self.nodes:
            if tensor_name in node.outputs:
                return node
        return None

    def consumers(self, tensor_name: str) -> list[Node]:
        return [n for n in self.nodes if tensor_name in n.inputs]

    def remove_unused_tensors(self) -> None:
        used = set(self.inputs) | set(self.outputs)
        for node in self.nodes:
            used.update(i for i in node.inputs if i)
            used.update(node.outputs)
        self.tensors = {k: v for k, v in self.tensors.items() if k in used}

    def check(self) -> None:
        """Raise ValueError when the graph breaks an invariant of this module."""
        from edgec.ir.ops import OPS

        defined = set(self.inputs) | {n for n, t in self.tensors.items() if t.is_constant}
        for name in self.inputs + self.outputs:
            if name not in self.tensors:
                raise ValueError(f"graph input/output '{name}' has no tensor")
        for node in self.nodes:
            spec = OPS.get(node.op)
            if spec is None:
                raise ValueError(f"node '{node.name}': unknown op '{node.op}'")
            unknown = set(node.attrs) - set(spec.attrs)
            if unknown:
                raise ValueError(f"node '{node.name}' ({node.op}): unknown attrs {sorted(unknown)}")
            for name in node.inputs:
                if name and name not in defined:
                    raise ValueError(f"node '{node.name}': input '{name}' is not defined yet")
            for name in node.outputs:
                if name not in self.tensors:
                    raise ValueError(f"node '{node.name}': output '{name}' has no tensor")
                defined.add(name)
        for name in self.outputs:
            if name not in defined:
                raise ValueError(f"graph output '{name}' is never computed")
