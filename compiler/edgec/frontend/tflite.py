"""TFLite frontend: an int8 (or int16) quantized TFLite flatbuffer becomes an edgec IR graph.

Where it sits: first stage of the pipeline for ``.tflite`` inputs (``load_model`` dispatches
here). The graph it returns passes ``Graph.check`` and keeps the file's quantization as is;
later passes never need to look at the flatbuffer again.

Stages of ``load_tflite``:
1. Read the flatbuffer (PyPI ``tflite`` package) into plain records: tensors with name,
   shape, type, constant data and quantization, and operators with decoded options. Every
   flatbuffer access happens here, so a truncated or corrupt file fails in one place with
   ``ModelFormatError``.
2. Check the whole operator list before converting anything: float compute ops are rejected
   (edgec takes float models as ONNX), then every operator that has neither a converter nor
   a constant folder is listed in one ``UnsupportedOperatorError``.
3. Walk the operators in file order. An operator whose inputs are all known constants (SHAPE
   only needs its input's static shape) is evaluated with numpy and its outputs become
   constants; shape-computing chains such as SHAPE -> STRIDED_SLICE -> PACK disappear this
   way. Every other operator goes to its converter, which appends IR nodes.
4. Set the graph inputs and outputs in subgraph order and drop unused tensors.

Invariants: IR tensors keep their TFLite names (a duplicate or empty name gets a suffix),
shapes, dtypes, constant data and quantization (float32 scales, ``quantized_dimension`` as
``Quant.axis`` for per-channel parameters). Folding keeps quantized values exact: data
movement folds only when input and output share their quantization, arithmetic folds only on
tensors without quantization, and QUANTIZE of a float constant rounds as TFLite does.

How to extend: register a converter with ``@_converter(BuiltinOperator.X)`` (``compute=True``
when the op does arithmetic on activations) or a constant folder with ``@_folder(...)``. Each
is one function in one registry, and nothing else needs editing.
"""

from __future__ import annotations

import inspect
import math
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import tflite
from tflite.ActivationFunctionType import ActivationFunctionType
from tflite.BuiltinOperator import BuiltinOperator
from tflite.BuiltinOptions import BuiltinOptions
from tflite.Padding import Padding
from tflite.TensorType import TensorType

from edgec.errors import ModelFormatError, UnsupportedAttributeError, UnsupportedOperatorError
from edgec.ir.graph import Graph, Node, Quant, Tensor

__all__ = ["load_tflite", "output_size", "resolve_padding"]

SCHEMA_VERSION = 3
FILE_IDENTIFIER = b"TFL3"


def _enum_names(enum_class: type) -> dict[int, str]:
    return {v: k for k, v in vars(enum_class).items() if not k.startswith("_")}


_OP_NAMES = _enum_names(BuiltinOperator)
_OPTION_CLASS_NAMES = _enum_names(BuiltinOptions)
_TYPE_NAMES = _enum_names(TensorType)
_ACTIVATION_NAMES = _enum_names(ActivationFunctionType)

# Little-endian numpy dtypes of the TFLite tensor types whose data edgec can decode.
_NUMPY_TYPES = {
    "FLOAT32": "<f4",
    "FLOAT16": "<f2",
    "FLOAT64": "<f8",
    "INT8": "i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "UINT8": "u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "BOOL": "?",
}

# TFLite types that may appear in the IR. The others exist only inside constant folding.
_IR_DTYPES = {
    "FLOAT32": "float32",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "UINT8": "uint8",
}

_FLOAT_TYPES = {"FLOAT32", "FLOAT16", "FLOAT64"}

# Fused activation function -> IR ``activation`` range in real units.
_ACTIVATION_RANGES = {
    ActivationFunctionType.NONE: None,
    ActivationFunctionType.RELU: (0.0, math.inf),
    ActivationFunctionType.RELU_N1_TO_1: (-1.0, 1.0),
    ActivationFunctionType.RELU6: (0.0, 6.0),
}


# ---------------------------------------------------------------------------------------------
# Stage 1: read the flatbuffer into plain records.
# ---------------------------------------------------------------------------------------------


@dataclass
class _FileTensor:
    """One TFLite tensor as stored in the file."""

    name: str
    shape: tuple[int, ...]
    type_name: str  # TensorType name, e.g. "INT8"
    data: np.ndarray | None  # constant value, or None for activations
    quant: Quant | None


@dataclass
class _FileOperator:
    """One TFLite operator, with -1 in ``inputs`` for an omitted optional input."""

    index: int
    code: int  # BuiltinOperator value
    name: str  # "CONV_2D", or "CUSTOM 'name'" for a custom op
    inputs: list[int]
    outputs: list[int]
    options: SimpleNamespace | None  # schema field names in snake_case, e.g. stride_w
    options_type: str  # BuiltinOptions name, e.g. "Conv2DOptions", or "" without options


@dataclass
class _FileModel:
    path: str
    tensors: list[_FileTensor]
    operators: list[_FileOperator]
    inputs: list[int]
    outputs: list[int]


def _read_model(path: str | Path) -> _FileModel:
    """Parse ``path`` into a ``_FileModel``, raising ``ModelFormatError`` for a bad file."""
    try:
        buf = Path(path).read_bytes()
    except OSError as exc:
        raise ModelFormatError(f"{path}: cannot read the model file ({exc.strerror})") from exc
    if len(buf) < 8 or buf[4:8] != FILE_IDENTIFIER:
        reason = "empty file" if not buf else "no TFL3 file identifier"
        raise ModelFormatError(f"{path}: not a valid TFLite model ({reason})")
    try:
        return _parse_model(str(path), buf)
    except (struct.error, IndexError, ValueError) as exc:
        # The flatbuffers reader does no verification: an offset past the end of a truncated
        # file surfaces as struct.error, or as ValueError from numpy.frombuffer.
        raise ModelFormatError(
            f"{path}: not a valid TFLite model (truncated or corrupt flatbuffer: {exc})"
        ) from exc


