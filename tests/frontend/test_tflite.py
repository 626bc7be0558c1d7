"""Tests of the TFLite frontend on the real int8 models and on small generated flatbuffers.

The generated models are written with the ``flatbuffers`` builder and the builder functions
of the ``tflite`` package, so each converter, folder and error path can be exercised on one
operator without a TensorFlow installation.
"""

from __future__ import annotations

import collections
import math
from pathlib import Path

import numpy as np
import pytest
import tflite
from tflite.ActivationFunctionType import ActivationFunctionType
from tflite.BuiltinOperator import BuiltinOperator
from tflite.Padding import Padding
from tflite.TensorType import TensorType

from edgec.errors import ModelFormatError, UnsupportedAttributeError, UnsupportedOperatorError
from edgec.frontend import load_model
from edgec.frontend.tflite import load_tflite, output_size, resolve_padding
from tests.conftest import MLPERF_TINY
from tests.tflite_builder import (
    Op,
    T,
    act,
    build_model,
    const,
    conv_options,
    load_single_op,
    weights,
    write_model,
)

EXPECTED_OP_COUNTS = {
    "keyword_spotting": {
        "quantize": 1, "conv2d": 5, "depthwise_conv2d": 4, "average_pool2d": 1,
        "reshape": 1, "fully_connected": 1, "softmax": 1, "dequantize": 1,
    },
    "image_classification": {
        "conv2d": 9, "add": 3, "average_pool2d": 1, "reshape": 1, "fully_connected": 1,
        "softmax": 1,
    },
    "visual_wake_words": {
        "quantize": 1, "conv2d": 14, "depthwise_conv2d": 13, "average_pool2d": 1,
        "reshape": 1, "fully_connected": 1, "softmax": 1, "dequantize": 1,
    },
    "anomaly_detection": {
        "quantize": 1, "reshape": 2, "fully_connected": 10, "dequantize": 1,
    },
}


def model_path(models: Path, name: str) -> Path:
    path = models / "tflite" / f"{name}_int8.tflite"
    if not path.exists():
        pytest.skip(f"model file {path} is missing; set EDGEC_MODELS to the models folder")
    return path


def read_subgraph(path: Path):
    model = tflite.Model.GetRootAs(path.read_bytes(), 0)
    return model, model.Subgraphs(0)


# ---------------------------------------------------------------------------------------------
# Real models.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MLPERF_TINY)
def test_real_model_passes_check(models, name):
    graph = load_tflite(model_path(models, name))
    graph.check()
    counts = collections.Counter(node.op for node in graph.nodes)
    assert dict(counts) == EXPECTED_OP_COUNTS[name]


@pytest.mark.parametrize("name", MLPERF_TINY)
def test_real_model_io_in_subgraph_order(models, name):
    path = model_path(models, name)
    graph = load_tflite(path)
    _, subgraph = read_subgraph(path)
    expected_inputs = [subgraph.Tensors(int(i)).Name().decode() for i in subgraph.InputsAsNumpy()]
    expected_outputs = [
        subgraph.Tensors(int(i)).Name().decode() for i in subgraph.OutputsAsNumpy()
    ]
    assert graph.inputs == expected_inputs
    assert graph.outputs == expected_outputs


@pytest.mark.parametrize("name", MLPERF_TINY)
def test_real_model_tensors_match_file(models, name):
    path = model_path(models, name)
    graph = load_tflite(path)
    model, subgraph = read_subgraph(path)
    compared = 0
    for i in range(subgraph.TensorsLength()):
        file_tensor = subgraph.Tensors(i)
        tensor = graph.tensors.get(file_tensor.Name().decode())
        if tensor is None:
            continue
        compared += 1
        assert tensor.shape == tuple(file_tensor.ShapeAsNumpy().tolist()), tensor.name
        params = file_tensor.Quantization()
        if params is None or params.ScaleLength() == 0:
            assert tensor.quant is None, tensor.name
        else:
            assert np.array_equal(tensor.quant.scale, params.ScaleAsNumpy()), tensor.name
            assert tensor.quant.scale.dtype == np.float32
            assert np.array_equal(tensor.quant.zero_point, params.ZeroPointAsNumpy()), tensor.name
            if params.ScaleLength() > 1:
                assert tensor.quant.axis == params.QuantizedDimension(), tensor.name
        buffer = model.Buffers(file_tensor.Buffer())
        if buffer.DataLength():
            assert tensor.data is not None, tensor.name
            assert tensor.data.tobytes() == buffer.DataAsNumpy().tobytes(), tensor.name
        else:
            assert tensor.data is None, tensor.name
    assert compared == len(graph.tensors)


def test_keyword_spotting_first_conv_values(models):
    graph = load_tflite(model_path(models, "keyword_spotting"))
    conv = next(n for n in graph.nodes if n.op == "conv2d")
    weights_tensor = graph.tensors[conv.inputs[1]]
    bias = graph.tensors[conv.inputs[2]]
    assert weights_tensor.dtype == "int8"
    assert weights_tensor.shape == (64, 10, 4, 1)
    assert weights_tensor.quant.axis == 0
    assert bias.dtype == "int32"
    assert bias.quant.scale.size == 64
    # 50x10 input, 10x4 filter, stride 2, SAME: totals 8 (height) and 2 (width).
    assert conv.attrs["pads"] == (4, 1, 4, 1)
    assert conv.attrs["strides"] == (2, 2)
    assert conv.attrs["activation"] == (0.0, math.inf)


