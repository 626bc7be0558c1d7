"""int4 weights: quantization formulas, packing, config keys, the quantizer, the accumulator
bound, the generator's type check and the byte count of the report."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgec.codegen.generator import build_model_code
from edgec.errors import UnsupportedAttributeError
from edgec.fit import constant_bytes
from edgec.frontend import load_model
from edgec.ir import Graph, Node, Quant, Tensor
from edgec.lower.params import kernel_params
from edgec.quantize import quantize_graph
from edgec.quantize.config import ConfigError, LayerSettings, parse_config
from edgec.quantize.params import (
    FALLBACK_SCALE,
    dequantize_weights,
    grouped_weights,
    int4_group_size,
    pack_int4,
    quantize_weights_int4,
    unpack_int4,
    weight_rows,
)
from tests.kernels.calls import pack_int4_rows

FILTER_AXIS = {"conv2d": 0, "depthwise_conv2d": 3, "fully_connected": 0}
PER_GROUP_32 = LayerSettings(weight_bits=4, weight_granularity="per-group", group_size=32)


# --- packing -----------------------------------------------------------------------------


def test_pack_int4_hand_computed_bytes():
    values = np.array([[1, -1, 7, -7, 0], [-8, 3, 0, 0, -2]], dtype=np.int8)

    packed = pack_int4(values, axis=0)

    # Value 2j in the low nibble, 2j+1 in the high nibble; odd K ends with a zero nibble.
    assert packed.dtype == np.uint8
    assert packed.tolist() == [[0xF1, 0x97, 0x00], [0x38, 0x00, 0x0E]]


@pytest.mark.parametrize(
    "shape, axis",
    [((5, 3, 3, 7), 0), ((1, 3, 3, 6), 3), ((4, 9), 0), ((3, 1, 1, 2), 0), ((1, 5, 1, 4), 3)],
)
def test_pack_int4_round_trip(shape, axis):
    rng = np.random.default_rng(1)
    values = rng.integers(-8, 8, size=shape).astype(np.int8)

    packed = pack_int4(values, axis)

    channels = shape[axis]
    reduction = values.size // channels
    assert packed.shape == (channels, math.ceil(reduction / 2))
    assert np.array_equal(unpack_int4(packed, shape, axis), values)
    assert np.array_equal(packed, pack_int4_rows(values, axis))


def test_weight_rows_depthwise_order():
    values = np.arange(1 * 2 * 3 * 4).reshape(1, 2, 3, 4)

    rows = weight_rows(values, 3)

    # Channel c's values in (h, w) order.
    assert rows.shape == (4, 6)
    assert rows[1].tolist() == values[0, :, :, 1].ravel().tolist()


# --- quantization formulas -----------------------------------------------------------------


def test_quantize_int4_per_channel_scales():
    weights = np.array([[0.7, -0.36, 0.1], [0.0, 0.0, 0.0], [-1.4, 0.2, 0.0]])

    values, quant = quantize_weights_int4(weights, axis=0)

    assert quant.scale.tolist() == pytest.approx([0.1, FALLBACK_SCALE, 0.2])
    assert not quant.per_group
    assert values.tolist() == [[7, -4, 1], [0, 0, 0], [-7, 1, 0]]


def test_quantize_int4_group_multipliers_hand_computed():
    # One channel, K = 5, groups of 2: {1.4, -0.75}, {0.35, 0}, {0}.
    weights = np.array([[1.4, -0.75, 0.35, 0.0, 0.0]])

    values, quant = quantize_weights_int4(weights, axis=0, group_size=2)

    assert quant.group_size == 2
    # ceil(255 * 1.4 / 1.4), ceil(255 * 0.35 / 1.4) = ceil(63.75), and an all-zero group.
    assert quant.group_multipliers.tolist() == [[255, 64, 1]]
    assert quant.group_multipliers.dtype == np.uint8
    # Group 1's scale is 0.2 * 64 / 255, so 0.35 becomes round(6.97) = 7.
    assert values.tolist() == [[7, -4, 7, 0, 0]]


def test_quantize_int4_group_multipliers_in_range():
    rng = np.random.default_rng(7)
    weights = rng.standard_normal((6, 3, 3, 11)) * rng.uniform(0.01, 3, size=(6, 1, 1, 1))
    weights[2] = 0.0
    weights[4, 0] = 0.0  # k = 0 .. 32 of channel 4: groups 0 to 3 are all zero

    values, quant = quantize_weights_int4(weights, axis=0, group_size=8)

    multipliers = quant.group_multipliers
    assert multipliers.shape == (6, math.ceil(99 / 8))
    assert multipliers.min() >= 1
    assert multipliers.max() <= 255
    # The group holding a channel's largest weight has multiplier 255.
    assert (multipliers.max(axis=1) == 255).all()
    # All-zero channel 2, and groups of channel 4 that are all zero.
    assert (multipliers[2] == 255).all()
    assert quant.scale[2] == FALLBACK_SCALE
    assert (multipliers[4, :4] == 1).all()
    assert values.min() >= -7
    assert values.max() <= 7
    assert (values[2] == 0).all()


def test_quantize_int4_dequantized_error_bound():
    rng = np.random.default_rng(3)
    weights = rng.standard_normal((4, 40))

    values, quant = quantize_weights_int4(weights, axis=0, group_size=16)

    dequantized = dequantize_weights(values, quant, axis=0)
    group_scales = quant.scale[:, None].astype(np.float64) * np.repeat(
        quant.group_multipliers, 16, axis=1
    )[:, :40] / 255
    assert (np.abs(dequantized - weights) <= group_scales / 2 + 1e-12).all()


def test_int4_group_size_per_channel_when_k_fits():
    assert int4_group_size((8, 3, 3, 1), 0, 32) is None  # K = 9
    assert int4_group_size((1, 3, 3, 8), 3, 9) is None  # depthwise K = 9
    assert int4_group_size((1, 3, 3, 8), 3, 8) == 8
    assert int4_group_size((8, 64), 0, 32) == 32
    assert int4_group_size((8, 64), 0, None) is None


def test_grouped_weights_multiply_each_group():
    values = np.array([[1, 2, 3], [-1, 0, 7]], dtype=np.int8)
    quant = Quant(np.ones(2), np.zeros(2), axis=0, group_size=2,
                  group_multipliers=np.array([[10, 3], [255, 1]]))

    assert grouped_weights(values, quant, 0).tolist() == [[10, 20, 9], [-255, 0, 7]]


@pytest.mark.parametrize("name", ["keyword_spotting", "image_classification"])
def test_per_group_closer_to_float_on_real_weights(models, name):
    graph = load_model(models / "onnx" / f"{name}.onnx")
    compared = 0
    for node in graph.nodes:
        if node.op not in FILTER_AXIS:
            continue
        weights = graph.tensors[node.inputs[1]].data.astype(np.float64)
        axis = FILTER_AXIS[node.op]
        if int4_group_size(weights.shape, axis, 32) is None:
            continue
        errors = {}
        for group_size in (None, 32):
            values, quant = quantize_weights_int4(weights, axis, group_size=group_size)
            errors[group_size] = np.mean((dequantize_weights(values, quant, axis) - weights) ** 2)
        assert errors[32] < errors[None], f"layer {node.name}"
        compared += 1

    assert compared >= 3


# --- Quant and Tensor checks ---------------------------------------------------------------


def test_quant_rejects_group_multipliers_of_wrong_shape():
    with pytest.raises(ValueError, match="expected \\(3, groups\\)"):
        Quant(np.ones(3), np.zeros(3), axis=0, group_size=4,
              group_multipliers=np.ones((2, 2)))
    with pytest.raises(ValueError, match="given together"):
        Quant(np.ones(3), np.zeros(3), axis=0, group_size=4)


def test_quant_same_as_compares_group_multipliers():
    first = Quant(np.ones(1), np.zeros(1), axis=0, group_size=2,
                  group_multipliers=np.array([[255, 3]]))
    second = Quant(np.ones(1), np.zeros(1), axis=0, group_size=2,
                   group_multipliers=np.array([[255, 4]]))

    assert not first.same_as(second)
    assert first.same_as(Quant(np.ones(1), np.zeros(1), axis=0, group_size=2,
                               group_multipliers=np.array([[255, 3]])))


def test_int4_tensor_rejects_value_out_of_range():
    with pytest.raises(ValueError, match="int4 values must be in \\[-7, 7\\]"):
        Tensor("w", (2,), "int4", np.array([3, -8]))


# --- config ------------------------------------------------------------------------------


def test_config_accepts_int4_per_group():
    config = parse_config({"defaults": {"weight_bits": 4, "weight_granularity": "per-group",
                                        "group_size": 64}})

    settings = config.settings_for(Node("conv2d", "conv", [], []))

    assert (settings.weight_bits, settings.weight_granularity, settings.group_size) == (
        4, "per-group", 64)
    assert LayerSettings().group_size == 32


@pytest.mark.parametrize(
    "document, message",
    [
        ({"defaults": {"weight_granularity": "per-group"}}, "needs weight_bits = 4, got 8"),
        ({"defaults": {"weight_bits": 4, "weight_granularity": "per-group"},
          "op_types": {"conv2d": {"weight_bits": 8}}}, "[op_types.conv2d]"),
        ({"defaults": {"group_size": 1}}, "expected an integer >= 2"),
        ({"defaults": {"group_size": 16.0}}, "expected an integer"),
        ({"defaults": {"weight_bits": 2}}, "weight_bits = 2 is not supported"),
    ],
)
def test_config_bad_int4_setting_names_it(document, message):
    with pytest.raises(ConfigError) as error:
        parse_config(document, source="q.toml")

    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_config_combined_tables_rejected_per_layer():
    # Each table is valid on top of the defaults; only their combination on conv_2 is not.
    config = parse_config({
        "defaults": {"weight_bits": 4},
        "op_types": {"conv2d": {"weight_granularity": "per-group"}},
        "layers": {"conv_2": {"weight_bits": 8}},
    }, source="q.toml")

    assert config.settings_for(Node("conv2d", "conv_1", [], [])).weight_granularity == "per-group"
    assert config.settings_for(Node("fully_connected", "conv_2", [], [])).weight_bits == 8
    with pytest.raises(ConfigError, match="layer 'conv_2'.*needs weight_bits = 4"):
        config.settings_for(Node("conv2d", "conv_2", [], []))


# --- quantizer ---------------------------------------------------------------------------


def _float_graph(rng: np.random.Generator, channels: int = 6) -> Graph:
    """x (1, 4, 4, 5) -> conv2d 3x3 -> depthwise_conv2d 3x3 -> flatten -> fully_connected."""
    graph = Graph(inputs=["x"], outputs=["y"])
    tensors = [
        Tensor("x", (1, 4, 4, 5), "float32"),
        Tensor("w1", (channels, 3, 3, 5), "float32", rng.standard_normal((channels, 3, 3, 5))),
        Tensor("b1", (channels,), "float32", rng.standard_normal(channels) * 0.1),
        Tensor("c1", (1, 4, 4, channels), "float32"),
        Tensor("w2", (1, 3, 3, channels), "float32", rng.standard_normal((1, 3, 3, channels))),
        Tensor("b2", (channels,), "float32", rng.standard_normal(channels) * 0.1),
        Tensor("c2", (1, 4, 4, channels), "float32"),
        Tensor("flat", (1, 16 * channels), "float32"),
        Tensor("w3", (3, 16 * channels), "float32", rng.standard_normal((3, 16 * channels))),
        Tensor("y", (1, 3), "float32"),
    ]
    for tensor in tensors:
        graph.add_tensor(tensor)
    window = {"strides": (1, 1), "dilations": (1, 1), "pads": (1, 1, 1, 1), "activation": None}
    graph.nodes = [
        Node("conv2d", "conv", ["x", "w1", "b1"], ["c1"], dict(window)),
        Node("depthwise_conv2d", "dw", ["c1", "w2", "b2"], ["c2"],
             {**window, "depth_multiplier": 1}),
        Node("reshape", "flatten", ["c2"], ["flat"]),
        Node("fully_connected", "fc", ["flat", "w3", ""], ["y"], {"activation": None}),
    ]
    return graph


def _ranges(graph: Graph) -> dict[str, tuple[float, float]]:
    return {name: (-4.0, 4.0) for name, tensor in graph.tensors.items()
            if tensor.dtype == "float32" and not tensor.is_constant}


def test_quantizer_int4_per_group_tensors():
    graph = _float_graph(np.random.default_rng(11))

    quantized = quantize_graph(graph, _ranges(graph), lambda node: PER_GROUP_32)

    conv, depthwise, fc = (quantized.tensors[name] for name in ("w1", "w2", "w3"))
    assert (conv.dtype, depthwise.dtype, fc.dtype) == ("int4", "int4", "int4")
    assert conv.quant.group_size == 32
    assert conv.quant.group_multipliers.shape == (6, 2)
    assert fc.quant.group_multipliers.shape == (3, 3)
    # Depthwise K = 9 <= 32: per channel.
    assert not depthwise.quant.per_group
    # The bias of a per-group layer has scale input_scale * weight_scale / 255.
    input_scale = np.float64(quantized.tensors["x_int8"].quant.scale[0])
    expected = (input_scale * conv.quant.scale.astype(np.float64) / 255).astype(np.float32)
    assert np.array_equal(quantized.tensors["b1"].quant.scale, expected)
    depthwise_input = np.float64(quantized.tensors["c1"].quant.scale[0])
    expected = (depthwise_input * depthwise.quant.scale.astype(np.float64)).astype(np.float32)
    assert np.array_equal(quantized.tensors["b2"].quant.scale, expected)


def test_quantizer_int8_by_default():
    graph = _float_graph(np.random.default_rng(11))

    quantized = quantize_graph(graph, _ranges(graph))

    assert {quantized.tensors[name].dtype for name in ("w1", "w2", "w3")} == {"int8"}


def test_int4_requantization_multiplier_carries_1_over_255():
    graph = _float_graph(np.random.default_rng(12))
    per_channel = quantize_graph(graph, _ranges(graph), lambda node: LayerSettings(weight_bits=4))
    per_group = quantize_graph(graph, _ranges(graph), lambda node: PER_GROUP_32)
    node = next(n for n in per_group.nodes if n.op == "conv2d")

    group_params = kernel_params(node, per_group)
    channel_params = kernel_params(node, per_channel)

    # Same channel scales (max|w| / 7), so the real multipliers differ by exactly 255.
    assert np.array_equal(per_group.tensors["w1"].quant.scale,
                          per_channel.tensors["w1"].quant.scale)
    real_group = group_params.multipliers * 2.0 ** (group_params.shifts - 31)
    real_channel = channel_params.multipliers * 2.0 ** (channel_params.shifts - 31)
    assert real_group == pytest.approx(real_channel / 255, rel=1e-8)


# --- accumulator bound, type check and byte count ------------------------------------------


def _int4_fc_graph(depth: int, value: int = 7, multiplier: int = 255) -> Graph:
    groups = math.ceil(depth / 32)
    graph = Graph(inputs=["x"], outputs=["y"])
    quant = Quant(np.ones(2), np.zeros(2), axis=0, group_size=32,
                  group_multipliers=np.full((2, groups), multiplier))
    for tensor in [
        Tensor("x", (1, depth), "int8", quant=Quant(np.ones(1), np.array([127]))),
        Tensor("w", (2, depth), "int4", np.full((2, depth), value), quant),
        Tensor("y", (1, 2), "int8", quant=Quant(np.array([2.0**22]), np.zeros(1))),
    ]:
        graph.add_tensor(tensor)
    graph.nodes = [Node("fully_connected", "fc", ["x", "w", ""], ["y"], {"activation": None})]
    return graph


def test_int4_accumulator_bound_rejects_overflow():
    # 255 * 255 * 7 * 4720 = 2,148,380,000 > 2**31 - 1.
    with pytest.raises(UnsupportedAttributeError, match="can overflow the int32 accumulator"):
        kernel_params(_int4_fc_graph(4720).nodes[0], _int4_fc_graph(4720))

    graph = _int4_fc_graph(4700)
    assert kernel_params(graph.nodes[0], graph).multipliers.shape == (2,)
    small = _int4_fc_graph(4720, multiplier=128)
    assert kernel_params(small.nodes[0], small).multipliers.shape == (2,)


def test_generator_rejects_int4_outside_filters():
    graph = Graph(inputs=["x"], outputs=["y"])
    quant = Quant(np.array([0.1]), np.zeros(1), axis=None)
    for tensor in [
        Tensor("x", (1, 4), "int8", quant=quant),
        Tensor("c", (1, 4), "int4", np.array([[1, -2, 3, 7]]), quant),
        Tensor("y", (1, 4), "int8", quant=quant),
    ]:
        graph.add_tensor(tensor)
    graph.nodes = [Node("add", "add", ["x", "c"], ["y"], {"activation": None})]

    with pytest.raises(UnsupportedAttributeError, match="int4 constants only as the filter.*'c'"):
        build_model_code(graph, "model", None)


def test_int4_filter_lowered_packed():
    graph = _int4_fc_graph(75, value=-3)

    code = build_model_code(graph, "model", None)

    (call,) = code.calls
    assert call.function == "edgec_fully_connected_s8_s4"
    arrays = {array.name: array for array in code.arrays}
    packed = arrays[call.args[6]]
    multipliers = arrays[call.args[8]]
    assert call.args[7] == "32"
    assert packed.ctype == "uint8_t"
    assert packed.values.size == 2 * 38
    # -3 is 0xD in 4-bit two's complement; K = 75 ends each row with a zero high nibble.
    assert set(packed.values.tolist()) == {0xDD, 0x0D}
    assert multipliers.ctype == "uint8_t"
    assert multipliers.values.size == 2 * 3
    assert constant_bytes(graph.tensors["w"]) == 2 * 38 + 2 * 3
