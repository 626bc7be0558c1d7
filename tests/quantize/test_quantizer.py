"""Tests of edgec.quantize.params and quantize_graph on small hand-built float graphs."""

from __future__ import annotations

import numpy as np
import pytest

from edgec.errors import QuantizationError
from edgec.ir import Graph, Node, Tensor
from edgec.quantize import quantize_graph
from edgec.quantize.params import (
    FALLBACK_SCALE,
    activation_quant,
    quantize_bias,
    quantize_values,
    quantize_weights,
)
from edgec.reference.interpreter import run

RELU = (0.0, float("inf"))


def f32(value: float) -> float:
    return float(np.float32(value))


# --- activation parameters -------------------------------------------------------------


@pytest.mark.parametrize(
    "low, high, scale, zero_point",
    [
        # Symmetric range: -128 - (-1) / (2/255) = -0.50000x, rounded away from zero.
        (-1.0, 1.0, 2 / 255, -1),
        # -128 + 0.5 * 127.5 = -64.25.
        (-0.5, 1.5, 2 / 255, -64),
        # All positive: nudged to [0, 6], so 0 is the lowest code.
        (2.0, 6.0, 6 / 255, -128),
        # All negative: nudged to [-6, 0], so 0 is the highest code.
        (-6.0, -2.0, 6 / 255, 127),
        # A constant non-zero tensor still has a range of non-zero width after nudging.
        (3.0, 3.0, 3 / 255, -128),
        (-2.0, -2.0, 2 / 255, 127),
        (0.0, 255.0, 1.0, -128),
    ],
)
def test_activation_quant_hand_computed(low, high, scale, zero_point):
    quant = activation_quant(low, high)
    assert quant.scale.dtype == np.float32
    assert float(quant.scale[0]) == f32(scale)
    assert int(quant.zero_point[0]) == zero_point
    assert quant.axis is None


@pytest.mark.parametrize("low, high", [(0.0, 0.0), (0.0, 1e-45), (-1e-44, 0.0)])
def test_activation_quant_zero_width_fallback(low, high):
    quant = activation_quant(low, high)
    assert float(quant.scale[0]) == FALLBACK_SCALE
    assert int(quant.zero_point[0]) == -128
    assert np.isfinite(quant.scale).all()


def test_activation_quant_zero_is_exact():
    rng = np.random.default_rng(1)
    for _ in range(200):
        low, high = sorted(rng.normal(scale=rng.uniform(0.01, 100), size=2))
        quant = activation_quant(low, high)
        zero_point = int(quant.zero_point[0])
        assert -128 <= zero_point <= 127
        assert quantize_values(np.array([0.0]), quant)[0] == zero_point


def test_activation_quant_covers_range():
    rng = np.random.default_rng(2)
    for _ in range(200):
        low, high = sorted(rng.normal(scale=rng.uniform(0.01, 100), size=2))
        quant = activation_quant(low, high)
        scale, zero_point = float(quant.scale[0]), int(quant.zero_point[0])
        codes = quantize_values(np.array([low, high]), quant).astype(np.int64)
        restored = scale * (codes - zero_point)
        assert np.all(np.abs(restored - [low, high]) <= 0.5 * scale * (1 + 1e-5))


@pytest.mark.parametrize("low, high", [(np.nan, 1.0), (0.0, np.inf), (2.0, 1.0)])
def test_activation_quant_invalid_range_names_tensor(low, high):
    with pytest.raises(QuantizationError, match="tensor 'conv_out'"):
        activation_quant(low, high, name="conv_out")


# --- weights and bias ------------------------------------------------------------------