def test_anomaly_detection_has_no_shape_ops(models):
    graph = load_tflite(model_path(models, "anomaly_detection"))
    assert {n.op for n in graph.nodes} == {"quantize", "reshape", "fully_connected", "dequantize"}
    for removed in ["model/reshape/Shape", "model/reshape/strided_slice2",
                    "model/reshape/Reshape/shape", "model/flatten/Const"]:
        assert removed not in graph.tensors
    last_reshape = [n for n in graph.nodes if n.op == "reshape"][-1]
    assert last_reshape.inputs == ["model/dense_9/MatMul;model/dense_9/BiasAdd"]
    assert graph.tensors[last_reshape.outputs[0]].shape == (1, 5, 128, 1)
    int32_constants = [t for t in graph.tensors.values() if t.is_constant and t.dtype == "int32"]
    assert all(t.quant is not None for t in int32_constants)  # only biases remain


def test_anomaly_detection_fully_connected_attrs(models):
    graph = load_tflite(model_path(models, "anomaly_detection"))
    fcs = [n for n in graph.nodes if n.op == "fully_connected"]
    assert [n.attrs["activation"] for n in fcs] == [(0.0, math.inf)] * 9 + [None]
    assert graph.tensors[fcs[0].inputs[1]].shape == (128, 640)


def test_per_channel_filter_axes(models):
    graph = load_tflite(model_path(models, "visual_wake_words"))
    for node in graph.nodes:
        if node.op in ("conv2d", "depthwise_conv2d"):
            quant = graph.tensors[node.inputs[1]].quant
            expected_axis = 0 if node.op == "conv2d" else 3
            assert quant.axis == expected_axis, node.name
            assert quant.scale.size == graph.tensors[node.inputs[1]].shape[expected_axis]


def test_depthwise_multiplier_on_real_model(models):
    graph = load_tflite(model_path(models, "visual_wake_words"))
    depthwise = [n for n in graph.nodes if n.op == "depthwise_conv2d"]
    assert depthwise
    assert all(n.attrs["depth_multiplier"] == 1 for n in depthwise)


def test_stride2_same_conv_pads_on_real_model(models):
    graph = load_tflite(model_path(models, "image_classification"))
    strided = [n for n in graph.nodes if n.op == "conv2d" and n.attrs["strides"] == (2, 2)]
    by_kernel = {graph.tensors[n.inputs[1]].shape[1]: n.attrs["pads"] for n in strided}
    # 3x3 stride 2 on 32 -> 16: total (16 - 1) * 2 + 3 - 32 = 1, so 0 before and 1 after.
    assert by_kernel[3] == (0, 0, 1, 1)
    # 1x1 stride 2 on 32 -> 16: total (16 - 1) * 2 + 1 - 32 = -1, clamped to 0.
    assert by_kernel[1] == (0, 0, 0, 0)


# ---------------------------------------------------------------------------------------------
# Padding arithmetic.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected_pads", "expected_size"),
    [
        (("SAME", 32, 3, 2), (0, 1), 16),  # total 1: the extra element goes after
        (("SAME", 50, 10, 2), (4, 4), 25),  # total 8
        (("SAME", 10, 4, 2), (1, 1), 5),  # total 2
        (("SAME", 7, 3, 2), (1, 1), 4),  # total (4 - 1) * 2 + 3 - 7 = 2
        (("SAME", 6, 1, 2), (0, 0), 3),  # total -1, clamped to 0
        (("SAME", 10, 3, 1, 2), (2, 2), 10),  # dilation 2: effective filter 5, total 4
        (("VALID", 32, 3, 2), (0, 0), 15),
        (("VALID", 10, 3, 1, 2), (0, 0), 6),
    ],
)
def test_resolve_padding_cases(args, expected_pads, expected_size):
    assert resolve_padding(*args) == expected_pads
    assert output_size(*args) == expected_size


def _conv_nhwc(x, w, pads, stride, dilation):
    """Compute a float NHWC convolution with explicit (top, left, bottom, right) pads."""
    top, left, bottom, right = pads
    padded = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    _, kernel_h, kernel_w, _ = w.shape
    span_h = (kernel_h - 1) * dilation + 1
    span_w = (kernel_w - 1) * dilation + 1
    out_h = (padded.shape[1] - span_h) // stride + 1
    out_w = (padded.shape[2] - span_w) // stride + 1
    y = np.zeros((x.shape[0], out_h, out_w, w.shape[0]), np.float32)
    for i in range(out_h):
        for j in range(out_w):
            rows = slice(i * stride, i * stride + span_h, dilation)
            cols = slice(j * stride, j * stride + span_w, dilation)
            y[:, i, j, :] = np.einsum("nhwc,ohwc->no", padded[:, rows, cols, :], w)
    return y


