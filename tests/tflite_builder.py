"""A minimal TFLite flatbuffer writer for generated test models.

Models are written with the ``flatbuffers`` builder and the builder functions of the
``tflite`` package, so a single operator can be exercised without a TensorFlow installation.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import flatbuffers
import numpy as np
from tflite.ActivationFunctionType import ActivationFunctionType
from tflite.BuiltinOptions import BuiltinOptions
from tflite.Padding import Padding
from tflite.TensorType import TensorType

from edgec.frontend.tflite import load_tflite

_NUMPY_OF_TYPE = {
    TensorType.FLOAT32: "<f4",
    TensorType.INT8: "i1",
    TensorType.INT16: "<i2",
    TensorType.INT32: "<i4",
    TensorType.INT64: "<i8",
}


@dataclass
class T:
    """A tensor of a generated model; ``data`` makes it a constant."""

    name: str
    shape: tuple[int, ...]
    type: int = TensorType.INT8
    data: np.ndarray | None = None
    scale: list[float] | None = None
    zero_point: list[int] | None = None
    axis: int = 0


@dataclass
class Op:
    """An operator of a generated model; ``options`` is (options table name, field values)."""

    code: int
    inputs: list[str]
    outputs: list[str]
    options: tuple[str, dict] | None = None
    custom_code: str = ""


def _module(name: str):
    return importlib.import_module(f"tflite.{name}")


def _vector(builder: flatbuffers.Builder, values, dtype: str) -> int:
    return builder.CreateNumpyVector(np.asarray(values, dtype=dtype))


def _offset_vector(builder: flatbuffers.Builder, offsets: list[int]) -> int:
    builder.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        builder.PrependUOffsetTRelative(offset)
    return builder.EndVector()


def _write_options(builder: flatbuffers.Builder, name: str, values: dict) -> int:
    module = _module(name)
    getattr(module, f"{name}Start")(builder)
    for key, value in values.items():
        camel = "".join(part.capitalize() for part in key.split("_"))
        getattr(module, f"{name}Add{camel}")(builder, value)
    return getattr(module, f"{name}End")(builder)


def _write_tensor(builder: flatbuffers.Builder, tensor: T, buffer_index: int) -> int:
    m = _module("Tensor")
    q = _module("QuantizationParameters")
    name = builder.CreateString(tensor.name)
    shape = _vector(builder, tensor.shape, "<i4")
    quant = None
    if tensor.scale is not None:
        scale = _vector(builder, tensor.scale, "<f4")
        zero_point = _vector(builder, tensor.zero_point or [0] * len(tensor.scale), "<i8")
        q.QuantizationParametersStart(builder)
        q.QuantizationParametersAddScale(builder, scale)
        q.QuantizationParametersAddZeroPoint(builder, zero_point)
        q.QuantizationParametersAddQuantizedDimension(builder, tensor.axis)
        quant = q.QuantizationParametersEnd(builder)
    m.TensorStart(builder)
    m.TensorAddShape(builder, shape)
    m.TensorAddType(builder, tensor.type)
    m.TensorAddBuffer(builder, buffer_index)
    m.TensorAddName(builder, name)
    if quant is not None:
        m.TensorAddQuantization(builder, quant)
    return m.TensorEnd(builder)


def _write_subgraph(builder, tensors, operators, inputs, outputs, opcode_index) -> int:
    index_of = {t.name: i for i, t in enumerate(tensors)}
    tensor_offsets = []
    for i, tensor in enumerate(tensors):
        buffer_index = i + 1 if tensor.data is not None else 0
        tensor_offsets.append(_write_tensor(builder, tensor, buffer_index))

    operator_offsets = []
    m = _module("Operator")
    for op in operators:
        options = None
        if op.options is not None:
            options = _write_options(builder, *op.options)
        op_inputs = _vector(builder, [index_of[n] if n else -1 for n in op.inputs], "<i4")
        op_outputs = _vector(builder, [index_of[n] for n in op.outputs], "<i4")
        m.OperatorStart(builder)
        m.OperatorAddOpcodeIndex(builder, opcode_index[(op.code, op.custom_code)])
        m.OperatorAddInputs(builder, op_inputs)
        m.OperatorAddOutputs(builder, op_outputs)
        if options is not None:
            m.OperatorAddBuiltinOptionsType(builder, getattr(BuiltinOptions, op.options[0]))
            m.OperatorAddBuiltinOptions(builder, options)
        operator_offsets.append(m.OperatorEnd(builder))

    s = _module("SubGraph")
    tensor_vector = _offset_vector(builder, tensor_offsets)
    operator_vector = _offset_vector(builder, operator_offsets)
    input_vector = _vector(builder, [index_of[n] for n in inputs], "<i4")
    output_vector = _vector(builder, [index_of[n] for n in outputs], "<i4")
    s.SubGraphStart(builder)
    s.SubGraphAddTensors(builder, tensor_vector)
    s.SubGraphAddOperators(builder, operator_vector)
    s.SubGraphAddInputs(builder, input_vector)
    s.SubGraphAddOutputs(builder, output_vector)
    return s.SubGraphEnd(builder)


def build_model(tensors, operators, inputs, outputs, subgraph_count: int = 1) -> bytes:
    """Serialize a one-subgraph TFLite model (repeated ``subgraph_count`` times)."""
    builder = flatbuffers.Builder(1024)
    b = _module("Buffer")
    buffer_offsets = []
    for tensor in [None] + list(tensors):
        data = None
        if tensor is not None and tensor.data is not None:
            raw = np.asarray(tensor.data, dtype=_NUMPY_OF_TYPE[tensor.type]).tobytes()
            data = builder.CreateByteVector(raw)
        b.BufferStart(builder)
        if data is not None:
            b.BufferAddData(builder, data)
        buffer_offsets.append(b.BufferEnd(builder))

    codes = list(dict.fromkeys((op.code, op.custom_code) for op in operators))
    opcode_index = {key: i for i, key in enumerate(codes)}
    c = _module("OperatorCode")
    opcode_offsets = []
    for code, custom_code in codes:
        custom = builder.CreateString(custom_code) if custom_code else None
        c.OperatorCodeStart(builder)
        c.OperatorCodeAddDeprecatedBuiltinCode(builder, min(code, 127))
        c.OperatorCodeAddBuiltinCode(builder, code)
        if custom is not None:
            c.OperatorCodeAddCustomCode(builder, custom)
        c.OperatorCodeAddVersion(builder, 1)
        opcode_offsets.append(c.OperatorCodeEnd(builder))

    subgraphs = [
        _write_subgraph(builder, tensors, operators, inputs, outputs, opcode_index)
        for _ in range(subgraph_count)
    ]
    m = _module("Model")
    opcode_vector = _offset_vector(builder, opcode_offsets)
    subgraph_vector = _offset_vector(builder, subgraphs)
    buffer_vector = _offset_vector(builder, buffer_offsets)
    m.ModelStart(builder)
    m.ModelAddVersion(builder, 3)
    m.ModelAddOperatorCodes(builder, opcode_vector)
    m.ModelAddSubgraphs(builder, subgraph_vector)
    m.ModelAddBuffers(builder, buffer_vector)
    builder.Finish(m.ModelEnd(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def write_model(tmp_path: Path, tensors, operators, inputs, outputs, **kwargs) -> Path:
    path = tmp_path / "generated.tflite"
    path.write_bytes(build_model(tensors, operators, inputs, outputs, **kwargs))
    return path


def act(name: str, shape, scale: float = 0.05, zero_point: int = -3, **kwargs) -> T:
    """Return an int8 activation tensor spec."""
    return T(name, tuple(shape), TensorType.INT8, None, [scale], [zero_point], **kwargs)


def const(name: str, values, type_: int = TensorType.INT32, **kwargs) -> T:
    data = np.asarray(values, dtype=_NUMPY_OF_TYPE[type_])
    return T(name, data.shape, type_, data, **kwargs)


def load_single_op(tmp_path: Path, op: Op, tensors: list[T]):
    """Load a model made of one operator; inputs without data become graph inputs."""
    by_name = {t.name: t for t in tensors}
    inputs = [n for n in op.inputs if n and by_name[n].data is None]
    path = write_model(tmp_path, tensors, [op], inputs, op.outputs)
    return load_tflite(path)


def conv_options(padding=Padding.SAME, stride=(1, 1), activation=ActivationFunctionType.NONE):
    return {
        "padding": padding,
        "stride_h": stride[0],
        "stride_w": stride[1],
        "dilation_h_factor": 1,
        "dilation_w_factor": 1,
        "fused_activation_function": activation,
    }


def weights(name: str, shape, axis: int) -> T:
    data = np.arange(np.prod(shape)).reshape(shape) % 7 - 3
    channels = shape[axis]
    return T(name, tuple(shape), TensorType.INT8, data, [0.01] * channels, [0] * channels, axis)
