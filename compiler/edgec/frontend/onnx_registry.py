"""Registry of ONNX operator converters, and the node view a converter receives.

A converter is registered per ONNX op type and opset version (``since``). The loader picks
the newest registration whose ``since`` is at most the model's opset, so an op whose
semantics changed (Softmax at 13, Squeeze and Unsqueeze at 13, ReduceMean at 18) gets one
function per semantics. The registration also lists the attributes the op accepts, with
their defaults, and the inputs that must be constants. ``NodeView`` rejects any other
attribute by name, and the loader's whole-graph check reports non-constant inputs before
anything is converted.

To add an op: write ``fn(ctx, node)`` in ``onnx_compute_ops`` or ``onnx_layout_ops`` and
decorate it with ``@converter("OpType", attrs={...}, constant_inputs=(...))``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import onnx
from onnx import numpy_helper

from edgec.errors import UnsupportedAttributeError, UnsupportedOperatorError

REQUIRED = object()
"""Default marking an attribute the op cannot do without (``kernel_shape`` of pools)."""


@dataclass(frozen=True)
class Converter:
    """One converter: the function, the opset it starts at, its attributes and constants."""

    op_type: str
    fn: Callable[..., None]
    since: int
    attrs: dict[str, Any] = field(default_factory=dict)
    constant_inputs: tuple[int, ...] = ()


CONVERTERS: dict[str, list[Converter]] = {}


def converter(
    op_type: str, since: int = 1, attrs: dict[str, Any] | None = None,
    constant_inputs: tuple[int, ...] = (),
) -> Callable:
    """Register the decorated ``fn(ctx, node)`` as the converter of ``op_type`` from ``since``."""

    def wrap(fn: Callable) -> Callable:
        entry = Converter(op_type, fn, since, dict(attrs or {}), tuple(constant_inputs))
        versions = CONVERTERS.setdefault(op_type, [])
        versions.append(entry)
        versions.sort(key=lambda item: item.since)
        return fn

    return wrap


def find_converter(op_type: str, opset: int) -> Converter | None:
    """Return the converter of ``op_type`` for a model of ``opset``, or None."""
    # NOTE: the registrations match the op schemas of onnx 1.23 (up to opset 28). An opset
    # that later changes an op's semantics needs its own registration.
    chosen = None
    for entry in CONVERTERS.get(op_type, []):
        if entry.since <= opset:
            chosen = entry
    return chosen


def display_name(node: onnx.NodeProto) -> str:
    """Return the node's name, or its first output when the node has no name."""
    return node.name or (node.output[0] if node.output else node.op_type)


def attribute_value(attribute: onnx.AttributeProto) -> Any:
    """Return an attribute as plain Python: str for strings, ndarray for tensors."""
    value = onnx.helper.get_attribute_value(attribute)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, onnx.TensorProto):
        return numpy_helper.to_array(value)
    if isinstance(value, list) and value and isinstance(value[0], bytes):
        return [item.decode("utf-8") for item in value]
    return value


class NodeView:
    """ONNX node passed to a converter: name, inputs, outputs and checked attributes."""

    def __init__(self, node: onnx.NodeProto, entry: Converter, opset: int) -> None:
        self.proto = node
        self.name = display_name(node)
        self.op_type = node.op_type
        self.inputs = list(node.input)
        self.outputs = list(node.output)
        self.opset = opset
        self.attrs = self._read_attrs(node, entry.attrs)

    def input(self, index: int) -> str:
        """Return input ``index``, or "" when the optional input is absent."""
        return self.inputs[index] if index < len(self.inputs) else ""

    def output(self, index: int = 0) -> str:
        return self.outputs[index] if index < len(self.outputs) else ""

    def reject_attribute(self, attribute: str, value: Any, expected: str) -> UnsupportedAttributeError:
        """Return the error for an attribute value edgec cannot compile, for ``raise``."""
        return UnsupportedAttributeError(
            f"node '{self.name}' ({self.op_type}): attribute {attribute}={value!r} is not "
            f"supported; expected {expected}"
        )

    def reject(self, reason: str) -> UnsupportedOperatorError:
        """Return the error for a node edgec cannot compile for ``reason``, for ``raise``."""
        return UnsupportedOperatorError(f"node '{self.name}' ({self.op_type}): {reason}")

    def _read_attrs(self, node: onnx.NodeProto, accepted: dict[str, Any]) -> dict[str, Any]:
        values = dict(accepted)
        for attribute in node.attribute:
            if attribute.name not in accepted:
                known = ", ".join(sorted(accepted)) or "none"
                raise UnsupportedAttributeError(
                    f"node '{self.name}' ({self.op_type}): unknown attribute '{attribute.name}'; "
                    f"edgec knows these attributes of {self.op_type}: {known}"
                )
            values[attribute.name] = attribute_value(attribute)
        for name, value in values.items():
            if value is REQUIRED:
                raise UnsupportedAttributeError(
                    f"node '{self.name}' ({self.op_type}): required attribute '{name}' is missing"
                )
        return values
