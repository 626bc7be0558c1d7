"""Generated float ONNX graphs with the ops the MLPerf Tiny models lack, end to end.

Each graph is quantized from calibration data, compiled for host and cortex-m4, and run by
`edgec verify`'s code path. The target's output must equal the reference interpreter bit
for bit and stay close to onnxruntime float (SQNR above 25 dB on calibration samples).
"""

from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgec.verify import verify_model

RNG = np.random.default_rng(3)


def _initializer(name, shape, scale=0.3):
    return numpy_helper.from_array((RNG.standard_normal(shape) * scale).astype(np.float32), name)


def _save(path, nodes, initializers, x_shape, y_shape, opset=13):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)
    graph = helper.make_graph(nodes, "generated", [x], [y], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    onnx.save(model, path)


def branches_graph(path):
    """Conv branches joined by Concat, with MaxPool, Pad, Mul/Sub by constants, Clip."""
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv_a"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu_a"),
        helper.make_node("Conv", ["x", "w2"], ["c2"], strides=[1, 1], dilations=[2, 2],
                         pads=[2, 2, 2, 2], name="conv_b"),
        helper.make_node("Mul", ["c2", "scale"], ["m2"], name="mul_b"),
        helper.make_node("Sub", ["m2", "shift"], ["s2"], name="sub_b"),
        helper.make_node("Clip", ["s2", "lo", "hi"], ["k2"], name="clip_b"),
        helper.make_node("Concat", ["r1", "k2"], ["cat"], axis=1, name="concat"),
        helper.make_node("MaxPool", ["cat"], ["mp"], kernel_shape=[2, 2], strides=[2, 2],
                         name="maxpool"),
        helper.make_node("Pad", ["mp", "pads"], ["pd"], mode="constant", name="pad"),
        helper.make_node("GlobalAveragePool", ["pd"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
        helper.make_node("MatMul", ["flat", "wf"], ["y"], name="matmul"),
    ]
    initializers = [
        _initializer("w1", (4, 3, 3, 3)), _initializer("b1", (4,)),
        _initializer("w2", (5, 3, 3, 3)),
        numpy_helper.from_array(np.array([1.5], np.float32), "scale"),
        numpy_helper.from_array(np.array([0.25], np.float32), "shift"),
        numpy_helper.from_array(np.array(0.0, np.float32), "lo"),
        numpy_helper.from_array(np.array(6.0, np.float32), "hi"),
        numpy_helper.from_array(np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64), "pads"),
        _initializer("wf", (9, 6)),
    ]
    _save(path, nodes, initializers, [1, 3, 10, 10], [1, 6])


def transpose_graph(path):
    """Transpose and Reshape in the middle of the graph, Add with a broadcast constant, Mul
    and Sub of two activations, ReduceMean over the last axis, and a Gemm with transB."""
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 1], name="transpose"),
        helper.make_node("Add", ["t", "bias"], ["a"], name="add_bias"),
        helper.make_node("Mul", ["a", "t"], ["m"], name="mul_activations"),
        helper.make_node("Sub", ["m", "a"], ["s"], name="sub_activations"),
        helper.make_node("Reshape", ["s", "shape"], ["r"], name="reshape"),
        helper.make_node("Gemm", ["r", "wg", "bg"], ["g"], transB=1, name="gemm"),
        helper.make_node("Relu", ["g"], ["gr"], name="relu"),
        helper.make_node("ReduceMean", ["gr"], ["y"], axes=[1], keepdims=1, name="mean"),
    ]
    initializers = [
        _initializer("bias", (1, 1, 6)),
        numpy_helper.from_array(np.array([1, 24], np.int64), "shape"),
        _initializer("wg", (8, 24)), _initializer("bg", (8,)),
    ]
    _save(path, nodes, initializers, [1, 6, 4], [1, 1])


GRAPHS = {"branches": (branches_graph, (3, 10, 10)), "transpose": (transpose_graph, (6, 4))}


@pytest.mark.qemu
@pytest.mark.parametrize("target", ["host", "cortex-m4"])
@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_generated_onnx_graph_end_to_end(tmp_path, name, target):
    build, sample_shape = GRAPHS[name]
    model = tmp_path / f"{name}.onnx"
    build(model)
    calibration = tmp_path / "calibration.npz"
    samples = RNG.standard_normal((32, 1, *sample_shape)).astype(np.float32)
    np.savez(calibration, x=samples)
    # Eval on calibration samples: no value falls outside the calibrated ranges, so the
    # error measured is rounding, not clipping.
    evals = {"x": samples[:8]}

    result = verify_model(model, target, str(calibration), evals, random_count=0)

    assert result.mismatches == []
    assert any("reference interpreter, bit-exact on 8 samples" in line for line in result.lines)
    agreement = next(line for line in result.lines if "vs onnxruntime on the .onnx file" in line)
    sqnr = float(re.search(r"SQNR (-?[\d.]+|inf) dB", agreement).group(1))
    assert sqnr > 25.0, agreement