@pytest.mark.parametrize(
    ("height", "width", "kernel", "stride", "dilation", "padding"),
    [
        (8, 7, (3, 2), 2, 1, Padding.SAME),  # odd totals: the extra row and column go after
        (10, 9, (4, 3), 3, 1, Padding.SAME),
        (9, 9, (3, 3), 1, 2, Padding.SAME),
        (11, 6, (5, 2), 2, 2, Padding.SAME),
        (8, 8, (3, 3), 2, 1, Padding.VALID),
    ],
)
def test_resolve_padding_matches_litert_conv(height, width, kernel, stride, dilation, padding):
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter")
    mode = "SAME" if padding == Padding.SAME else "VALID"
    pads_h = resolve_padding(mode, height, kernel[0], stride, dilation)
    pads_w = resolve_padding(mode, width, kernel[1], stride, dilation)
    out_h = output_size(mode, height, kernel[0], stride, dilation)
    out_w = output_size(mode, width, kernel[1], stride, dilation)
    rng = np.random.default_rng(0)
    w = rng.standard_normal((2, *kernel, 1)).astype(np.float32)
    x = rng.standard_normal((1, height, width, 1)).astype(np.float32)
    tensors = [
        T("x", x.shape, TensorType.FLOAT32),
        T("w", w.shape, TensorType.FLOAT32, w),
        T("b", (2,), TensorType.FLOAT32, np.zeros(2)),
        T("y", (1, out_h, out_w, 2), TensorType.FLOAT32),
    ]
    options = dict(conv_options(padding, (stride, stride)), dilation_h_factor=dilation,
                   dilation_w_factor=dilation)
    op = Op(BuiltinOperator.CONV_2D, ["x", "w", "b"], ["y"], ("Conv2DOptions", options))
    interpreter = interpreter_module.Interpreter(
        model_content=build_model(tensors, [op], ["x"], ["y"]),
        experimental_op_resolver_type=interpreter_module.OpResolverType.BUILTIN_REF,
    )
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    actual = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    expected = _conv_nhwc(x, w, (pads_h[0], pads_w[0], pads_h[1], pads_w[1]), stride, dilation)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# Invalid files.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.0005, 0.1, 0.5, 0.9, 0.9999])
def test_truncated_model_raises(models, tmp_path, fraction):
    data = model_path(models, "keyword_spotting").read_bytes()
    path = tmp_path / "truncated.tflite"
    path.write_bytes(data[: max(8, int(len(data) * fraction))])
    with pytest.raises(ModelFormatError, match="not a valid TFLite model"):
        load_tflite(path)


def test_model_missing_last_byte_raises(models, tmp_path):
    data = model_path(models, "image_classification").read_bytes()
    path = tmp_path / "short.tflite"
    path.write_bytes(data[:-1])
    with pytest.raises(ModelFormatError, match="short.tflite: not a valid TFLite model"):
        load_tflite(path)


def test_empty_file_raises(tmp_path):
    path = tmp_path / "empty.tflite"
    path.write_bytes(b"")
    with pytest.raises(ModelFormatError, match=r"not a valid TFLite model \(empty file\)"):
        load_tflite(path)


def test_text_file_raises(tmp_path):
    path = tmp_path / "notes.tflite"
    path.write_text("this is not a flatbuffer\n")
    with pytest.raises(ModelFormatError, match="no TFL3 file identifier"):
        load_tflite(path)


def test_missing_file_raises(tmp_path):
    with pytest.raises(ModelFormatError, match="cannot read the model file"):
        load_tflite(tmp_path / "absent.tflite")


def test_multiple_subgraphs_raise(tmp_path):
    tensors = [act("x", (1, 4)), act("y", (1, 4))]
    ops = [Op(BuiltinOperator.RELU, ["x"], ["y"])]
    path = write_model(tmp_path, tensors, ops, ["x"], ["y"], subgraph_count=2)
    with pytest.raises(ModelFormatError, match="2 subgraphs"):
        load_tflite(path)


# ---------------------------------------------------------------------------------------------
# Unsupported and float models.
# ---------------------------------------------------------------------------------------------


def _patch_opcode(data: bytearray, old_code: int, new_code: int) -> None:
    """Rewrite every opcode entry ``old_code`` in a TFLite file to ``new_code`` in place."""
    model = tflite.Model.GetRootAs(bytes(data), 0)
    for i in range(model.OperatorCodesLength()):
        opcode = model.OperatorCodes(i)
        if opcode.BuiltinCode() != old_code:
            continue
        table = opcode._tab
        deprecated_at = table.Pos + table.Offset(4)  # int8 deprecated_builtin_code
        builtin_at = table.Pos + table.Offset(10)  # int32 builtin_code
        data[deprecated_at] = new_code
        data[builtin_at : builtin_at + 4] = new_code.to_bytes(4, "little")