@pytest.mark.parametrize("shape, axis", [((8, 3, 3, 4), 0), ((1, 3, 3, 6), 3), ((10, 16), 0)])
def test_weights_per_channel_round_trip(shape, axis):
    rng = np.random.default_rng(3)
    weights = rng.normal(size=shape) * rng.uniform(0.01, 5.0, size=shape[axis]).reshape(
        [-1 if d == axis else 1 for d in range(len(shape))]
    )
    values, quant = quantize_weights(weights, axis)
    assert values.dtype == np.int8
    assert values.min() >= -127
    assert values.max() <= 127
    assert quant.axis == axis
    assert quant.scale.shape == (shape[axis],)
    assert np.all(quant.zero_point == 0)

    channels = np.moveaxis(weights, axis, 0).reshape(shape[axis], -1)
    expected_scales = (np.abs(channels).max(axis=1) / 127).astype(np.float32)
    np.testing.assert_array_equal(quant.scale, expected_scales)
    per_channel_codes = np.moveaxis(values, axis, 0).reshape(shape[axis], -1)
    assert np.all(np.abs(per_channel_codes).max(axis=1) == 127)

    broadcast = [1] * len(shape)
    broadcast[axis] = -1
    scales = quant.scale.astype(np.float64).reshape(broadcast)
    error = np.abs(values * scales - weights)
    assert np.all(error <= scales / 2 * (1 + 1e-6))


def test_weights_all_zero_channel():
    weights = np.ones((3, 2, 2, 2))
    weights[1] = 0.0
    values, quant = quantize_weights(weights, 0)
    assert float(quant.scale[1]) == FALLBACK_SCALE
    assert np.all(values[1] == 0)
    assert float(quant.scale[0]) == f32(1 / 127)
    assert np.all(values[0] == 127)


def test_weights_nan_rejected():
    weights = np.ones((2, 3))
    weights[0, 1] = np.nan
    with pytest.raises(QuantizationError, match="weights 'fc_w': 1 values"):
        quantize_weights(weights, 0, name="fc_w")