def _parse_model(path: str, buf: bytes) -> _FileModel:
    model = tflite.Model.GetRootAs(buf, 0)
    if model.Version() != SCHEMA_VERSION:
        raise ModelFormatError(
            f"{path}: not a valid TFLite model (schema version {model.Version()}, "
            f"expected {SCHEMA_VERSION})"
        )
    if model.SubgraphsLength() != 1:
        raise ModelFormatError(
            f"{path}: the model has {model.SubgraphsLength()} subgraphs; edgec compiles "
            "TFLite models with exactly one subgraph (no control flow such as WHILE or IF)"
        )
    subgraph = model.Subgraphs(0)
    tensors = [
        _read_tensor(path, model, subgraph.Tensors(i), buf) for i in range(subgraph.TensorsLength())
    ]
    opcodes = [_read_opcode(model.OperatorCodes(i)) for i in range(model.OperatorCodesLength())]
    operators = [
        _read_operator(path, i, subgraph.Operators(i), opcodes, len(tensors))
        for i in range(subgraph.OperatorsLength())
    ]
    inputs = [int(i) for i in _int_vector(subgraph.InputsAsNumpy())]
    outputs = [int(i) for i in _int_vector(subgraph.OutputsAsNumpy())]
    for index in inputs + outputs:
        if not 0 <= index < len(tensors):
            raise ModelFormatError(
                f"{path}: not a valid TFLite model (graph input/output refers to tensor "
                f"{index}, but the subgraph has {len(tensors)} tensors)"
            )
    return _FileModel(path, tensors, operators, inputs, outputs)


def _int_vector(value: np.ndarray | int) -> np.ndarray:
    # Generated ``...AsNumpy`` accessors return the integer 0 when the vector is absent.
    return value if isinstance(value, np.ndarray) else np.zeros(0, dtype=np.int32)


def _read_tensor(path: str, model, tensor, buf: bytes) -> _FileTensor:
    name = (tensor.Name() or b"").decode("utf-8", errors="replace")
    shape = tuple(int(d) for d in _int_vector(tensor.ShapeAsNumpy()))
    type_name = _TYPE_NAMES.get(tensor.Type(), f"TYPE_{tensor.Type()}")
    if any(d < 0 for d in shape):
        raise ModelFormatError(f"{path}: tensor '{name}' has an invalid shape {list(shape)}")
    if tensor.Sparsity() is not None:
        raise UnsupportedAttributeError(
            f"{path}: tensor '{name}' is stored sparse; edgec reads dense TFLite tensors only, "
            "so convert the model without sparsity"
        )
    raw = _read_buffer(path, model, tensor.Buffer(), buf)
    data = None
    if raw is not None and type_name in _NUMPY_TYPES:
        dtype = np.dtype(_NUMPY_TYPES[type_name])
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if len(raw) != expected:
            raise ModelFormatError(
                f"{path}: not a valid TFLite model (tensor '{name}' of shape {list(shape)} "
                f"and type {type_name} has {len(raw)} data bytes, expected {expected})"
            )
        data = np.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
    return _FileTensor(name, shape, type_name, data, _read_quant(path, name, shape, tensor))


def _read_buffer(path: str, model, index: int, buf: bytes) -> bytes | None:
    """Return the constant bytes of buffer ``index``, or None when it is empty."""
    if not 0 <= index < model.BuffersLength():
        raise ModelFormatError(
            f"{path}: not a valid TFLite model (buffer {index} of "
            f"{model.BuffersLength()} referenced)"
        )
    buffer = model.Buffers(index)
    # Models over 2 GB keep buffer data after the flatbuffer: offset (> 1) and size are then
    # counted in bytes from the start of the file.
    if buffer.Offset() > 1:
        start, size = buffer.Offset(), buffer.Size()
        if start + size > len(buf):
            raise ModelFormatError(
                f"{path}: not a valid TFLite model (buffer {index} ends at byte "
                f"{start + size}, past the end of the {len(buf)}-byte file)"
            )
        return buf[start : start + size] if size else None
    if buffer.DataLength() == 0:
        return None
    return buffer.DataAsNumpy().tobytes()


def _read_quant(path: str, name: str, shape: tuple[int, ...], tensor) -> Quant | None:
    params = tensor.Quantization()
    if params is None or params.ScaleLength() == 0:
        return None
    if params.DetailsType() != 0:
        raise UnsupportedAttributeError(
            f"{path}: tensor '{name}' uses custom quantization; edgec reads affine "
            "(scale, zero point) quantization only"
        )
    scale = params.ScaleAsNumpy().astype(np.float32)
    if not np.all(np.isfinite(scale) & (scale > 0)):
        bad = scale[~(np.isfinite(scale) & (scale > 0))][0]
        raise ModelFormatError(
            f"{path}: tensor '{name}' has quantization scale {bad}; scales must be finite and "
            "positive: re-export the model"
        )
    zero_point = _int_vector(params.ZeroPointAsNumpy()).astype(np.int64)
    if zero_point.size == 0:
        zero_point = np.zeros(scale.shape, dtype=np.int64)
    elif zero_point.size == 1 and scale.size > 1:
        zero_point = np.full(scale.shape, zero_point[0], dtype=np.int64)
    if zero_point.size != scale.size:
        raise ModelFormatError(
            f"{path}: tensor '{name}' has {scale.size} scales but {zero_point.size} zero points"
        )
    axis = None
    if scale.size > 1:
        axis = int(params.QuantizedDimension())
        if axis >= len(shape) or shape[axis] != scale.size:
            raise ModelFormatError(
                f"{path}: tensor '{name}' of shape {list(shape)} has {scale.size} per-channel "
                f"scales along dimension {axis}"
            )
    return Quant(scale, zero_point, axis)


def _read_opcode(opcode) -> tuple[int, str]:
    # Schema 3a: the real code is the larger of builtin_code and the int8 deprecated field.
    code = max(int(opcode.BuiltinCode()), int(opcode.DeprecatedBuiltinCode()))
    if code == BuiltinOperator.CUSTOM:
        custom = (opcode.CustomCode() or b"").decode("utf-8", errors="replace")
        return code, f"CUSTOM '{custom}'"
    return code, _OP_NAMES.get(code, f"BUILTIN_{code}")