def test_unsupported_ops_listed_together(models, tmp_path):
    data = bytearray(model_path(models, "keyword_spotting").read_bytes())
    _patch_opcode(data, BuiltinOperator.SOFTMAX, BuiltinOperator.TANH)
    _patch_opcode(data, BuiltinOperator.AVERAGE_POOL_2D, BuiltinOperator.L2_POOL_2D)
    path = tmp_path / "patched.tflite"
    path.write_bytes(bytes(data))
    with pytest.raises(UnsupportedOperatorError) as info:
        load_tflite(path)
    message = str(info.value)
    assert "2 unsupported operators:" in message
    assert "#10 L2_POOL_2D (output 'model/average_pooling2d/AvgPool')" in message
    assert "#13 TANH (output 'Identity_int8')" in message
    assert "\n" not in message


def test_unsupported_custom_op_listed(tmp_path):
    tensors = [act("x", (1, 8)), act("a", (1, 8)), act("b", (1, 8)), act("c", (1, 8))]
    ops = [
        Op(BuiltinOperator.LOGISTIC, ["x"], ["a"]),
        Op(BuiltinOperator.CUSTOM, ["a"], ["b"], custom_code="MyOp"),
        Op(BuiltinOperator.RELU, ["b"], ["c"]),
    ]
    path = write_model(tmp_path, tensors, ops, ["x"], ["c"])
    with pytest.raises(UnsupportedOperatorError) as info:
        load_tflite(path)
    message = str(info.value)
    assert "2 unsupported operators" in message
    assert "#0 LOGISTIC (output 'a')" in message
    assert "#1 CUSTOM 'MyOp' (output 'b')" in message
    assert "RELU (output" not in message


def test_float_model_raises_with_onnx_hint(tmp_path):
    tensors = [
        T("x", (1, 4, 4, 1), TensorType.FLOAT32),
        T("w", (1, 3, 3, 1), TensorType.FLOAT32, np.ones((1, 3, 3, 1))),
        T("y", (1, 4, 4, 1), TensorType.FLOAT32),
    ]
    ops = [Op(BuiltinOperator.CONV_2D, ["x", "w"], ["y"], ("Conv2DOptions", conv_options()))]
    path = write_model(tmp_path, tensors, ops, ["x"], ["y"])
    with pytest.raises(UnsupportedOperatorError) as info:
        load_tflite(path)
    message = str(info.value)
    assert "1 operator computing in floating point" in message
    assert "#0 CONV_2D (output 'y')" in message
    assert "edgec compiles int8 TFLite models" in message
    assert "ONNX" in message


def test_fused_tanh_raises_attribute_error(tmp_path):
    tensors = [act("x", (1, 4, 4, 1)), weights("w", (1, 3, 3, 1), 0), act("y", (1, 4, 4, 1))]
    options = conv_options(activation=ActivationFunctionType.TANH)
    op = Op(BuiltinOperator.CONV_2D, ["x", "w"], ["y"], ("Conv2DOptions", options))
    with pytest.raises(UnsupportedAttributeError, match="fused activation TANH"):
        load_single_op(tmp_path, op, tensors)


# ---------------------------------------------------------------------------------------------
# Converters on generated single-op models.
# ---------------------------------------------------------------------------------------------


def test_conv2d_attrs_and_inputs(tmp_path):
    tensors = [
        act("x", (1, 7, 7, 2)),
        weights("w", (3, 3, 3, 2), 0),
        const("b", [1, 2, 3], scale=[0.001] * 3, zero_point=[0] * 3),
        act("y", (1, 4, 4, 3)),
    ]
    options = conv_options(stride=(2, 2), activation=ActivationFunctionType.RELU6)
    op = Op(BuiltinOperator.CONV_2D, ["x", "w", "b"], ["y"], ("Conv2DOptions", options))
    graph = load_single_op(tmp_path, op, tensors)
    (node,) = graph.nodes
    assert node.op == "conv2d"
    assert node.inputs == ["x", "w", "b"]
    assert node.attrs == {
        "strides": (2, 2), "dilations": (1, 1), "pads": (1, 1, 1, 1), "activation": (0.0, 6.0)
    }


def test_conv2d_without_bias_has_empty_input(tmp_path):
    tensors = [act("x", (1, 5, 5, 1)), weights("w", (2, 3, 3, 1), 0), act("y", (1, 3, 3, 2))]
    options = conv_options(padding=Padding.VALID)
    op = Op(BuiltinOperator.CONV_2D, ["x", "w", ""], ["y"], ("Conv2DOptions", options))
    graph = load_single_op(tmp_path, op, tensors)
    assert graph.nodes[0].inputs == ["x", "w", ""]
    assert graph.nodes[0].attrs["pads"] == (0, 0, 0, 0)


def test_conv2d_wrong_options_type_raises(tmp_path):
    tensors = [act("x", (1, 4, 4, 1)), weights("w", (1, 3, 3, 1), 0), act("y", (1, 4, 4, 1))]
    options = {"padding": Padding.SAME, "stride_h": 1, "stride_w": 1}
    op = Op(BuiltinOperator.CONV_2D, ["x", "w"], ["y"], ("Pool2DOptions", options))
    with pytest.raises(ModelFormatError, match="expected builtin options Conv2DOptions, found"):
        load_single_op(tmp_path, op, tensors)


