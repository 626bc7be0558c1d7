"""Float reference kernels against onnxruntime on small generated ONNX graphs.

Each case builds a graph with onnx.helper, converts it with the ONNX frontend, checks that the
IR contains the kernel under test, runs it with the reference interpreter and compares with
onnxruntime (CPU provider) on seeded random inputs.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgec.frontend.onnx import load_onnx
from edgec.ir import Graph, Node, Tensor
from edgec.reference.interpreter import FLOAT_KERNELS, run

RNG = np.random.default_rng(20240611)


def random(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def build_model(nodes, inputs: dict, outputs: list[str], constants: dict | None = None,
                opset: int = 13) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "case",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name, shape in inputs.items()],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in (constants or {}).items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    # Fills in the output shapes, which onnx.checker requires.
    return onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)


def compare_with_onnxruntime(tmp_path, model: onnx.ModelProto, feeds: dict, tolerance=1e-5) -> Graph:
    """Convert ``model``, run it on ``feeds`` with both runtimes, assert agreement, return the IR."""
    path = tmp_path / "case.onnx"
    onnx.save(model, str(path))
    graph = load_onnx(path)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = session.run(None, feeds)
    actual = run(graph, feeds)
    for output, reference in zip(model.graph.output, expected):
        assert actual[output.name].shape == reference.shape
        np.testing.assert_allclose(actual[output.name], reference, rtol=tolerance, atol=tolerance)
    return graph


def ops(graph: Graph) -> list[str]:
    return [node.op for node in graph.nodes]


def node_of(graph: Graph, op: str) -> Node:
    return next(node for node in graph.nodes if node.op == op)


# conv2d --------------------------------------------------------------------------------------

CONV_CASES = {
    "pads_on_every_side": dict(shape=(1, 3, 7, 6), kernel=(3, 3), pads=[1, 2, 0, 3]),
    "stride_2_even_size": dict(shape=(1, 4, 8, 8), kernel=(3, 3), strides=[2, 2], pads=[0, 0, 1, 1]),
    "stride_2_even_symmetric": dict(shape=(2, 2, 10, 6), kernel=(3, 3), strides=[2, 2],
                                    pads=[1, 1, 1, 1]),
    "dilation_2": dict(shape=(1, 3, 9, 9), kernel=(3, 3), dilations=[2, 2], pads=[2, 2, 2, 2]),
    "non_square_stride": dict(shape=(1, 2, 9, 7), kernel=(2, 3), strides=[2, 1]),
    "pointwise_no_bias": dict(shape=(1, 8, 5, 5), kernel=(1, 1), bias=False),
    "same_upper": dict(shape=(1, 3, 8, 8), kernel=(4, 4), strides=[2, 2], auto_pad="SAME_UPPER"),
    "same_lower": dict(shape=(1, 3, 7, 8), kernel=(2, 2), auto_pad="SAME_LOWER"),
}


@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv2d_matches_onnxruntime(tmp_path, case):
    params = dict(CONV_CASES[case])
    shape, kernel = params.pop("shape"), params.pop("kernel")
    with_bias = params.pop("bias", True)
    out_channels = 5
    constants = {"w": random(out_channels, shape[1], *kernel)}
    if with_bias:
        constants["b"] = random(out_channels)
    conv = helper.make_node("Conv", ["x", "w"] + (["b"] if with_bias else []), ["y"], **params)
    model = build_model([conv], {"x": list(shape)}, ["y"], constants)
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(*shape)})
    assert "conv2d" in ops(graph)


@pytest.mark.parametrize("multiplier", [1, 2])
def test_depthwise_conv2d_matches_onnxruntime(tmp_path, multiplier):
    channels = 3
    constants = {"w": random(channels * multiplier, 1, 3, 3), "b": random(channels * multiplier)}
    conv = helper.make_node("Conv", ["x", "w", "b"], ["y"], group=channels, strides=[2, 2],
                            dilations=[2, 1], pads=[2, 1, 1, 0])
    model = build_model([conv], {"x": [1, channels, 10, 8]}, ["y"], constants)
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(1, channels, 10, 8)})
    depthwise = node_of(graph, "depthwise_conv2d")
    assert depthwise.attrs["depth_multiplier"] == multiplier
    assert graph.tensors[depthwise.inputs[1]].shape == (1, 3, 3, channels * multiplier)


def test_conv2d_with_relu_applies_fused_range(tmp_path):
    constants = {"w": random(4, 2, 3, 3), "b": random(4)}
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["c", "lo", "hi"], ["y"]),
    ]
    constants.update(lo=np.array(-0.5, np.float32), hi=np.array(0.75, np.float32))
    model = build_model(nodes, {"x": [1, 2, 6, 6]}, ["y"], constants)
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(1, 2, 6, 6)})
    assert node_of(graph, "conv2d").attrs["activation"] == (-0.5, 0.75)
    assert "clip" not in ops(graph)


# fully_connected -----------------------------------------------------------------------------


@pytest.mark.parametrize("trans_a,trans_b", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_gemm_transposes_match_onnxruntime(tmp_path, trans_a, trans_b):
    a_shape = (6, 1) if trans_a else (1, 6)
    b_shape = (4, 6) if trans_b else (6, 4)
    constants = {"b": random(*b_shape), "c": random(4)}
    gemm = helper.make_node("Gemm", ["a", "b", "c"], ["y"], transA=trans_a, transB=trans_b,
                            alpha=0.5, beta=2.0)
    model = build_model([gemm], {"a": list(a_shape)}, ["y"], constants)
    graph = compare_with_onnxruntime(tmp_path, model, {"a": random(*a_shape)})
    assert ops(graph).count("fully_connected") == 1


def test_gemm_with_per_row_c_adds_it(tmp_path):
    constants = {"b": random(5, 3), "c": random(2, 3)}
    gemm = helper.make_node("Gemm", ["a", "b", "c"], ["y"])
    model = build_model([gemm], {"a": [2, 5]}, ["y"], constants)
    graph = compare_with_onnxruntime(tmp_path, model, {"a": random(2, 5)})
    assert ops(graph) == ["fully_connected", "add"]


def test_matmul_on_3d_input_matches_onnxruntime(tmp_path):
    constants = {"w": random(8, 3), "bias": random(3)}
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["m"]),
        helper.make_node("Add", ["m", "bias"], ["y"]),
    ]
    model = build_model(nodes, {"x": [1, 4, 8]}, ["y"], constants)
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(1, 4, 8)})
    assert ops(graph) == ["fully_connected"]
    assert node_of(graph, "fully_connected").inputs[2]


# Pooling and mean ----------------------------------------------------------------------------


def test_average_pool2d_excludes_padding(tmp_path):
    pool = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                            pads=[1, 1, 1, 0], count_include_pad=0)
    model = build_model([pool], {"x": [1, 3, 8, 7]}, ["y"])
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(1, 3, 8, 7)})
    assert node_of(graph, "average_pool2d").attrs["pads"] == (1, 1, 1, 0)


def test_average_pool2d_corner_averages_in_bounds_only():
    graph = Graph(inputs=["x"], outputs=["y"])
    graph.add_tensor(Tensor("x", (1, 2, 2, 1), "float32"))
    graph.add_tensor(Tensor("y", (1, 1, 1, 1), "float32"))
    graph.nodes.append(Node("average_pool2d", "pool", ["x"], ["y"],
                            {"kernel": (3, 3), "strides": (1, 1), "pads": (1, 1, 0, 0),
                             "activation": None}))
    x = np.array([1.0, 2.0, 3.0, 6.0], np.float32).reshape(1, 2, 2, 1)
    assert run(graph, {"x": x})["y"].item() == pytest.approx(3.0)


def test_global_average_pool_matches_onnxruntime(tmp_path):
    model = build_model([helper.make_node("GlobalAveragePool", ["x"], ["y"])],
                        {"x": [1, 4, 5, 3]}, ["y"])
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(1, 4, 5, 3)})
    assert node_of(graph, "average_pool2d").attrs["kernel"] == (5, 3)


def test_max_pool2d_with_padding_matches_onnxruntime(tmp_path):
    pool = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 2], strides=[2, 2],
                            pads=[1, 0, 1, 1])
    model = build_model([pool], {"x": [1, 2, 7, 6]}, ["y"])
    # Negative inputs only: a padded zero must never win the maximum.
    x = -np.abs(random(1, 2, 7, 6)) - 1.0
    graph = compare_with_onnxruntime(tmp_path, model, {"x": x})
    assert "max_pool2d" in ops(graph)


@pytest.mark.parametrize("axes,keepdims", [([2, 3], 1), ([2, 3], 0), ([1], 1), ([-1], 0)])
def test_mean_matches_onnxruntime(tmp_path, axes, keepdims):
    constants = {"w": random(4, 3, 1, 1)}
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("ReduceMean", ["c"], ["y"], axes=axes, keepdims=keepdims),
    ]
    model = build_model(nodes, {"x": [1, 3, 5, 6]}, ["y"], constants)
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(1, 3, 5, 6)})
    assert "mean" in ops(graph)


def test_mean_over_plane_needs_no_transpose(tmp_path):
    constants = {"w": random(4, 3, 1, 1)}
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("ReduceMean", ["c"], ["y"], axes=[2, 3], keepdims=0),
    ]
    model = build_model(nodes, {"x": [1, 3, 5, 6]}, ["y"], constants)
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(1, 3, 5, 6)})
    assert node_of(graph, "mean").attrs["axes"] == (1, 2)
    assert ops(graph).count("transpose") == 1  # only the NCHW graph input


# Elementwise ops -----------------------------------------------------------------------------


@pytest.mark.parametrize("op_type", ["Add", "Sub", "Mul"])
def test_broadcast_with_spatial_constant_matches_onnxruntime(tmp_path, op_type):
    # A constant that varies over H and W cannot fold into the conv, so the op stays.
    constants = {"w": random(3, 2, 1, 1), "k": random(4, 5)}
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node(op_type, ["c", "k"], ["y"]),
    ]
    model = build_model(nodes, {"x": [1, 2, 4, 5]}, ["y"], constants)
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(1, 2, 4, 5)})
    node = node_of(graph, op_type.lower())
    assert graph.tensors[node.inputs[1]].shape == (4, 5, 1)


@pytest.mark.parametrize("op_type", ["Add", "Sub", "Mul"])
def test_broadcast_with_channel_constant_matches_onnxruntime(tmp_path, op_type):
    constants = {"k": random(3, 1, 1)}
    model = build_model([helper.make_node(op_type, ["x", "k"], ["y"])], {"x": [1, 3, 4, 5]},
                        ["y"], constants)
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(1, 3, 4, 5)})
    assert ops(graph) == [op_type.lower()]


def test_broadcast_add_of_two_activations(tmp_path):
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["g"]),
        helper.make_node("Add", ["x", "g"], ["y"]),
    ]
    model = build_model(nodes, {"x": [1, 3, 4, 5]}, ["y"])
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(1, 3, 4, 5)})
    add_node = node_of(graph, "add")
    assert graph.tensors[add_node.inputs[1]].shape == (1, 1, 1, 3)


def test_broadcast_add_of_row_vector_activation(tmp_path):
    model = build_model([helper.make_node("Add", ["x", "r"], ["y"])],
                        {"x": [2, 3, 4], "r": [4]}, ["y"])
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(2, 3, 4), "r": random(4)})
    assert ops(graph) == ["add"]


def test_sub_scalar_and_div_by_constant(tmp_path):
    constants = {"s": np.array(0.25, np.float32), "d": np.array([2.0, 4.0, 8.0], np.float32)}
    nodes = [
        helper.make_node("Sub", ["x", "s"], ["t"]),
        helper.make_node("Div", ["t", "d"], ["y"]),
    ]
    model = build_model(nodes, {"x": [1, 3]}, ["y"], constants)
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(1, 3)})
    assert ops(graph) == ["sub", "mul"]


@pytest.mark.parametrize("low,high", [(0.0, None), (-1.0, 1.0), (None, 0.5)])
def test_clip_matches_onnxruntime(tmp_path, low, high):
    constants, inputs = {}, ["x"]
    for name, value in (("lo", low), ("hi", high)):
        if value is None:
            inputs.append("")
        else:
            constants[name] = np.array(value, np.float32)
            inputs.append(name)
    model = build_model([helper.make_node("Clip", inputs, ["y"])], {"x": [2, 7]}, ["y"], constants)
    graph = compare_with_onnxruntime(tmp_path, model, {"x": 2 * random(2, 7)})
    assert ops(graph) == ["clip"]


# Softmax -------------------------------------------------------------------------------------


def test_softmax_last_axis_matches_onnxruntime(tmp_path):
    model = build_model([helper.make_node("Softmax", ["x"], ["y"])], {"x": [3, 10]}, ["y"])
    graph = compare_with_onnxruntime(tmp_path, model, {"x": 4 * random(3, 10)})
    assert ops(graph) == ["softmax"]


def test_softmax_over_nchw_channels_uses_nhwc(tmp_path):
    constants = {"w": random(6, 3, 1, 1)}
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("Softmax", ["c"], ["y"], axis=1),
    ]
    model = build_model(nodes, {"x": [1, 3, 4, 4]}, ["y"], constants)
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(1, 3, 4, 4)})
    softmax_input = node_of(graph, "softmax").inputs[0]
    assert graph.tensors[softmax_input].shape == (1, 4, 4, 6)


def test_softmax_opset11_flattens_trailing_axes(tmp_path):
    model = build_model([helper.make_node("Softmax", ["x"], ["y"], axis=1)], {"x": [2, 3, 4]},
                        ["y"], opset=11)
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(2, 3, 4)})
    assert graph.tensors[node_of(graph, "softmax").inputs[0]].shape == (2, 12)


# Data movement -------------------------------------------------------------------------------


def test_concat_of_nchw_channels_uses_nhwc_axis(tmp_path):
    constants = {"w1": random(2, 3, 1, 1), "w2": random(4, 3, 3, 3)}
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["a"]),
        helper.make_node("Conv", ["x", "w2"], ["b"], pads=[1, 1, 1, 1]),
        helper.make_node("Concat", ["a", "b"], ["c"], axis=1),
        helper.make_node("Relu", ["c"], ["y"]),
    ]
    model = build_model(nodes, {"x": [1, 3, 5, 5]}, ["y"], constants)
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(1, 3, 5, 5)})
    assert node_of(graph, "concat").attrs["axis"] == 3


def test_pad_of_nchw_activation_matches_onnxruntime(tmp_path):
    constants = {"w": random(2, 2, 1, 1), "pads": np.array([0, 0, 1, 2, 0, 0, 3, 0], np.int64)}
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("Pad", ["c", "pads"], ["y"]),
    ]
    model = build_model(nodes, {"x": [1, 2, 3, 4]}, ["y"], constants)
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(1, 2, 3, 4)})
    assert node_of(graph, "pad").attrs["pads"] == ((0, 0), (1, 3), (2, 0), (0, 0))


def test_transpose_and_reshape_match_onnxruntime(tmp_path):
    constants = {"shape": np.array([0, -1], np.int64)}
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 1]),
        helper.make_node("Reshape", ["t", "shape"], ["y"]),
    ]
    model = build_model(nodes, {"x": [2, 3, 4]}, ["y"], constants)
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(2, 3, 4)})
    assert ops(graph) == ["transpose", "reshape"]


def test_float_kernels_cover_float_ops():
    float_ops = {
        "conv2d", "depthwise_conv2d", "fully_connected", "average_pool2d", "max_pool2d", "mean",
        "add", "sub", "mul", "clip", "softmax", "reshape", "transpose", "concat", "pad",
    }
    assert float_ops <= set(FLOAT_KERNELS)