def _read_operator(
    path: str, index: int, operator, opcodes: list[tuple[int, str]], tensor_count: int
) -> _FileOperator:
    opcode_index = operator.OpcodeIndex()
    if not 0 <= opcode_index < len(opcodes):
        raise ModelFormatError(
            f"{path}: not a valid TFLite model (operator {index} uses opcode {opcode_index} "
            f"of {len(opcodes)})"
        )
    code, name = opcodes[opcode_index]
    inputs = [int(i) for i in _int_vector(operator.InputsAsNumpy())]
    outputs = [int(i) for i in _int_vector(operator.OutputsAsNumpy())]
    bad = [i for i in inputs if not -1 <= i < tensor_count]
    bad += [i for i in outputs if not 0 <= i < tensor_count]
    if bad:
        raise ModelFormatError(
            f"{path}: not a valid TFLite model (operator {index} ({name}) refers to tensor "
            f"{bad[0]}, but the subgraph has {tensor_count} tensors)"
        )
    options, options_type = _decode_options(operator)
    return _FileOperator(index, code, name, inputs, outputs, options, options_type)


def _decode_options(operator) -> tuple[SimpleNamespace | None, str]:
    """Copy the builtin options table into a namespace named by the schema's snake_case fields.

    Returns the namespace and the options type name, or (None, "") without options.
    """
    table = operator.BuiltinOptions()
    class_name = _OPTION_CLASS_NAMES.get(operator.BuiltinOptionsType(), "")
    options_class = getattr(tflite, class_name, None)
    if table is None or not isinstance(options_class, type):
        return None, ""
    options = options_class()
    options.Init(table.Bytes, table.Pos)
    fields = {}
    for field_name, method_name, is_vector in _option_accessors(options_class):
        value = getattr(options, method_name)()
        if is_vector:
            value = tuple(_int_vector(value).tolist())
        fields[field_name] = value
    return SimpleNamespace(**fields), class_name


_ACCESSOR_CACHE: dict[type, list[tuple[str, str, bool]]] = {}


def _option_accessors(options_class: type) -> list[tuple[str, str, bool]]:
    """List (field name, accessor name, is vector) for every field of a generated options class."""
    if options_class not in _ACCESSOR_CACHE:
        accessors = []
        for method_name, member in vars(options_class).items():
            if not inspect.isfunction(member) or method_name == "Init":
                continue
            if method_name.endswith(("Length", "IsNone")):
                continue
            if list(inspect.signature(member).parameters) != ["self"]:
                continue  # element accessors such as NewShape(self, j)
            is_vector = method_name.endswith("AsNumpy")
            stem = method_name.removesuffix("AsNumpy")
            field_name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", stem)
            field_name = field_name.lower()
            accessors.append((field_name, method_name, is_vector))
        _ACCESSOR_CACHE[options_class] = accessors
    return _ACCESSOR_CACHE[options_class]


# ---------------------------------------------------------------------------------------------
# Stage 2: check every operator before converting.
# ---------------------------------------------------------------------------------------------


def _check_operators(model: _FileModel) -> None:
    """Raise for float compute ops, then for all operators edgec cannot convert or fold."""
    known = {i for i, t in enumerate(model.tensors) if t.data is not None}
    float_ops, unsupported = [], []
    for op in model.operators:
        if _can_fold(model, op, known):
            known.update(op.outputs)
            continue
        converter = _CONVERTERS.get(op.code)
        if converter is None:
            unsupported.append(op)
        elif converter.compute and _computes_in_float(model, op):
            float_ops.append(op)
    if float_ops:
        raise UnsupportedOperatorError(
            f"{model.path}: {_count(len(float_ops), 'operator')} computing in floating point "
            f"(first: {_describe(model, float_ops[0])}); edgec compiles int8 TFLite models, so "
            "give a float model as ONNX or convert it to TFLite with full int8 quantization"
        )
    if unsupported:
        listed = ", ".join(_describe_unsupported(model, op) for op in unsupported)
        converted = ", ".join(sorted(_OP_NAMES[code] for code in _CONVERTERS))
        raise UnsupportedOperatorError(
            f"{model.path}: {_count(len(unsupported), 'unsupported operator')}: {listed}; "
            f"edgec converts {converted}, so replace the listed operators and re-export the model"
        )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _describe(model: _FileModel, op: _FileOperator) -> str:
    output = model.tensors[op.outputs[0]].name if op.outputs else "none"
    return f"#{op.index} {op.name} (output '{output}')"


def _describe_unsupported(model: _FileModel, op: _FileOperator) -> str:
    if op.code in _FOLDERS:
        return f"{_describe(model, op)} with non-constant inputs"
    return _describe(model, op)


def _computes_in_float(model: _FileModel, op: _FileOperator) -> bool:
    checked = op.inputs[:1] + op.outputs[:1]
    return any(i >= 0 and model.tensors[i].type_name in _FLOAT_TYPES for i in checked)


# ---------------------------------------------------------------------------------------------
# Stage 3: conversion state shared by folders and converters.
# ---------------------------------------------------------------------------------------------