def test_softmax_missing_options_raises(tmp_path):
    tensors = [act("x", (1, 10)), act("y", (1, 10))]
    op = Op(BuiltinOperator.SOFTMAX, ["x"], ["y"])
    with pytest.raises(ModelFormatError, match="SoftmaxOptions, found none"):
        load_single_op(tmp_path, op, tensors)


def test_conv2d_output_shape_mismatch_raises(tmp_path):
    tensors = [act("x", (1, 5, 5, 1)), weights("w", (2, 3, 3, 1), 0), act("y", (1, 5, 5, 2))]
    options = conv_options(padding=Padding.VALID)
    op = Op(BuiltinOperator.CONV_2D, ["x", "w"], ["y"], ("Conv2DOptions", options))
    with pytest.raises(ModelFormatError, match="VALID padding gives output height and width"):
        load_single_op(tmp_path, op, tensors)


@pytest.mark.parametrize("stored_multiplier", [0, 1, 5])
def test_depthwise_multiplier_from_channels(tmp_path, stored_multiplier):
    tensors = [act("x", (1, 4, 4, 2)), weights("w", (1, 3, 3, 6), 3), act("y", (1, 4, 4, 6))]
    options = dict(conv_options(), depth_multiplier=stored_multiplier)
    op = Op(BuiltinOperator.DEPTHWISE_CONV_2D, ["x", "w"], ["y"],
            ("DepthwiseConv2DOptions", options))
    graph = load_single_op(tmp_path, op, tensors)
    (node,) = graph.nodes
    assert node.op == "depthwise_conv2d"
    assert node.attrs["depth_multiplier"] == 3
    assert graph.tensors["w"].quant.axis == 3


def test_fully_connected_flattens_4d_input(tmp_path):
    tensors = [act("x", (1, 2, 2, 4)), weights("w", (3, 16), 0), act("y", (1, 3))]
    op = Op(BuiltinOperator.FULLY_CONNECTED, ["x", "w", ""], ["y"],
            ("FullyConnectedOptions", {"fused_activation_function": ActivationFunctionType.RELU}))
    graph = load_single_op(tmp_path, op, tensors)
    reshape, fc = graph.nodes
    assert reshape.op == "reshape"
    assert reshape.inputs == ["x"]
    flat = graph.tensors[reshape.outputs[0]]
    assert flat.shape == (1, 16)
    assert flat.quant.same_as(graph.tensors["x"].quant)
    assert fc.op == "fully_connected"
    assert fc.inputs == [flat.name, "w", ""]
    assert fc.attrs == {"activation": (0.0, math.inf)}


def test_fully_connected_keep_num_dims(tmp_path):
    tensors = [act("x", (1, 5, 8)), weights("w", (4, 8), 0), act("y", (1, 5, 4))]
    options = {"keep_num_dims": True}
    op = Op(BuiltinOperator.FULLY_CONNECTED, ["x", "w"], ["y"], ("FullyConnectedOptions", options))
    graph = load_single_op(tmp_path, op, tensors)
    (fc,) = graph.nodes
    assert fc.inputs == ["x", "w", ""]
    assert graph.tensors["y"].shape == (1, 5, 4)


@pytest.mark.parametrize(
    ("code", "ir_op"),
    [(BuiltinOperator.AVERAGE_POOL_2D, "average_pool2d"),
     (BuiltinOperator.MAX_POOL_2D, "max_pool2d")],
)
def test_pool2d_attrs(tmp_path, code, ir_op):
    tensors = [act("x", (1, 5, 5, 4)), act("y", (1, 3, 3, 4))]
    options = {"padding": Padding.SAME, "stride_h": 2, "stride_w": 2, "filter_height": 2,
               "filter_width": 3}
    graph = load_single_op(tmp_path, Op(code, ["x"], ["y"], ("Pool2DOptions", options)), tensors)
    (node,) = graph.nodes
    assert node.op == ir_op
    # height: total (3 - 1) * 2 + 2 - 5 = 1; width: total (3 - 1) * 2 + 3 - 5 = 2.
    assert node.attrs == {
        "kernel": (2, 3), "strides": (2, 2), "pads": (0, 1, 1, 1), "activation": None
    }


def test_mean_axes_and_keepdims(tmp_path):
    tensors = [act("x", (1, 3, 3, 4)), const("axes", [2, -3]), act("y", (1, 1, 1, 4))]
    op = Op(BuiltinOperator.MEAN, ["x", "axes"], ["y"], ("ReducerOptions", {"keep_dims": True}))
    (node,) = load_single_op(tmp_path, op, tensors).nodes
    assert node.op == "mean"
    assert node.inputs == ["x"]
    assert node.attrs == {"axes": (1, 2), "keepdims": True}


@pytest.mark.parametrize(
    ("code", "options_name", "ir_op"),
    [(BuiltinOperator.ADD, "AddOptions", "add"), (BuiltinOperator.SUB, "SubOptions", "sub"),
     (BuiltinOperator.MUL, "MulOptions", "mul")],
)
def test_elementwise_activation(tmp_path, code, options_name, ir_op):
    tensors = [act("a", (1, 2, 2, 3)), act("b", (1, 1, 1, 3)), act("y", (1, 2, 2, 3))]
    options = {"fused_activation_function": ActivationFunctionType.RELU_N1_TO_1}
    op = Op(code, ["a", "b"], ["y"], (options_name, options))
    (node,) = load_single_op(tmp_path, op, tensors).nodes
    assert node.op == ir_op
    assert node.inputs == ["a", "b"]
    assert node.attrs == {"activation": (-1.0, 1.0)}