def test_bias_scale_is_input_times_weight_scale():
    weight_scales = np.array([0.01, 0.002, 0.5], dtype=np.float32)
    bias = np.array([0.3, -0.0071, 12.0])
    values, quant = quantize_bias(bias, 0.05, weight_scales)
    expected_scales = (0.05 * weight_scales.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(quant.scale, expected_scales)
    assert values.dtype == np.int32
    assert quant.axis == 0
    assert np.all(quant.zero_point == 0)
    # 0.3 / 0.0005 = 600, -0.0071 / 0.0001 = -71, 12 / 0.025 = 480.
    np.testing.assert_array_equal(values, [600, -71, 480])


def test_bias_overflow_names_channel():
    with pytest.raises(QuantizationError, match="node 'conv_7': bias\\[1\\]"):
        quantize_bias(np.array([0.0, 1e6]), 1e-4, np.array([1e-4, 1e-4]), node_name="conv_7")


# --- graph builders --------------------------------------------------------------------


def weighted_graph(op: str = "conv2d", bias_value: float | None = None) -> Graph:
    """x (1,4,4,3) -> op with relu -> y, with a bias; fully_connected takes x as (1,12)."""
    rng = np.random.default_rng(4)
    graph = Graph(inputs=["x"], outputs=["y"])
    if op == "conv2d":
        x_shape, w_shape, y_shape = (1, 4, 4, 3), (5, 3, 3, 3), (1, 4, 4, 5)
        attrs = {"strides": (1, 1), "dilations": (1, 1), "pads": (1, 1, 1, 1), "activation": RELU}
    elif op == "depthwise_conv2d":
        x_shape, w_shape, y_shape = (1, 4, 4, 3), (1, 3, 3, 6), (1, 4, 4, 6)
        attrs = {
            "strides": (1, 1),
            "dilations": (1, 1),
            "pads": (1, 1, 1, 1),
            "activation": RELU,
            "depth_multiplier": 2,
        }
    else:
        x_shape, w_shape, y_shape = (1, 12), (5, 12), (1, 5)
        attrs = {"activation": RELU}
    channels = y_shape[-1]
    bias = rng.normal(size=channels) if bias_value is None else np.full(channels, bias_value)
    graph.add_tensor(Tensor("x", x_shape, "float32"))
    graph.add_tensor(Tensor("w", w_shape, "float32", rng.normal(size=w_shape)))
    graph.add_tensor(Tensor("b", (channels,), "float32", bias))
    graph.add_tensor(Tensor("y", y_shape, "float32"))
    graph.nodes.append(Node(op, "layer", ["x", "w", "b"], ["y"], attrs))
    graph.check()
    return graph


def chain_graph(ops: list[tuple[str, tuple[int, ...], dict]], x_shape=(1, 4, 4, 2)) -> Graph:
    """Chain x -> ops[0] -> t0 -> ops[1] -> t1 ..., whose last tensor is the graph output."""
    graph = Graph(inputs=["x"])
    graph.add_tensor(Tensor("x", x_shape, "float32"))
    previous = "x"
    for index, (op, shape, attrs) in enumerate(ops):
        name = f"t{index}"
        graph.add_tensor(Tensor(name, shape, "float32"))
        graph.nodes.append(Node(op, f"node{index}", [previous], [name], attrs))
        previous = name
    graph.outputs = [previous]
    graph.check()
    return graph


def float32_names(graph: Graph) -> set[str]:
    return {name for name, tensor in graph.tensors.items() if tensor.dtype == "float32"}


# --- weighted ops ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "op, axis", [("conv2d", 0), ("depthwise_conv2d", 3), ("fully_connected", 0)]
)
def test_weighted_op_weights_and_bias(op, axis):
    graph = weighted_graph(op)
    quantized = quantize_graph(graph, {"x": (-1.0, 1.0), "y": (0.0, 4.0)})
    weights = quantized.tensors["w"]
    bias = quantized.tensors["b"]
    assert weights.dtype == "int8"
    assert weights.quant.axis == axis
    assert weights.quant.scale.shape == (graph.tensors["w"].shape[axis],)
    assert np.abs(weights.data.astype(np.int64)).max() <= 127
    assert bias.dtype == "int32"
    input_scale = np.float64(quantized.tensors["x_int8"].quant.scale[0])
    expected = (input_scale * weights.quant.scale.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(bias.quant.scale, expected)
    restored = bias.data * bias.quant.scale.astype(np.float64)
    assert np.all(np.abs(restored - graph.tensors["b"].data) <= bias.quant.scale / 2 * (1 + 1e-6))
    output = quantized.tensors["y_int8"].quant
    assert float(output.scale[0]) == f32(4 / 255)
    assert int(output.zero_point[0]) == -128


def test_weighted_op_all_zero_channel_fallback():
    graph = weighted_graph("fully_connected")
    graph.tensors["w"].data[2] = 0.0
    graph.tensors["b"].data[2] = 0.5
    quantized = quantize_graph(graph, {"x": (-1.0, 1.0), "y": (0.0, 4.0)})
    weights = quantized.tensors["w"]
    bias = quantized.tensors["b"]
    assert float(weights.quant.scale[2]) == FALLBACK_SCALE
    assert np.all(weights.data[2] == 0)
    input_scale = float(quantized.tensors["x_int8"].quant.scale[0])
    assert int(bias.data[2]) == round(0.5 / input_scale)


def test_weighted_op_large_bias_widens_weight_scale():
    graph = weighted_graph("conv2d", bias_value=1e5)
    quantized = quantize_graph(graph, {"x": (-1e-3, 1e-3), "y": (0.0, 4.0)})

    bias = quantized.tensors["b"]
    weights = quantized.tensors["w"]
    max_abs_weights = np.abs(graph.tensors["w"].data).reshape(5, -1).max(axis=1)
    assert np.all(np.abs(bias.data.astype(np.int64)) <= 2**30 + 1)
    assert np.all(weights.quant.scale > max_abs_weights / 127)
    restored = bias.data * bias.quant.scale.astype(np.float64)
    np.testing.assert_allclose(restored, graph.tensors["b"].data, rtol=1e-6)


def test_bias_overflow_names_node():
    with pytest.raises(QuantizationError, match="node 'layer'.*overflows int32"):
        quantize_bias(np.array([1e5]), 1e-10, np.array([1e-10]), "layer")


def test_weighted_op_non_constant_filter_rejected():
    graph = Graph(inputs=["x", "w"], outputs=["y"])
    graph.add_tensor(Tensor("x", (1, 4), "float32"))
    graph.add_tensor(Tensor("w", (2, 4), "float32"))
    graph.add_tensor(Tensor("y", (1, 2), "float32"))
    graph.nodes.append(Node("fully_connected", "matmul", ["x", "w", ""], ["y"]))
    with pytest.raises(
        QuantizationError, match="node 'matmul'.*filter 'w' is not a float32 constant"
    ):
        quantize_graph(graph, {"x": (0.0, 1.0), "w": (0.0, 1.0), "y": (0.0, 1.0)})


def test_weighted_op_without_bias():
    graph = weighted_graph("fully_connected")
    graph.nodes[0].inputs[2] = ""
    del graph.tensors["b"]
    quantized = quantize_graph(graph, {"x": (-1.0, 1.0), "y": (0.0, 4.0)})
    layer = next(node for node in quantized.nodes if node.name == "layer")
    assert layer.inputs == ["x_int8", "w", ""]


def test_shared_bias_gets_one_version_per_input_scale():
    graph = Graph(inputs=["x1", "x2"], outputs=["y1", "y2"])
    graph.add_tensor(Tensor("w", (2, 3), "float32", np.eye(2, 3)))
    graph.add_tensor(Tensor("b", (2,), "float32", np.array([0.5, -0.25])))
    for index in (1, 2):
        graph.add_tensor(Tensor(f"x{index}", (1, 3), "float32"))
        graph.add_tensor(Tensor(f"y{index}", (1, 2), "float32"))
        graph.nodes.append(
            Node("fully_connected", f"fc{index}", [f"x{index}", "w", "b"], [f"y{index}"])
        )
    ranges = {"x1": (-1.0, 1.0), "x2": (-8.0, 8.0), "y1": (-1.0, 1.0), "y2": (-8.0, 8.0)}
    quantized = quantize_graph(graph, ranges)
    bias1 = quantized.nodes[2].inputs[2]
    bias2 = quantized.nodes[3].inputs[2]
    assert bias1 == "b"
    assert bias2 != bias1
    assert quantized.nodes[2].inputs[1] == quantized.nodes[3].inputs[1] == "w"
    assert float(quantized.tensors[bias2].quant.scale[0]) > float(
        quantized.tensors[bias1].quant.scale[0]
    )


# --- graph boundary --------------------------------------------------------------------


def test_boundary_quantize_and_dequantize_nodes():
    graph = weighted_graph("conv2d")
    quantized = quantize_graph(graph, {"x": (-1.0, 1.0), "y": (0.0, 4.0)})
    assert quantized.inputs == ["x"]
    assert quantized.outputs == ["y"]
    first, last = quantized.nodes[0], quantized.nodes[-1]
    assert (first.op, first.inputs, first.outputs) == ("quantize", ["x"], ["x_int8"])
    assert (last.op, last.inputs, last.outputs) == ("dequantize", ["y_int8"], ["y"])
    assert quantized.tensors["x"].dtype == "float32"
    assert quantized.tensors["y"].dtype == "float32"
    assert quantized.tensors["x_int8"].quant.same_as(activation_quant(-1.0, 1.0))
    assert float32_names(quantized) == {"x", "y"}
    quantized.check()


def test_input_graph_not_modified():
    graph = weighted_graph("conv2d")
    weights = graph.tensors["w"].data.copy()
    quantize_graph(graph, {"x": (-1.0, 1.0), "y": (0.0, 4.0)})
    assert graph.tensors["w"].dtype == "float32"
    np.testing.assert_array_equal(graph.tensors["w"].data, weights)
    assert [node.op for node in graph.nodes] == ["conv2d"]


def test_output_with_other_consumer_uses_int8_tensor():
    graph = chain_graph([("reshape", (1, 32), {}), ("softmax", (1, 32), {"beta": 1.0})])
    graph.outputs = ["t0", "t1"]
    quantized = quantize_graph(graph, {"x": (-1.0, 1.0), "t0": (-1.0, 1.0), "t1": (0.0, 1.0)})
    softmax = next(node for node in quantized.nodes if node.op == "softmax")
    assert softmax.inputs == ["t0_int8"]
    dequantized = [node.outputs[0] for node in quantized.nodes if node.op == "dequantize"]
    assert dequantized == ["t0", "t1"]
    assert float32_names(quantized) == {"x", "t0", "t1"}


def test_integer_input_left_alone():
    graph = weighted_graph("fully_connected")
    graph.add_tensor(Tensor("ids", (1, 4), "int64"))
    graph.add_tensor(Tensor("ids_flat", (4,), "int64"))
    graph.nodes.append(Node("reshape", "flatten_ids", ["ids"], ["ids_flat"]))
    graph.inputs.append("ids")
    graph.outputs.append("ids_flat")
    quantized = quantize_graph(graph, {"x": (-1.0, 1.0), "y": (0.0, 4.0)})
    assert quantized.tensors["ids"].dtype == "int64"
    assert quantized.tensors["ids"].quant is None
    assert quantized.tensors["ids_flat"].dtype == "int64"
    quantize_inputs = [node.inputs[0] for node in quantized.nodes if node.op == "quantize"]
    assert quantize_inputs == ["x"]
    quantized.check()


def test_boundary_names_avoid_existing_tensors():
    graph = weighted_graph("fully_connected")
    graph.add_tensor(Tensor("x_int8", (1, 12), "float32"))
    graph.nodes.insert(0, Node("clip", "clip", ["x"], ["x_int8"], {"activation": (-1.0, 1.0)}))
    graph.nodes[1].inputs[0] = "x_int8"
    ranges = {"x": (-2.0, 2.0), "x_int8": (-1.0, 1.0), "y": (0.0, 4.0)}
    quantized = quantize_graph(graph, ranges)
    assert quantized.nodes[0].outputs == ["x_int8_1"]
    assert quantized.nodes[1].inputs == ["x_int8_1"]
    assert quantized.nodes[1].outputs == ["x_int8"]
    quantized.check()


# --- output rules of other ops ---------------------------------------------------------


def test_softmax_output_fixed():
    graph = chain_graph([("reshape", (1, 32), {}), ("softmax", (1, 32), {"beta": 1.0})])
    ranges = {"x": (-3.0, 5.0), "t0": (-3.0, 5.0), "t1": (0.01, 0.2)}
    quantized = quantize_graph(graph, ranges)
    output = quantized.tensors["t1_int8"].quant
    assert float(output.scale[0]) == 1 / 256
    assert int(output.zero_point[0]) == -128


@pytest.mark.parametrize(
    "op, shape, attrs",
    [
        ("reshape", (1, 32), {}),
        ("transpose", (1, 2, 4, 4), {"perm": (0, 3, 1, 2)}),
        ("max_pool2d", (1, 2, 2, 2), {"kernel": (2, 2), "strides": (2, 2), "pads": (0, 0, 0, 0)}),
        (
            "average_pool2d",
            (1, 2, 2, 2),
            {"kernel": (2, 2), "strides": (2, 2), "pads": (0, 0, 0, 0)},
        ),
        ("pad", (1, 6, 6, 2), {"pads": ((0, 0), (1, 1), (1, 1), (0, 0))}),
    ],
)
def test_shape_op_shares_input_quant(op, shape, attrs):
    graph = chain_graph([("clip", (1, 4, 4, 2), {"activation": (-2.0, 6.0)}), (op, shape, attrs)])
    ranges = {"x": (-4.0, 8.0), "t0": (-2.0, 6.0), "t1": (0.5, 3.0)}
    quantized = quantize_graph(graph, ranges)
    source = quantized.tensors["t0"].quant
    assert source.same_as(activation_quant(-2.0, 6.0))
    assert quantized.tensors["t1_int8"].quant.same_as(source)


@pytest.mark.parametrize("op", ["add", "sub", "mul"])
def test_elementwise_output_own_range_and_constant_operand(op):
    graph = Graph(inputs=["x"], outputs=["y"])
    graph.add_tensor(Tensor("x", (1, 4), "float32"))
    graph.add_tensor(Tensor("k", (4,), "float32", np.array([-1.0, 0.0, 0.5, 3.0])))
    graph.add_tensor(Tensor("y", (1, 4), "float32"))
    graph.nodes.append(Node(op, "elementwise", ["x", "k"], ["y"]))
    quantized = quantize_graph(graph, {"x": (-1.0, 1.0), "y": (-5.0, 5.0)})
    assert quantized.tensors["y_int8"].quant.same_as(activation_quant(-5.0, 5.0))
    constant = quantized.tensors["k"]
    assert constant.dtype == "int8"
    assert constant.quant.same_as(activation_quant(-1.0, 3.0))
    np.testing.assert_array_equal(
        constant.data, quantize_values(np.array([-1.0, 0.0, 0.5, 3.0]), constant.quant)
    )


def test_mean_output_own_range():
    graph = chain_graph([("mean", (1, 1, 1, 2), {"axes": (1, 2), "keepdims": True})])
    quantized = quantize_graph(graph, {"x": (-4.0, 4.0), "t0": (-0.5, 0.5)})
    assert quantized.tensors["t0_int8"].quant.same_as(activation_quant(-0.5, 0.5))


# --- concat ----------------------------------------------------------------------------


def concat_graph(extra_consumer: bool = False) -> Graph:
    """x -> clip a, x -> clip b, concat(a, b) -> y; optionally b also feeds graph output z."""
    graph = Graph(inputs=["x"], outputs=["y"])
    graph.add_tensor(Tensor("x", (1, 4), "float32"))
    for name, bounds in (("a", (0.0, 1.0)), ("b", (-3.0, 3.0))):
        graph.add_tensor(Tensor(name, (1, 4), "float32"))
        graph.nodes.append(Node("clip", f"clip_{name}", ["x"], [name], {"activation": bounds}))
    graph.add_tensor(Tensor("y", (1, 8), "float32"))
    graph.nodes.append(Node("concat", "join", ["a", "b"], ["y"], {"axis": 1}))
    if extra_consumer:
        graph.add_tensor(Tensor("z", (1, 4), "float32"))
        graph.nodes.append(Node("softmax", "other", ["b"], ["z"], {"beta": 1.0}))
        graph.outputs.append("z")
    graph.check()
    return graph


CONCAT_RANGES = {
    "x": (-4.0, 4.0),
    "a": (0.0, 1.0),
    "b": (-3.0, 3.0),
    "y": (-3.0, 3.0),
    "z": (0.0, 1.0),
}


def test_concat_replaces_single_consumer_inputs():
    quantized = quantize_graph(concat_graph(), CONCAT_RANGES)
    common = activation_quant(-3.0, 3.0)
    for name in ("a", "b", "y_int8"):
        assert quantized.tensors[name].quant.same_as(common), name
    assert [node.op for node in quantized.nodes] == [
        "quantize",
        "clip",
        "clip",
        "concat",
        "dequantize",
    ]


def test_concat_requantizes_shared_input():
    graph = concat_graph(extra_consumer=True)
    ranges = dict(CONCAT_RANGES, b=(-2.0, 2.0))
    quantized = quantize_graph(graph, ranges)
    common = activation_quant(-3.0, 3.0)
    assert quantized.tensors["a"].quant.same_as(common)
    assert quantized.tensors["b"].quant.same_as(activation_quant(-2.0, 2.0))

    concat = next(node for node in quantized.nodes if node.op == "concat")
    assert concat.inputs[0] == "a"
    requantized = concat.inputs[1]
    producer = quantized.producer(requantized)
    assert producer.op == "quantize"
    assert producer.inputs == ["b"]
    assert quantized.tensors[requantized].dtype == "int8"
    assert quantized.tensors[requantized].quant.same_as(common)
    assert quantized.nodes.index(producer) < quantized.nodes.index(concat)
    quantized.check()


def test_concat_requantizes_shared_quant_input():
    graph = Graph(inputs=["x"], outputs=["y"])
    graph.add_tensor(Tensor("x", (1, 4), "float32"))
    graph.add_tensor(Tensor("a", (1, 4), "float32"))
    graph.add_tensor(Tensor("r", (1, 4), "float32"))
    graph.add_tensor(Tensor("y", (1, 8), "float32"))
    graph.nodes.append(Node("clip", "clip_a", ["x"], ["a"], {"activation": (0.0, 1.0)}))
    graph.nodes.append(Node("reshape", "reshape_x", ["x"], ["r"]))
    graph.nodes.append(Node("concat", "join", ["a", "r"], ["y"], {"axis": 1}))
    ranges = {"x": (-4.0, 4.0), "a": (0.0, 1.0), "r": (-4.0, 4.0), "y": (-5.0, 5.0)}
    quantized = quantize_graph(graph, ranges)
    concat = next(node for node in quantized.nodes if node.op == "concat")
    # r shares x's parameters (reshape), so only a requantize node can change them.
    assert quantized.tensors["r"].quant.same_as(activation_quant(-4.0, 4.0))
    assert quantized.producer(concat.inputs[1]).op == "quantize"
    assert quantized.tensors["a"].quant.same_as(activation_quant(-5.0, 5.0))


def test_concat_constant_input_uses_common_quant():
    graph = Graph(inputs=["x"], outputs=["y"])
    graph.add_tensor(Tensor("x", (1, 4), "float32"))
    graph.add_tensor(Tensor("k", (1, 2), "float32", np.array([[-6.0, 2.0]])))
    graph.add_tensor(Tensor("y", (1, 6), "float32"))
    graph.nodes.append(Node("concat", "join", ["x", "k"], ["y"], {"axis": 1}))
    quantized = quantize_graph(graph, {"x": (-1.0, 1.0), "y": (-6.0, 2.0)})
    common = activation_quant(-6.0, 2.0)
    assert quantized.tensors["k"].quant.same_as(common)
    assert quantized.tensors["x_int8"].quant.same_as(common)
    np.testing.assert_array_equal(
        quantized.tensors["k"].data, quantize_values(np.array([[-6.0, 2.0]]), common)
    )


# --- invalid graphs --------------------------------------------------------------------


def test_missing_range_names_tensor():
    graph = weighted_graph("conv2d")
    with pytest.raises(QuantizationError, match="tensor 'y' \\(output of node 'layer'\\)"):
        quantize_graph(graph, {"x": (-1.0, 1.0)})


def test_unsupported_op_lists_nodes():
    graph = chain_graph([("dequantize", (1, 4, 4, 2), {}), ("quantize", (1, 4, 4, 2), {})])
    with pytest.raises(QuantizationError, match="'node0' \\(dequantize\\), 'node1' \\(quantize\\)"):
        quantize_graph(graph, {"x": (0.0, 1.0), "t0": (0.0, 1.0), "t1": (0.0, 1.0)})


def test_already_quantized_graph_rejected():
    graph = weighted_graph("conv2d")
    graph.tensors["y"].quant = activation_quant(0.0, 1.0)
    with pytest.raises(QuantizationError, match="tensor 'y' already has quantization"):
        quantize_graph(graph, {"x": (-1.0, 1.0), "y": (0.0, 4.0)})


# --- integer execution -----------------------------------------------------------------


def test_quantized_fully_connected_matches_float():
    """The int8 graph, run by the integer reference kernels, stays within a few output steps."""
    graph = weighted_graph("fully_connected")
    rng = np.random.default_rng(5)
    samples = rng.uniform(-1.0, 1.0, size=(20, 1, 12)).astype(np.float32)
    weights, bias = graph.tensors["w"].data, graph.tensors["b"].data
    expected = np.maximum(samples @ weights.T.astype(np.float64) + bias, 0.0)
    ranges = {"x": (float(samples.min()), float(samples.max())), "y": (0.0, float(expected.max()))}
    quantized = quantize_graph(graph, ranges)
    output_scale = float(quantized.tensors["y_int8"].quant.scale[0])
    for sample, reference in zip(samples, expected):
        result = run(quantized, {"x": sample})["y"]
        assert result.dtype == np.float32
        assert np.abs(result - reference).max() <= 3 * output_scale


# --- real models -----------------------------------------------------------------------

FLOAT_ONNX_MODELS = [
    "keyword_spotting",
    "keyword_spotting_nchw",
    "image_classification",
    "image_classification_nchw",
    "visual_wake_words",
    "visual_wake_words_nchw",
    "anomaly_detection",
]
WEIGHTED_OPS = {"conv2d", "depthwise_conv2d", "fully_connected"}


def quantize_real_model(models, model: str) -> tuple[Graph, Graph]:
    """Load ``model`` from the ONNX folder and quantize it on its calibration set.

    The calibration files are NHWC, so ``_nchw`` models get them transposed to NCHW.
    """
    from edgec.frontend.onnx import load_onnx
    from edgec.quantize import collect_ranges, load_calibration

    float_graph = load_onnx(models / "onnx" / f"{model}.onnx")
    dataset = model.removesuffix("_nchw")
    with np.load(models / "data" / "calib" / f"{dataset}.npz") as archive:
        arrays = {key: archive[key] for key in archive.files}
    if model.endswith("_nchw"):
        arrays = {key: np.transpose(value, (0, 3, 1, 2)) for key, value in arrays.items()}
    feeds = load_calibration(arrays, float_graph)
    ranges = collect_ranges(float_graph, feeds, quiet=True)
    return float_graph, quantize_graph(float_graph, ranges)


@pytest.mark.parametrize("model", FLOAT_ONNX_MODELS)
def test_real_model_quantized_graph(models, model):
    float_graph, quantized = quantize_real_model(models, model)
    quantized.check()
    assert quantized.inputs == float_graph.inputs
    assert quantized.outputs == float_graph.outputs
    assert float32_names(quantized) == set(float_graph.inputs) | set(float_graph.outputs)

    weighted = [node for node in quantized.nodes if node.op in WEIGHTED_OPS]
    assert weighted
    for node in weighted:
        weights = quantized.tensors[node.inputs[1]]
        assert weights.dtype == "int8", node.name
        assert np.abs(weights.data.astype(np.int64)).max() <= 127, node.name
        assert np.all(weights.quant.zero_point == 0), node.name
        if node.inputs[2]:
            assert quantized.tensors[node.inputs[2]].dtype == "int32", node.name

    for tensor in quantized.tensors.values():
        if tensor.quant is None:
            continue
        assert tensor.quant.scale.dtype == np.float32, tensor.name
        assert np.all(tensor.quant.scale > 0), tensor.name
        assert np.all(np.isfinite(tensor.quant.scale)), tensor.name
        if tensor.dtype == "int8":
            assert tensor.quant.zero_point.min() >= -128, tensor.name
            assert tensor.quant.zero_point.max() <= 127, tensor.name


def test_real_model_softmax_output_fixed(models):
    _, quantized = quantize_real_model(models, "keyword_spotting")
    softmax = next(node for node in quantized.nodes if node.op == "softmax")
    output = quantized.tensors[softmax.outputs[0]].quant
    assert float(output.scale[0]) == 1 / 256
    assert int(output.zero_point[0]) == -128
    pool = next(node for node in quantized.nodes if node.op == "average_pool2d")
    pool_input = quantized.tensors[pool.inputs[0]].quant
    assert quantized.tensors[pool.outputs[0]].quant.same_as(pool_input)
