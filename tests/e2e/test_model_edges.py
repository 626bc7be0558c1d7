"""Models at the edges of code generation, checked against TFLite Micro or the reference.

The cases: I/O slots that repeat a tensor, constant outputs, unfused Relu, misaligned float
ports, names that look like C comments, and types the kernels lack.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from tflite.ActivationFunctionType import ActivationFunctionType as Act
from tflite.BuiltinOperator import BuiltinOperator as B
from tflite.TensorType import TensorType

from edgec.errors import ModelFormatError, UnsupportedAttributeError
from edgec.frontend.tflite import load_tflite
from edgec.pipeline import compile_model
from edgec.verify import verify_model
from tests.tflite_builder import Op, T, act, write_model

ADD = ("AddOptions", {"fused_activation_function": Act.NONE})


def _verify_tflite(tmp_path, tensors, ops, inputs, outputs, count=8):
    model = write_model(tmp_path, tensors, ops, inputs, outputs)
    result = verify_model(model, "host", random_count=count)
    assert result.mismatches == []
    assert sum("TFLite Micro, bit-exact" in line for line in result.lines) == len(set(outputs))
    return result


def test_input_that_is_also_an_output(tmp_path):
    tensors = [act("a", (1, 8), 0.05, -10), act("c", (1, 8), 0.12, 17), act("y", (1, 8), 0.2, 3)]
    ops = [Op(B.ADD, ["a", "c"], ["y"], ADD)]

    _verify_tflite(tmp_path, tensors, ops, ["a", "c"], ["y", "a"])


def test_int8_output_also_dequantized(tmp_path):
    tensors = [act("a", (1, 8), 0.05, -10), act("b", (1, 8), 0.2, 3),
               T("f", (1, 8), TensorType.FLOAT32)]
    ops = [Op(B.QUANTIZE, ["a"], ["b"]), Op(B.DEQUANTIZE, ["b"], ["f"])]

    _verify_tflite(tmp_path, tensors, ops, ["a"], ["b", "f"])


def test_constant_output(tmp_path):
    tensors = [act("a", (1, 8), 0.05, -10), act("y", (1, 8), 0.1, 0),
               T("k", (1, 4), TensorType.INT8, np.arange(4) - 2, [0.5], [0])]
    ops = [Op(B.QUANTIZE, ["a"], ["y"])]

    _verify_tflite(tmp_path, tensors, ops, ["a"], ["y", "k"])


def test_relu_with_new_quantization(tmp_path):
    tensors = [act("x", (1, 16), 0.05, -10), act("y", (1, 16), 0.02, -128)]
    ops = [Op(B.RELU, ["x"], ["y"]), ]

    _verify_tflite(tmp_path, tensors, ops, ["x"], ["y"], count=20)


def test_float_port_after_odd_int8_port(tmp_path):
    tensors = [act("a", (1, 3), 0.05, -10), T("f", (1, 5), TensorType.FLOAT32),
               act("q", (1, 5), 0.04, 2), act("y", (1, 3), 0.1, 4),
               act("z", (1, 5), 0.04, 2), T("g", (1, 5), TensorType.FLOAT32)]
    ops = [Op(B.QUANTIZE, ["a"], ["y"]), Op(B.QUANTIZE, ["f"], ["q"]),
           Op(B.RELU, ["q"], ["z"]), Op(B.DEQUANTIZE, ["z"], ["g"])]

    _verify_tflite(tmp_path, tensors, ops, ["a", "f"], ["y", "g"])


def _relu_onnx(path, input_name="x", output_name="y"):
    x = helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [1, 4, 6])
    y = helper.make_tensor_value_info(output_name, TensorProto.FLOAT, [1, 4, 6])
    nodes = [
        helper.make_node("Relu", [input_name], ["r"], name="relu_on_input"),
        helper.make_node("Concat", ["r", input_name], ["c"], axis=2, name="concat"),
        helper.make_node("Relu", ["c"], ["rc"], name="relu_after_concat"),
        helper.make_node("ReduceMean", ["rc"], ["m"], axes=[2], keepdims=1, name="mean"),
        helper.make_node("Mul", ["r", "m"], [output_name], name="mul"),
    ]
    graph = helper.make_graph(nodes, "relus", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


def test_unfused_relu_in_onnx(tmp_path):
    model = tmp_path / "relus.onnx"
    _relu_onnx(model)

    result = verify_model(model, "host", "random", random_count=8)

    assert result.mismatches == []
    assert any("reference interpreter, bit-exact on 8 samples" in line for line in result.lines)


def test_names_with_comment_markers_build(tmp_path):
    model = tmp_path / "names.onnx"
    _relu_onnx(model, input_name="in*/put", output_name="out/*put")

    result = verify_model(model, "host", "random", random_count=2)

    assert result.mismatches == []


def test_int16_activations_rejected(tmp_path):
    tensors = [T("a", (1, 8), TensorType.INT16, None, [0.001], [0]),
               T("c", (1, 8), TensorType.INT16, None, [0.002], [0]),
               T("y", (1, 8), TensorType.INT16, None, [0.003], [0])]
    model = write_model(tmp_path, tensors, [Op(B.ADD, ["a", "c"], ["y"], ADD)], ["a", "c"], ["y"])

    with pytest.raises(UnsupportedAttributeError, match="int8 activations only.*int16"):
        compile_model(model, "host", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_zero_scale_rejected(tmp_path):
    tensors = [act("a", (1, 8), 0.0, 0), act("y", (1, 8), 0.1, 0)]
    model = write_model(tmp_path, tensors, [Op(B.QUANTIZE, ["a"], ["y"])], ["a"], ["y"])

    with pytest.raises(ModelFormatError, match="'a' has quantization scale 0"):
        load_tflite(model)


def test_prefix_harness_rejected(models, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "edgec.cli", "compile",
         str(models / "tflite" / "keyword_spotting_int8.tflite"), "--target", "host",
         "--output", str(tmp_path / "out"), "--prefix", "harness"],
        capture_output=True, text=True, timeout=600,
    )

    assert result.returncode == 2
    assert "--prefix 'harness'" in result.stderr
    assert "Traceback" not in result.stderr


def test_accumulator_overflow_rejected(tmp_path):
    depth = 70_000
    weights = T("w", (2, depth), TensorType.INT8, np.full((2, depth), 127), [0.01, 0.01],
                [0, 0], 0)
    tensors = [act("x", (1, depth), 0.05, 127), weights, act("y", (1, 2), 1.0, 0)]
    options = ("FullyConnectedOptions", {"fused_activation_function": Act.NONE})
    model = write_model(tmp_path, tensors, [Op(B.FULLY_CONNECTED, ["x", "w", ""], ["y"], options)],
                        ["x"], ["y"])

    with pytest.raises(UnsupportedAttributeError, match="70000 taps can overflow"):
        compile_model(model, "host", tmp_path / "out")