@pytest.mark.parametrize(
    ("code", "expected"),
    [(BuiltinOperator.RELU, (0.0, math.inf)), (BuiltinOperator.RELU6, (0.0, 6.0)),
     (BuiltinOperator.RELU_N1_TO_1, (-1.0, 1.0))],
)
def test_relu_ops_become_clip(tmp_path, code, expected):
    tensors = [act("x", (1, 8)), act("y", (1, 8))]
    (node,) = load_single_op(tmp_path, Op(code, ["x"], ["y"]), tensors).nodes
    assert node.op == "clip"
    assert node.attrs == {"activation": expected}


def test_softmax_beta(tmp_path):
    tensors = [act("x", (1, 10)), act("y", (1, 10), scale=1 / 256, zero_point=-128)]
    op = Op(BuiltinOperator.SOFTMAX, ["x"], ["y"], ("SoftmaxOptions", {"beta": 0.5}))
    (node,) = load_single_op(tmp_path, op, tensors).nodes
    assert node.op == "softmax"
    assert node.attrs == {"beta": 0.5}


@pytest.mark.parametrize(
    ("code", "extra_inputs"),
    [(BuiltinOperator.RESHAPE, [const("shape", [1, 6, 2])]),
     (BuiltinOperator.EXPAND_DIMS, [const("axis", 1)]),
     (BuiltinOperator.SQUEEZE, [])],
)
def test_reshape_family_becomes_reshape(tmp_path, code, extra_inputs):
    output_shapes = {
        BuiltinOperator.RESHAPE: (1, 6, 2),
        BuiltinOperator.EXPAND_DIMS: (1, 1, 12),
        BuiltinOperator.SQUEEZE: (12,),
    }
    tensors = [act("x", (1, 12)), *extra_inputs, act("y", output_shapes[code])]
    op = Op(code, ["x"] + [t.name for t in extra_inputs], ["y"])
    graph = load_single_op(tmp_path, op, tensors)
    (node,) = graph.nodes
    assert node.op == "reshape"
    assert node.inputs == ["x"]
    assert graph.tensors["y"].shape == output_shapes[code]
    assert "shape" not in graph.tensors


def test_transpose_perm(tmp_path):
    tensors = [act("x", (1, 2, 3, 4)), const("perm", [0, 3, 1, 2]), act("y", (1, 4, 2, 3))]
    (node,) = load_single_op(tmp_path, Op(BuiltinOperator.TRANSPOSE, ["x", "perm"], ["y"]),
                             tensors).nodes
    assert node.op == "transpose"
    assert node.inputs == ["x"]
    assert node.attrs == {"perm": (0, 3, 1, 2)}


def test_transpose_runtime_perm_raises(tmp_path):
    tensors = [act("x", (1, 2)), T("perm", (2,), TensorType.INT32), act("y", (2, 1))]
    op = Op(BuiltinOperator.TRANSPOSE, ["x", "perm"], ["y"])
    with pytest.raises(UnsupportedAttributeError, match=r"input 1 \(perm\) is computed at run"):
        load_single_op(tmp_path, op, tensors)


def test_concatenation_axis_normalized(tmp_path):
    tensors = [act("a", (1, 2, 3)), act("b", (1, 2, 5)), act("y", (1, 2, 8))]
    op = Op(BuiltinOperator.CONCATENATION, ["a", "b"], ["y"],
            ("ConcatenationOptions", {"axis": -1}))
    (node,) = load_single_op(tmp_path, op, tensors).nodes
    assert node.op == "concat"
    assert node.inputs == ["a", "b"]
    assert node.attrs == {"axis": 2}


def test_concatenation_activation_becomes_clip(tmp_path):
    tensors = [act("a", (1, 2)), act("b", (1, 2)), act("y", (1, 4))]
    options = {"axis": 1, "fused_activation_function": ActivationFunctionType.RELU}
    op = Op(BuiltinOperator.CONCATENATION, ["a", "b"], ["y"], ("ConcatenationOptions", options))
    graph = load_single_op(tmp_path, op, tensors)
    concat, clip = graph.nodes
    assert concat.op == "concat"
    assert clip.op == "clip"
    assert clip.inputs == concat.outputs
    assert clip.outputs == ["y"]
    assert clip.attrs == {"activation": (0.0, math.inf)}
    assert graph.tensors[concat.outputs[0]].shape == (1, 4)


def test_pad_pairs(tmp_path):
    tensors = [act("x", (1, 2, 2, 1)), const("paddings", [[0, 0], [1, 2], [0, 1], [0, 0]]),
               act("y", (1, 5, 3, 1))]
    (node,) = load_single_op(tmp_path, Op(BuiltinOperator.PAD, ["x", "paddings"], ["y"]),
                             tensors).nodes
    assert node.op == "pad"
    assert node.inputs == ["x"]
    assert node.attrs == {"pads": ((0, 0), (1, 2), (0, 1), (0, 0))}