class _Conversion:
    """Known constant values, TFLite-to-IR tensor names and the IR graph being built."""

    def __init__(self, model: _FileModel) -> None:
        self.model = model
        self.graph = Graph(name=Path(model.path).stem)
        self.values: dict[int, np.ndarray] = {
            i: t.data for i, t in enumerate(model.tensors) if t.data is not None
        }
        self.names = _unique_names(model.tensors)
        self._reserved = set(self.names)

    def ir_tensor(self, index: int) -> str:
        """Return the IR name of TFLite tensor ``index``, adding the IR tensor on first use."""
        name = self.names[index]
        if name not in self.graph.tensors:
            file_tensor = self.model.tensors[index]
            value = self.values.get(index)
            shape = file_tensor.shape if value is None else value.shape
            dtype = _ir_dtype(self.model.path, file_tensor)
            self.graph.add_tensor(Tensor(name, shape, dtype, value, file_tensor.quant))
        return name

    def new_tensor(self, base: str, like: int, shape: tuple[int, ...]) -> str:
        """Add an activation tensor with the dtype and quantization of tensor ``like``."""
        name, suffix = base, 1
        while name in self._reserved or name in self.graph.tensors:
            name, suffix = f"{base}_{suffix}", suffix + 1
        file_tensor = self.model.tensors[like]
        dtype = _ir_dtype(self.model.path, file_tensor)
        self.graph.add_tensor(Tensor(name, shape, dtype, None, file_tensor.quant))
        return name

    def finish(self) -> Graph:
        self.graph.inputs = [self.ir_tensor(i) for i in self.model.inputs]
        self.graph.outputs = [self.ir_tensor(i) for i in self.model.outputs]
        self.graph.remove_unused_tensors()
        return self.graph


def _unique_names(tensors: list[_FileTensor]) -> list[str]:
    names, seen = [], set()
    for i, tensor in enumerate(tensors):
        base = tensor.name or f"tensor_{i}"
        name, suffix = base, 1
        while name in seen:
            name, suffix = f"{base}_{suffix}", suffix + 1
        seen.add(name)
        names.append(name)
    return names


def _ir_dtype(path: str, tensor: _FileTensor) -> str:
    dtype = _IR_DTYPES.get(tensor.type_name)
    if dtype is None:
        raise UnsupportedAttributeError(
            f"{path}: tensor '{tensor.name}' has type {tensor.type_name}; edgec compiles "
            f"{', '.join(_IR_DTYPES)} tensors"
        )
    return dtype


@dataclass
class _Op:
    """An operator under conversion, with accessors for its tensors and options."""

    conversion: _Conversion
    op: _FileOperator

    @property
    def path(self) -> str:
        return self.conversion.model.path

    @property
    def label(self) -> str:
        return f"{self.path}: operator {_describe(self.conversion.model, self.op)}"

    def file_tensor(self, index: int) -> _FileTensor:
        return self.conversion.model.tensors[index]

    def has_input(self, i: int) -> bool:
        return i < len(self.op.inputs) and self.op.inputs[i] >= 0

    def input_tensor(self, i: int) -> _FileTensor:
        if not self.has_input(i):
            raise ModelFormatError(f"{self.label}: input {i} is missing")
        return self.file_tensor(self.op.inputs[i])

    def input_shape(self, i: int) -> tuple[int, ...]:
        value = self.value(i)
        return value.shape if value is not None else self.input_tensor(i).shape

    def output_tensor(self, i: int = 0) -> _FileTensor:
        if i >= len(self.op.outputs):
            raise ModelFormatError(f"{self.label}: output {i} is missing")
        return self.file_tensor(self.op.outputs[i])

    def value(self, i: int) -> np.ndarray | None:
        """Return the constant value of input ``i``, or None for an activation or no input."""
        return self.conversion.values.get(self.op.inputs[i]) if self.has_input(i) else None

    def constant(self, i: int, role: str) -> np.ndarray:
        self.input_tensor(i)
        value = self.value(i)
        if value is None:
            raise UnsupportedAttributeError(
                f"{self.label}: input {i} ({role}) is computed at run time; edgec needs it "
                "as a constant in the model"
            )
        return value

    def input(self, i: int) -> str:
        """Return the IR name of input ``i``, or "" for an omitted optional input."""
        return self.conversion.ir_tensor(self.op.inputs[i]) if self.has_input(i) else ""

    def output(self, i: int = 0) -> str:
        self.output_tensor(i)
        return self.conversion.ir_tensor(self.op.outputs[i])

    def options(self, options_type: str) -> SimpleNamespace:
        """Return the builtin options, which must be a table of type ``options_type``."""
        if self.op.options_type != options_type:
            found = self.op.options_type or "none"
            raise ModelFormatError(
                f"{self.label}: expected builtin options {options_type}, found {found}"
            )
        return self.op.options

    def activation(self) -> tuple[float, float] | None:
        code = getattr(self.op.options, "fused_activation_function", ActivationFunctionType.NONE)
        if code not in _ACTIVATION_RANGES:
            name = _ACTIVATION_NAMES.get(code, str(code))
            raise UnsupportedAttributeError(
                f"{self.label}: fused activation {name} is not supported; edgec supports "
                "NONE, RELU, RELU6 and RELU_N1_TO_1"
            )
        return _ACTIVATION_RANGES[code]

    def emit(
        self,
        ir_op: str,
        inputs: list[str],
        attrs: dict | None = None,
        outputs: list[str] | None = None,
    ) -> None:
        """Append an IR node that writes ``outputs``, by default the operator's first output."""
        outputs = outputs if outputs is not None else [self.output()]
        node = Node(ir_op, outputs[0], inputs, outputs, dict(attrs or {}))
        self.conversion.graph.nodes.append(node)


# ---------------------------------------------------------------------------------------------
# Constant folding: numpy evaluation of operators whose inputs are known.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Folder:
    """A numpy evaluation of one op and the rule that decides when folding keeps values exact.

    ``kind`` is "shape" (needs only static shapes), "move" (data movement: input and output
    quantization must match), "arith" (only tensors without quantization) or "quantize"
    (QUANTIZE of a float constant, DEQUANTIZE of any constant).
    """

    evaluate: Callable[[_Op], list[np.ndarray]]
    kind: str


_FOLDERS: dict[int, _Folder] = {}


def _folder(*codes: int, kind: str):
    def register(evaluate):
        for code in codes:
            _FOLDERS[code] = _Folder(evaluate, kind)
        return evaluate

    return register


