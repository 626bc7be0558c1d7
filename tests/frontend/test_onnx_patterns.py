"""The ONNX transformer patterns (edgec.frontend.onnx_patterns) and their converters.

Each test builds a small model with onnx.helper, checks which IR ops it becomes, and runs it
through the reference interpreter against onnxruntime. A near miss (a pattern with another
constant) must not fuse, so it is reported as unsupported.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgec.errors import UnsupportedOperatorError
from edgec.frontend.onnx import load_onnx
from edgec.reference.interpreter import run

RNG = np.random.default_rng(7)


def _model(nodes, inputs: dict, outputs: dict, constants: dict, opset: int = 14):
    graph = helper.make_graph(
        nodes, "patterns",
        [helper.make_tensor_value_info(name, dtype, shape) for name, (dtype, shape)
         in inputs.items()],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
         for name, shape in outputs.items()],
        [numpy_helper.from_array(np.asarray(value), name) for name, value in constants.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _load_and_compare(tmp_path, model, feeds: dict) -> Counter:
    path = tmp_path / "model.onnx"
    onnx.save(model, path)
    graph = load_onnx(path)
    expected = ort.InferenceSession(str(path)).run(None, feeds)[0]
    ours = run(graph, feeds)[graph.outputs[0]]
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-5)
    return Counter(node.op for node in graph.nodes)


FLOAT_X = {"x": (TensorProto.FLOAT, [1, 4, 8])}
SCALARS = {"half": np.float32(0.5), "one": np.float32(1.0), "root2": np.float32(np.sqrt(2)),
           "two": np.float32(2.0), "eps": np.float32(1e-6)}


@pytest.mark.parametrize("half_first", [False, True], ids=["x_times_erf_first", "half_x_first"])
def test_erf_gelu_fuses_in_both_orders(tmp_path, half_first):
    nodes = [helper.make_node("Div", ["x", "root2"], ["d"]),
             helper.make_node("Erf", ["d"], ["e"]),
             helper.make_node("Add", ["e", "one"], ["p"])]
    if half_first:
        nodes += [helper.make_node("Mul", ["x", "half"], ["h"]),
                  helper.make_node("Mul", ["h", "p"], ["y"])]
    else:
        nodes += [helper.make_node("Mul", ["x", "p"], ["m"]),
                  helper.make_node("Mul", ["m", "half"], ["y"])]
    model = _model(nodes, FLOAT_X, {"y": [1, 4, 8]}, SCALARS)

    ops = _load_and_compare(tmp_path, model, {"x": RNG.normal(0, 2, (1, 4, 8)).astype(np.float32)})

    assert ops == Counter({"gelu": 1})


def _decomposed_layer_norm(exponent: float) -> onnx.ModelProto:
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["mean"], axes=[-1]),
        helper.make_node("Sub", ["x", "mean"], ["c"]),
        helper.make_node("Pow", ["c", "power"], ["sq"]),
        helper.make_node("ReduceMean", ["sq"], ["var"], axes=[-1]),
        helper.make_node("Add", ["var", "eps"], ["ve"]),
        helper.make_node("Sqrt", ["ve"], ["sd"]),
        helper.make_node("Div", ["c", "sd"], ["n"], name="normalize"),
        helper.make_node("Mul", ["n", "gamma"], ["g"]),
        helper.make_node("Add", ["g", "beta"], ["y"]),
    ]
    constants = {**SCALARS, "power": np.float32(exponent),
                 "gamma": RNG.normal(1, 0.2, 8).astype(np.float32),
                 "beta": RNG.normal(0, 0.2, 8).astype(np.float32)}
    return _model(nodes, FLOAT_X, {"y": [1, 4, 8]}, constants)


def test_decomposed_layer_norm_fuses(tmp_path):
    ops = _load_and_compare(tmp_path, _decomposed_layer_norm(2.0),
                            {"x": RNG.normal(3, 2, (1, 4, 8)).astype(np.float32)})

    assert ops == Counter({"layer_norm": 1})


def test_layer_norm_other_power_not_fused(tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save(_decomposed_layer_norm(3.0), path)

    with pytest.raises(UnsupportedOperatorError, match=r"Pow x1.*Sqrt x1"):
        load_onnx(path)


def test_onnx_layer_normalization_and_gelu_ops(tmp_path):
    nodes = [helper.make_node("LayerNormalization", ["x", "gamma", "beta"], ["n"], axis=-1,
                              epsilon=1e-5),
             helper.make_node("Gelu", ["n"], ["y"])]
    constants = {"gamma": RNG.normal(1, 0.2, 8).astype(np.float32),
                 "beta": RNG.normal(0, 0.2, 8).astype(np.float32)}
    model = _model(nodes, FLOAT_X, {"y": [1, 4, 8]}, constants, opset=20)

    ops = _load_and_compare(tmp_path, model, {"x": RNG.normal(0, 2, (1, 4, 8)).astype(np.float32)})

    assert ops == Counter({"layer_norm": 1, "gelu": 1})


def test_mean_pooling_and_l2_fuse(tmp_path):
    nodes = [
        helper.make_node("Unsqueeze", ["mask", "last"], ["m3"]),
        helper.make_node("Cast", ["m3"], ["mf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["x", "mf"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "tokens"], ["total"], keepdims=0),
        helper.make_node("ReduceSum", ["mf", "tokens"], ["count"], keepdims=0),
        helper.make_node("Clip", ["count", "eps"], ["safe"]),
        helper.make_node("Div", ["total", "safe"], ["pooled"]),
        helper.make_node("ReduceL2", ["pooled"], ["norm"], axes=[1], keepdims=1),
        helper.make_node("Clip", ["norm", "eps"], ["safe_norm"]),
        helper.make_node("Div", ["pooled", "safe_norm"], ["y"]),
    ]
    constants = {**SCALARS, "last": np.array([-1], np.int64), "tokens": np.array([1], np.int64)}
    inputs = {**FLOAT_X, "mask": (TensorProto.INT64, [1, 4])}
    model = _model(nodes, inputs, {"y": [1, 8]}, constants)
    feeds = {"x": RNG.normal(0, 1, (1, 4, 8)).astype(np.float32),
             "mask": np.array([[1, 1, 0, 1]], dtype=np.int64)}

    ops = _load_and_compare(tmp_path, model, feeds)

    assert ops == Counter({"masked_mean": 1, "l2_normalize": 1})


def test_additive_mask_becomes_softmax_mask(tmp_path):
    nodes = [
        helper.make_node("Unsqueeze", ["mask", "axes"], ["m4"]),
        helper.make_node("Cast", ["m4"], ["mf"], to=TensorProto.FLOAT),
        helper.make_node("Sub", ["one", "mf"], ["inverted"]),
        helper.make_node("Mul", ["inverted", "big"], ["penalty"]),
        helper.make_node("Add", ["x", "penalty"], ["scores"]),
        helper.make_node("Softmax", ["scores"], ["y"], axis=-1),
    ]
    constants = {**SCALARS, "axes": np.array([1, 2], np.int64), "big": np.float32(-10000.0)}
    inputs = {"x": (TensorProto.FLOAT, [1, 2, 4, 4]), "mask": (TensorProto.INT64, [1, 4])}
    model = _model(nodes, inputs, {"y": [1, 2, 4, 4]}, constants)
    feeds = {"x": RNG.normal(0, 3, (1, 2, 4, 4)).astype(np.float32),
             "mask": np.array([[1, 0, 1, 1]], dtype=np.int64)}

    ops = _load_and_compare(tmp_path, model, feeds)

    assert ops == Counter({"softmax": 1})


def test_small_additive_term_is_not_a_mask(tmp_path):
    nodes = [
        helper.make_node("Unsqueeze", ["mask", "axes"], ["m4"]),
        helper.make_node("Cast", ["m4"], ["mf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["mf", "two"], ["bonus"]),
        helper.make_node("Add", ["x", "bonus"], ["scores"]),
        helper.make_node("Softmax", ["scores"], ["y"], axis=-1),
    ]
    constants = {**SCALARS, "axes": np.array([1, 2], np.int64)}
    inputs = {"x": (TensorProto.FLOAT, [1, 2, 4, 4]), "mask": (TensorProto.INT64, [1, 4])}
    path = tmp_path / "model.onnx"
    onnx.save(_model(nodes, inputs, {"y": [1, 2, 4, 4]}, constants), path)

    with pytest.raises(UnsupportedOperatorError,
                       match="node 'm4' \\(Unsqueeze\\): integer input 'mask' is read by"):
        load_onnx(path)