def test_padv2_zero_point_value_accepted(tmp_path):
    tensors = [act("x", (1, 2), zero_point=-3), const("paddings", [[0, 0], [1, 1]]),
               const("value", [-3], TensorType.INT8, scale=[0.05], zero_point=[-3]),
               act("y", (1, 4), zero_point=-3)]
    op = Op(BuiltinOperator.PADV2, ["x", "paddings", "value"], ["y"])
    (node,) = load_single_op(tmp_path, op, tensors).nodes
    assert node.attrs == {"pads": ((0, 0), (1, 1))}


def test_padv2_nonzero_value_raises(tmp_path):
    tensors = [act("x", (1, 2), zero_point=-3), const("paddings", [[0, 0], [1, 1]]),
               const("value", [5], TensorType.INT8, scale=[0.05], zero_point=[-3]),
               act("y", (1, 4), zero_point=-3)]
    op = Op(BuiltinOperator.PADV2, ["x", "paddings", "value"], ["y"])
    with pytest.raises(UnsupportedAttributeError, match="pads with"):
        load_single_op(tmp_path, op, tensors)


def test_quantize_and_dequantize(tmp_path):
    tensors = [T("x", (1, 4), TensorType.FLOAT32), act("q", (1, 4)),
               T("y", (1, 4), TensorType.FLOAT32)]
    ops = [Op(BuiltinOperator.QUANTIZE, ["x"], ["q"]), Op(BuiltinOperator.DEQUANTIZE, ["q"], ["y"])]
    graph = load_tflite(write_model(tmp_path, tensors, ops, ["x"], ["y"]))
    assert [(n.op, n.inputs, n.outputs, n.attrs) for n in graph.nodes] == [
        ("quantize", ["x"], ["q"], {}),
        ("dequantize", ["q"], ["y"], {}),
    ]
    assert graph.tensors["x"].dtype == "float32"
    assert graph.tensors["q"].quant.zero_point.tolist() == [-3]


# ---------------------------------------------------------------------------------------------
# Constant folding.
# ---------------------------------------------------------------------------------------------


def _fold_to_output(tmp_path, ops, tensors, output):
    """Load a model whose only output is computed from constants; return the output data."""
    graph = load_tflite(write_model(tmp_path, tensors, ops, [], [output]))
    assert graph.nodes == []
    return graph.tensors[output].data


STRIDED_SLICE_CASES = [
    # (begin, end, strides, masks, numpy index of the slice TFLite takes)
    ([1, 0, 0, 1], [2, 0, 0, 4], [1, 1, 1, 2],
     {"shrink_axis_mask": 0b0001, "new_axis_mask": 0b0010, "ellipsis_mask": 0b0100},
     (1, None, Ellipsis, slice(1, 4, 2))),
    ([0, 1], [0, -1], [1, 1], {"begin_mask": 0b01, "end_mask": 0b01},
     (slice(None), slice(1, -1))),
    ([0, 2, 3], [2, 0, 0], [1, -1, -2], {"end_mask": 0b110},
     (slice(0, 2), slice(2, None, -1), slice(3, None, -2))),
    ([-1], [0], [1], {"shrink_axis_mask": 0b1}, (-1,)),
    # begin_mask on a shrunk axis selects its first element, not begin[i].
    ([1, 2], [2, 3], [1, 1], {"shrink_axis_mask": 0b10, "begin_mask": 0b10},
     (slice(1, 2), 0)),
]


def _run_litert_strided_slice(data, begin, end, strides, masks, output_shape):
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter")
    tensors = [T("data", data.shape, TensorType.INT32), const("begin", begin), const("end", end),
               const("strides", strides), T("out", output_shape, TensorType.INT32)]
    op = Op(BuiltinOperator.STRIDED_SLICE, ["data", "begin", "end", "strides"], ["out"],
            ("StridedSliceOptions", masks))
    interpreter = interpreter_module.Interpreter(
        model_content=build_model(tensors, [op], ["data"], ["out"]),
        experimental_op_resolver_type=interpreter_module.OpResolverType.BUILTIN_REF,
    )
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], data)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


@pytest.mark.parametrize(("begin", "end", "strides", "masks", "index"), STRIDED_SLICE_CASES)
def test_strided_slice_fold_matches_tflite(tmp_path, begin, end, strides, masks, index):
    data = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    expected = data[index]
    tensors = [const("data", data), const("begin", begin), const("end", end),
               const("strides", strides), T("out", expected.shape, TensorType.INT32)]
    op = Op(BuiltinOperator.STRIDED_SLICE, ["data", "begin", "end", "strides"], ["out"],
            ("StridedSliceOptions", masks))

    folded = _fold_to_output(tmp_path, [op], tensors, "out")

    assert np.array_equal(folded, expected)
    litert = _run_litert_strided_slice(data, begin, end, strides, masks, expected.shape)
    assert litert.shape == folded.shape
    assert np.array_equal(folded, litert)