def _can_fold(model: _FileModel, op: _FileOperator, known: set[int] | dict) -> bool:
    folder = _FOLDERS.get(op.code)
    if folder is None:
        return False
    outputs = [model.tensors[i] for i in op.outputs]
    if not outputs or any(t.type_name not in _NUMPY_TYPES for t in outputs):
        return False
    if folder.kind == "shape":
        return True
    present = [i for i in op.inputs if i >= 0]
    if not all(i in known for i in present):
        return False
    if folder.kind == "move":
        activation = getattr(op.options, "fused_activation_function", 0)
        data_quants = [model.tensors[i].quant for i in present[:1]] + [t.quant for t in outputs]
        if op.code in (BuiltinOperator.CONCATENATION, BuiltinOperator.PACK):
            data_quants += [model.tensors[i].quant for i in present]
        return activation == 0 and all(_same_quant(data_quants[0], q) for q in data_quants)
    if folder.kind == "arith":
        tensors = [model.tensors[i] for i in present] + outputs
        return all(t.quant is None for t in tensors)
    if op.code == BuiltinOperator.QUANTIZE:
        source = model.tensors[present[0]] if present else None
        return source is not None and source.quant is None and outputs[0].quant is not None
    return True


def _same_quant(a: Quant | None, b: Quant | None) -> bool:
    return (a is None and b is None) or (a is not None and a.same_as(b) and a.axis == b.axis)


def _fold(op: _Op) -> None:
    folder = _FOLDERS[op.op.code]
    try:
        results = folder.evaluate(op)
    except (ValueError, IndexError, TypeError) as exc:
        raise ModelFormatError(f"{op.label}: cannot evaluate its constant inputs ({exc})") from exc
    for i, result in enumerate(results):
        tensor = op.output_tensor(i)
        value = np.asarray(result).astype(np.dtype(_NUMPY_TYPES[tensor.type_name]))
        if value.shape != tensor.shape:
            raise ModelFormatError(
                f"{op.label}: evaluating its constant inputs gives shape {list(value.shape)} "
                f"for '{tensor.name}', but the model declares {list(tensor.shape)}"
            )
        op.conversion.values[op.op.outputs[i]] = value


@_folder(BuiltinOperator.SHAPE, kind="shape")
def _fold_shape(op: _Op) -> list[np.ndarray]:
    # NOTE: a dynamic dimension (shape_signature -1) folds to its static size in the file,
    # normally batch 1, which is the batch edgec compiles for.
    return [np.array(op.input_shape(0))]


@_folder(BuiltinOperator.STRIDED_SLICE, kind="move")
def _fold_strided_slice(op: _Op) -> list[np.ndarray]:
    data, begin, end = op.value(0), op.value(1), op.value(2)
    strides = op.value(3) if op.has_input(3) else np.ones_like(begin)
    options = op.options("StridedSliceOptions")
    if getattr(options, "offset", False):
        end = begin + end  # with ``offset`` set, the end input contains slice sizes
    index = []
    for i in range(len(begin)):
        bit = 1 << i
        if options.ellipsis_mask & bit:
            index.append(Ellipsis)
        elif options.new_axis_mask & bit:
            index.append(np.newaxis)
        elif options.shrink_axis_mask & bit:
            # TFLite applies begin_mask to a shrunk axis too: it then takes the first element
            # (the last one for a negative stride), which LiteRT 2.3 confirms.
            first = 0 if strides[i] > 0 else -1
            index.append(first if options.begin_mask & bit else int(begin[i]))
        else:
            start = None if options.begin_mask & bit else int(begin[i])
            stop = None if options.end_mask & bit else int(end[i])
            index.append(slice(start, stop, int(strides[i])))
    return [data[tuple(index)]]


@_folder(BuiltinOperator.SLICE, kind="move")
def _fold_slice(op: _Op) -> list[np.ndarray]:
    data, begin, size = op.value(0), op.value(1), op.value(2)
    index = tuple(
        slice(int(b), None if s == -1 else int(b) + int(s)) for b, s in zip(begin, size)
    )
    return [data[index]]


@_folder(BuiltinOperator.PACK, kind="move")
def _fold_pack(op: _Op) -> list[np.ndarray]:
    values = [op.value(i) for i in range(len(op.op.inputs))]
    return [np.stack(values, axis=op.options("PackOptions").axis)]


@_folder(BuiltinOperator.GATHER, kind="move")
def _fold_gather(op: _Op) -> list[np.ndarray]:
    options = op.options("GatherOptions")
    if options.batch_dims != 0:
        raise UnsupportedAttributeError(
            f"{op.label}: batch_dims={options.batch_dims} is not supported; edgec folds "
            "GATHER with batch_dims 0"
        )
    return [np.take(op.value(0), op.value(1), axis=options.axis)]


@_folder(BuiltinOperator.CONCATENATION, kind="move")
def _fold_concatenation(op: _Op) -> list[np.ndarray]:
    values = [op.value(i) for i in range(len(op.op.inputs))]
    return [np.concatenate(values, axis=op.options("ConcatenationOptions").axis)]


@_folder(
    BuiltinOperator.RESHAPE, BuiltinOperator.SQUEEZE, BuiltinOperator.EXPAND_DIMS, kind="move"
)
def _fold_reshape(op: _Op) -> list[np.ndarray]:
    # The output tensor's shape is authoritative, so the shape input is not read.
    return [np.reshape(op.value(0), op.output_tensor().shape)]


@_folder(BuiltinOperator.TRANSPOSE, kind="move")
def _fold_transpose(op: _Op) -> list[np.ndarray]:
    return [np.transpose(op.value(0), [int(p) for p in op.value(1)])]


@_folder(BuiltinOperator.PAD, BuiltinOperator.PADV2, kind="move")
def _fold_pad(op: _Op) -> list[np.ndarray]:
    quant = op.output_tensor().quant
    fill = quant.zero_point[0] if quant is not None else 0
    if op.has_input(2):
        fill = op.value(2).reshape(-1)[0]
    return [np.pad(op.value(0), op.value(1).astype(np.int64), constant_values=fill)]