def test_shape_pack_chain_folds_into_reshape(tmp_path):
    tensors = [
        act("x", (1, 12)), T("shape", (2,), TensorType.INT32), const("begin", [0]),
        const("end", [1]), const("stride", [1]), T("batch", (), TensorType.INT32),
        const("three", 3), const("four", 4), T("new_shape", (3,), TensorType.INT32),
        act("y", (1, 3, 4)),
    ]
    ops = [
        Op(BuiltinOperator.SHAPE, ["x"], ["shape"], ("ShapeOptions", {"out_type": 2})),
        Op(BuiltinOperator.STRIDED_SLICE, ["shape", "begin", "end", "stride"], ["batch"],
           ("StridedSliceOptions", {"shrink_axis_mask": 1})),
        Op(BuiltinOperator.PACK, ["batch", "three", "four"], ["new_shape"],
           ("PackOptions", {"values_count": 3, "axis": 0})),
        Op(BuiltinOperator.RESHAPE, ["x", "new_shape"], ["y"]),
    ]
    graph = load_tflite(write_model(tmp_path, tensors, ops, ["x"], ["y"]))
    assert [(n.op, n.inputs, n.outputs) for n in graph.nodes] == [("reshape", ["x"], ["y"])]
    assert set(graph.tensors) == {"x", "y"}


def test_gather_concat_cast_fold(tmp_path):
    tensors = [
        const("params", [10, 20, 30, 40]), const("indices", [3, 0]),
        T("picked", (2,), TensorType.INT32), const("tail", [7]),
        T("joined", (3,), TensorType.INT32), T("wide", (3,), TensorType.INT64),
    ]
    ops = [
        Op(BuiltinOperator.GATHER, ["params", "indices"], ["picked"],
           ("GatherOptions", {"axis": 0})),
        Op(BuiltinOperator.CONCATENATION, ["picked", "tail"], ["joined"],
           ("ConcatenationOptions", {"axis": 0})),
        Op(BuiltinOperator.CAST, ["joined"], ["wide"]),
    ]
    result = _fold_to_output(tmp_path, ops, tensors, "wide")
    assert result.dtype == np.int64
    assert result.tolist() == [40, 10, 7]


def test_quantized_constant_reshape_folds(tmp_path):
    weights_tensor = weights("w", (2, 6), 0)
    weights_tensor.scale, weights_tensor.zero_point = [0.02], [0]
    tensors = [weights_tensor, T("w2", (3, 4), TensorType.INT8, None, [0.02], [0])]
    op = Op(BuiltinOperator.RESHAPE, ["w"], ["w2"])
    graph = load_tflite(write_model(tmp_path, tensors, [op], [], ["w2"]))
    folded = graph.tensors["w2"]
    assert np.array_equal(folded.data, weights_tensor.data.reshape(3, 4))
    assert folded.quant.scale.tolist() == [np.float32(0.02)]


def test_quantize_fold_matches_litert(tmp_path):
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter")
    scale, zero_point = 0.0371, 3
    rng = np.random.default_rng(1)
    near_ties = (rng.integers(-120, 120, 500) + 0.5) * np.float32(scale)
    x = np.concatenate([near_ties, rng.uniform(-6, 6, 500)]).astype(np.float32)
    output = act("q", x.shape, scale=scale, zero_point=zero_point)
    op = Op(BuiltinOperator.QUANTIZE, ["x"], ["q"])

    folded = _fold_to_output(tmp_path, [op], [T("x", x.shape, TensorType.FLOAT32, x), output], "q")

    interpreter = interpreter_module.Interpreter(
        model_content=build_model([T("x", x.shape, TensorType.FLOAT32), output], [op], ["x"],
                                  ["q"]),
        experimental_op_resolver_type=interpreter_module.OpResolverType.BUILTIN_REF,
    )
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    expected = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    assert folded.dtype == np.int8
    assert np.array_equal(folded, expected)


def test_runtime_strided_slice_unsupported(tmp_path):
    tensors = [act("x", (1, 6)), const("begin", [0, 1]), const("end", [1, 4]),
               const("stride", [1, 1]), act("y", (1, 3))]
    op = Op(BuiltinOperator.STRIDED_SLICE, ["x", "begin", "end", "stride"], ["y"],
            ("StridedSliceOptions", {}))
    with pytest.raises(UnsupportedOperatorError, match="STRIDED_SLICE .* non-constant inputs"):
        load_single_op(tmp_path, op, tensors)


# ---------------------------------------------------------------------------------------------
# load_model dispatch.
# ---------------------------------------------------------------------------------------------


def test_load_model_by_suffix(models):
    graph = load_model(model_path(models, "keyword_spotting"))
    assert graph.name == "keyword_spotting_int8"


def test_load_model_by_file_identifier(models, tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(model_path(models, "keyword_spotting").read_bytes())
    graph = load_model(path)
    assert len(graph.nodes) == sum(EXPECTED_OP_COUNTS["keyword_spotting"].values())


def test_load_model_unknown_format_raises(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"\x00" * 16)
    with pytest.raises(ModelFormatError, match="unknown model format"):
        load_model(path)