@_folder(BuiltinOperator.CAST, kind="arith")
def _fold_cast(op: _Op) -> list[np.ndarray]:
    return [op.value(0)]  # ``_fold`` converts to the output tensor's type


@_folder(BuiltinOperator.FILL, kind="arith")
def _fold_fill(op: _Op) -> list[np.ndarray]:
    return [np.full([int(d) for d in op.value(0)], op.value(1))]


@_folder(BuiltinOperator.RANGE, kind="arith")
def _fold_range(op: _Op) -> list[np.ndarray]:
    return [np.arange(op.value(0), op.value(1), op.value(2))]


_BINARY_FUNCTIONS = {
    BuiltinOperator.ADD: np.add,
    BuiltinOperator.SUB: np.subtract,
    BuiltinOperator.MUL: np.multiply,
    BuiltinOperator.MAXIMUM: np.maximum,
    BuiltinOperator.MINIMUM: np.minimum,
    BuiltinOperator.FLOOR_DIV: np.floor_divide,
}


@_folder(*_BINARY_FUNCTIONS, kind="arith")
def _fold_binary(op: _Op) -> list[np.ndarray]:
    result = _BINARY_FUNCTIONS[op.op.code](op.value(0), op.value(1))
    clamp = op.activation()
    if clamp is not None:
        result = np.clip(result, clamp[0], clamp[1]).astype(result.dtype)
    return [result]


@_folder(BuiltinOperator.REDUCE_PROD, kind="arith")
def _fold_reduce_prod(op: _Op) -> list[np.ndarray]:
    axes = tuple(int(a) for a in op.value(1).reshape(-1))
    keepdims = bool(op.options("ReducerOptions").keep_dims)
    return [np.prod(op.value(0), axis=axes, keepdims=keepdims)]


@_folder(BuiltinOperator.QUANTIZE, BuiltinOperator.DEQUANTIZE, kind="quantize")
def _fold_quantize(op: _Op) -> list[np.ndarray]:
    source = op.input_tensor(0)
    value = op.value(0)
    if op.op.code == BuiltinOperator.DEQUANTIZE:
        if source.quant is None:
            return [value.astype(np.float32)]  # float16 weights
        scale, zero_point = _broadcast_quant(source.quant, value.ndim)
        return [((value.astype(np.int64) - zero_point) * scale).astype(np.float32)]
    target = op.output_tensor()
    scale, zero_point = _broadcast_quant(target.quant, value.ndim)
    # Divide in float32 and round half away from zero, as TFLite's QUANTIZE does. Division
    # in float64 rounds differently near ties, which a test against LiteRT shows.
    scaled = value.astype(np.float32) / scale
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)
    info = np.iinfo(np.dtype(_NUMPY_TYPES[target.type_name]))
    return [np.clip(rounded + zero_point, info.min, info.max)]


def _broadcast_quant(quant: Quant, ndim: int) -> tuple[np.ndarray, np.ndarray]:
    if quant.axis is None:
        return quant.scale[0], quant.zero_point[0]
    shape = [1] * ndim
    shape[quant.axis] = quant.scale.size
    return quant.scale.reshape(shape), quant.zero_point.reshape(shape)


# ---------------------------------------------------------------------------------------------
# Converters: one function per TFLite builtin op, appending IR nodes.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Converter:
    """A converter function and whether the op computes (so it needs quantized activations)."""

    convert: Callable[[_Op], None]
    compute: bool


_CONVERTERS: dict[int, _Converter] = {}


def _converter(*codes: int, compute: bool = True):
    def register(convert):
        for code in codes:
            _CONVERTERS[code] = _Converter(convert, compute)
        return convert

    return register


def _convert(op: _Op) -> None:
    converter = _CONVERTERS[op.op.code]
    if converter.compute and op.output_tensor().quant is None:
        raise UnsupportedAttributeError(
            f"{op.label}: output has type {op.output_tensor().type_name} without quantization "
            "parameters; edgec compiles quantized int8/int16 arithmetic only"
        )
    converter.convert(op)


def output_size(
    padding: str, input_size: int, filter_size: int, stride: int, dilation: int = 1
) -> int:
    """Return the output length of a window op along one axis, as TFLite computes it.

    ``padding`` is "SAME" (ceil(input / stride)) or "VALID" (windows that fit entirely,
    with the dilated filter length ``(filter_size - 1) * dilation + 1``).
    """
    effective_filter = (filter_size - 1) * dilation + 1
    if padding == "SAME":
        return (input_size + stride - 1) // stride
    return max(0, (input_size - effective_filter) // stride + 1)


def resolve_padding(
    padding: str, input_size: int, filter_size: int, stride: int, dilation: int = 1
) -> tuple[int, int]:
    """Return (pad_before, pad_after) for TFLite SAME/VALID padding along one axis.

    The total padding is what the last window needs beyond the input, and never negative.
    The smaller half goes before, so an odd total puts the extra element after (bottom or
    right). VALID always resolves to (0, 0).
    """
    effective_filter = (filter_size - 1) * dilation + 1
    out = output_size(padding, input_size, filter_size, stride, dilation)
    total = max(0, (out - 1) * stride + effective_filter - input_size)
    return total // 2, total - total // 2


_PADDING_NAMES = {Padding.SAME: "SAME", Padding.VALID: "VALID"}


def _window_pads(
    op: _Op,
    padding_code: int,
    kernel: tuple[int, int],
    strides: tuple[int, int],
    dilations: tuple[int, int],
) -> tuple[int, int, int, int]:
    """Resolve SAME/VALID padding into (top, left, bottom, right) and check the output shape."""
    padding = _PADDING_NAMES.get(padding_code)
    if padding is None:
        raise UnsupportedAttributeError(f"{op.label}: padding mode {padding_code} is unknown")
    if min(strides + dilations) < 1:
        raise ModelFormatError(
            f"{op.label}: strides {strides} and dilations {dilations} must be at least 1"
        )
    input_shape, output_shape = op.input_shape(0), op.output_tensor().shape
    if len(input_shape) != 4 or len(output_shape) != 4:
        raise ModelFormatError(
            f"{op.label}: expected 4-D NHWC input and output, got {list(input_shape)} and "
            f"{list(output_shape)}"
        )
    pads, sizes = [], []
    for axis in (0, 1):
        args = (padding, input_shape[1 + axis], kernel[axis], strides[axis], dilations[axis])
        pads.append(resolve_padding(*args))
        sizes.append(output_size(*args))
    if tuple(sizes) != tuple(output_shape[1:3]):
        raise ModelFormatError(
            f"{op.label}: {padding} padding gives output height and width {sizes}, but the "
            f"output tensor has shape {list(output_shape)}"
        )
    (top, bottom), (left, right) = pads
    return top, left, bottom, right


def _conv_attrs(op: _Op, options: SimpleNamespace, kernel: tuple[int, int]) -> dict:
    strides = (options.stride_h, options.stride_w)
    dilations = (options.dilation_h_factor, options.dilation_w_factor)
    return {
        "strides": strides,
        "dilations": dilations,
        "pads": _window_pads(op, options.padding, kernel, strides, dilations),
        "activation": op.activation(),
    }


@_converter(BuiltinOperator.CONV_2D)
def _convert_conv2d(op: _Op) -> None:
    input_shape, filter_shape = op.input_shape(0), op.input_shape(1)
    if len(filter_shape) != 4:
        raise ModelFormatError(f"{op.label}: filter shape {list(filter_shape)} is not OHWI")
    if len(input_shape) == 4 and input_shape[3] != filter_shape[3]:
        raise UnsupportedAttributeError(
            f"{op.label}: input has {input_shape[3]} channels but the filter takes "
            f"{filter_shape[3]}; grouped convolution is not supported"
        )
    options = op.options("Conv2DOptions")
    attrs = _conv_attrs(op, options, (filter_shape[1], filter_shape[2]))
    op.emit("conv2d", [op.input(0), op.input(1), op.input(2)], attrs)


@_converter(BuiltinOperator.DEPTHWISE_CONV_2D)
def _convert_depthwise_conv2d(op: _Op) -> None:
    input_shape, filter_shape = op.input_shape(0), op.input_shape(1)
    if len(filter_shape) != 4 or filter_shape[0] != 1 or len(input_shape) != 4:
        raise ModelFormatError(
            f"{op.label}: expected a 1HWC filter and NHWC input, got {list(filter_shape)} "
            f"and {list(input_shape)}"
        )
    channels, filter_channels = input_shape[3], filter_shape[3]
    if channels == 0 or filter_channels % channels:
        raise ModelFormatError(
            f"{op.label}: filter has {filter_channels} output channels, not a multiple of "
            f"the {channels} input channels"
        )
    options = op.options("DepthwiseConv2DOptions")
    attrs = _conv_attrs(op, options, (filter_shape[1], filter_shape[2]))
    # The stored depth_multiplier may be 0 or stale (converters do not always update it), so
    # the filter and input channel counts define it, as TFLite's kernels do.
    attrs["depth_multiplier"] = filter_channels // channels
    op.emit("depthwise_conv2d", [op.input(0), op.input(1), op.input(2)], attrs)


@_converter(BuiltinOperator.FULLY_CONNECTED)
def _convert_fully_connected(op: _Op) -> None:
    options = op.options("FullyConnectedOptions")
    if options.weights_format != 0:
        raise UnsupportedAttributeError(
            f"{op.label}: shuffled weights format {options.weights_format} is not supported; "
            "edgec reads DEFAULT (O, I) weights"
        )
    filter_shape, input_shape = op.input_shape(1), op.input_shape(0)
    if len(filter_shape) != 2:
        raise ModelFormatError(f"{op.label}: filter shape {list(filter_shape)} is not (O, I)")
    out_features, in_features = filter_shape
    input_elements = int(np.prod(input_shape, dtype=np.int64))
    output_elements = int(np.prod(op.output_tensor().shape, dtype=np.int64))
    rows = input_elements // in_features if in_features else 0
    if in_features == 0 or input_elements % in_features or rows * out_features != output_elements:
        raise ModelFormatError(
            f"{op.label}: input {list(input_shape)}, filter {list(filter_shape)} and output "
            f"{list(op.output_tensor().shape)} do not fit together"
        )
    data = op.input(0)
    if not input_shape or input_shape[-1] != in_features:
        # TFLite flattens the input to (rows, I), but the IR op reads rows of the last
        # dimension, so an explicit reshape makes that layout visible.
        data = op.conversion.new_tensor(f"{data}/flatten", op.op.inputs[0], (rows, in_features))
        op.emit("reshape", [op.input(0)], outputs=[data])
    # keep_num_dims only changes the output shape, which the output tensor already carries.
    op.emit("fully_connected", [data, op.input(1), op.input(2)], {"activation": op.activation()})


@_converter(BuiltinOperator.AVERAGE_POOL_2D, BuiltinOperator.MAX_POOL_2D)
def _convert_pool2d(op: _Op) -> None:
    options = op.options("Pool2DOptions")
    kernel = (options.filter_height, options.filter_width)
    strides = (options.stride_h, options.stride_w)
    attrs = {
        "kernel": kernel,
        "strides": strides,
        "pads": _window_pads(op, options.padding, kernel, strides, (1, 1)),
        "activation": op.activation(),
    }
    ir_op = "average_pool2d" if op.op.code == BuiltinOperator.AVERAGE_POOL_2D else "max_pool2d"
    op.emit(ir_op, [op.input(0)], attrs)


@_converter(BuiltinOperator.MEAN)
def _convert_mean(op: _Op) -> None:
    rank = len(op.input_shape(0))
    axes = op.constant(1, "axes").reshape(-1)
    if any(not -rank <= int(a) < rank for a in axes):
        raise ModelFormatError(f"{op.label}: axes {axes.tolist()} out of range for rank {rank}")
    # MEAN without options keeps no reduced dimensions, as TFLite's default.
    options = op.options("ReducerOptions") if op.op.options_type else None
    keepdims = bool(options.keep_dims) if options is not None else False
    attrs = {"axes": tuple(sorted({int(a) % rank for a in axes})), "keepdims": keepdims}
    op.emit("mean", [op.input(0)], attrs)


_ELEMENTWISE_OPS = {
    BuiltinOperator.ADD: "add",
    BuiltinOperator.SUB: "sub",
    BuiltinOperator.MUL: "mul",
}


@_converter(*_ELEMENTWISE_OPS)
def _convert_elementwise(op: _Op) -> None:
    # NOTE: AddOptions.pot_scale_int16 is not read. It only matters for int16 ADD and SUB.
    attrs = {"activation": op.activation()}
    op.emit(_ELEMENTWISE_OPS[op.op.code], [op.input(0), op.input(1)], attrs)


_RELU_RANGES = {
    BuiltinOperator.RELU: (0.0, math.inf),
    BuiltinOperator.RELU6: (0.0, 6.0),
    BuiltinOperator.RELU_N1_TO_1: (-1.0, 1.0),
    BuiltinOperator.RELU_0_TO_1: (0.0, 1.0),
}


@_converter(*_RELU_RANGES)
def _convert_relu(op: _Op) -> None:
    op.emit("clip", [op.input(0)], {"activation": _RELU_RANGES[op.op.code]})


@_converter(BuiltinOperator.SOFTMAX)
def _convert_softmax(op: _Op) -> None:
    op.emit("softmax", [op.input(0)], {"beta": float(op.options("SoftmaxOptions").beta)})


@_converter(
    BuiltinOperator.RESHAPE, BuiltinOperator.SQUEEZE, BuiltinOperator.EXPAND_DIMS, compute=False
)
def _convert_reshape(op: _Op) -> None:
    input_shape, output_shape = op.input_shape(0), op.output_tensor().shape
    if np.prod(input_shape, dtype=np.int64) != np.prod(output_shape, dtype=np.int64):
        raise ModelFormatError(
            f"{op.label}: cannot reshape {list(input_shape)} to {list(output_shape)}"
        )
    op.emit("reshape", [op.input(0)])


@_converter(BuiltinOperator.TRANSPOSE, compute=False)
def _convert_transpose(op: _Op) -> None:
    rank = len(op.input_shape(0))
    perm = tuple(int(p) % rank for p in op.constant(1, "perm").reshape(-1))
    if sorted(perm) != list(range(rank)):
        raise ModelFormatError(f"{op.label}: perm {list(perm)} is not a permutation")
    op.emit("transpose", [op.input(0)], {"perm": perm})


@_converter(BuiltinOperator.CONCATENATION, compute=False)
def _convert_concatenation(op: _Op) -> None:
    rank = len(op.output_tensor().shape)
    axis = op.options("ConcatenationOptions").axis
    if not -rank <= axis < rank:
        raise ModelFormatError(f"{op.label}: axis {axis} out of range for rank {rank}")
    inputs = [op.input(i) for i in range(len(op.op.inputs))]
    activation = op.activation()
    if activation is None:
        op.emit("concat", inputs, {"axis": axis % rank})
        return
    # The IR concat has no fused clamp, so a clip node applies the fused activation.
    joined = op.conversion.new_tensor(
        f"{op.output()}/concat", op.op.outputs[0], op.output_tensor().shape
    )
    op.emit("concat", inputs, {"axis": axis % rank}, outputs=[joined])
    op.emit("clip", [joined], {"activation": activation})


@_converter(BuiltinOperator.PAD, BuiltinOperator.PADV2, compute=False)
def _convert_pad(op: _Op) -> None:
    rank = len(op.input_shape(0))
    paddings = op.constant(1, "paddings").astype(np.int64)
    if paddings.shape != (rank, 2) or (paddings < 0).any():
        raise ModelFormatError(
            f"{op.label}: paddings {paddings.tolist()} must be {rank} non-negative pairs"
        )
    if op.has_input(2):
        _check_pad_value(op, op.constant(2, "constant_values").reshape(-1))
    pads = tuple((int(before), int(after)) for before, after in paddings)
    op.emit("pad", [op.input(0)], {"pads": pads})


def _check_pad_value(op: _Op, value: np.ndarray) -> None:
    """Reject a PADV2 fill value other than real 0.0, the only one the IR pad op uses."""
    quant = op.input_tensor(2).quant or op.input_tensor(0).quant
    zero = quant.zero_point[0] if quant is not None else 0
    if value.size != 1 or value[0] != zero:
        raise UnsupportedAttributeError(
            f"{op.label}: pads with {value.tolist()}; edgec pads with real 0.0 (quantized "
            f"value {zero}) only"
        )


@_converter(BuiltinOperator.QUANTIZE, compute=False)
def _convert_quantize(op: _Op) -> None:
    if op.output_tensor().quant is None:
        raise ModelFormatError(f"{op.label}: the output has no quantization parameters")
    op.emit("quantize", [op.input(0)])


@_converter(BuiltinOperator.DEQUANTIZE, compute=False)
def _convert_dequantize(op: _Op) -> None:
    op.emit("dequantize", [op.input(0)])


# ---------------------------------------------------------------------------------------------
# Entry point.
# ---------------------------------------------------------------------------------------------


def load_tflite(path: str | Path) -> Graph:
    """Load a quantized TFLite model as an IR graph that passes ``Graph.check``.

    Raises ``ModelFormatError`` for a missing, empty, truncated or invalid file or a model
    with more than one subgraph, ``UnsupportedOperatorError`` for float compute ops or ops
    without a converter (all listed in one message), and ``UnsupportedAttributeError`` for
    options edgec cannot compile.
    """
    model = _read_model(path)
    _check_operators(model)
    conversion = _Conversion(model)
    for file_op in model.operators:
        op = _Op(conversion, file_op)
        if _can_fold(model, file_op, conversion.values):
            _fold(op)
        else:
            _convert(op)
    graph = conversion.finish()
    graph.check()
    return graph
