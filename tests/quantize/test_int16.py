"""int16 activations (16x8 layers): config keys, parameters, the quantizer's conversions,
the integer parameters and their checks, the reference interpreter, lowering, aliasing and
the generator's type check."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgec.codegen.generator import build_model_code
from edgec.errors import QuantizationError, UnsupportedAttributeError
from edgec.ir import Graph, Node, Quant, Tensor
from edgec.lower.params import kernel_params
from edgec.memory import node_alias
from edgec.quantize import collect_ranges, quantize_graph
from edgec.quantize.config import ConfigError, LayerSettings, parse_config
from edgec.quantize.params import FALLBACK_SCALE, int16_activation_quant, quantize_bias
from edgec.reference.interpreter import run, run_samples

INT16 = LayerSettings(activation_bits=16)


# --- config ------------------------------------------------------------------------------


def test_config_accepts_activation_bits_16_for_conv():
    config = parse_config({"layers": {"conv_1": {"activation_bits": 16}}})

    settings = config.settings_for(Node("conv2d", "conv_1", [], []))

    assert settings.activation_bits == 16
    assert config.settings_for(Node("conv2d", "conv_2", [], [])).activation_bits == 8


@pytest.mark.parametrize("op", ["add", "average_pool2d", "softmax", "reshape"])
def test_config_16_bits_for_other_op_names_layer(op):
    config = parse_config({"op_types": {op: {"activation_bits": 16}}})

    with pytest.raises(ConfigError) as error:
        config.settings_for(Node(op, "layer_7", [], []))

    message = str(error.value)
    assert f"layer 'layer_7' ({op})" in message
    assert "conv2d, depthwise_conv2d, fully_connected" in message


def test_config_16_bits_with_int4_weights_rejected():
    with pytest.raises(ConfigError, match=r"\[layers.conv_1\]: activation_bits = 16 needs "
                                          r"weight_bits = 8, got 4"):
        parse_config({"layers": {"conv_1": {"activation_bits": 16, "weight_bits": 4}}})


def test_config_activation_bits_12_rejected():
    with pytest.raises(ConfigError, match=r"activation_bits = 12 is not supported: "
                                          r"activations can be 8 or 16 bits"):
        parse_config({"defaults": {"activation_bits": 12}})


# --- parameters --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "low, high, scale",
    [(-3.0, 1.5, 3.0 / 32767), (0.0, 6.0, 6.0 / 32767), (-0.25, -0.125, 0.25 / 32767),
     (0.0, 0.0, FALLBACK_SCALE)],
)
def test_int16_activation_quant_symmetric(low, high, scale):
    quant = int16_activation_quant(low, high)

    assert float(quant.scale[0]) == float(np.float32(scale))
    assert quant.zero_point.tolist() == [0]


def test_int16_activation_quant_rejects_nan_range():
    with pytest.raises(QuantizationError, match="tensor 'act': invalid calibration range"):
        int16_activation_quant(float("nan"), 1.0, name="act")


def test_quantize_bias_int64_beyond_int32():
    # Scales 2**-40 and 2**-39 are exact in float32: 5 * 2**40 and -5 * 2**39.
    values, quant = quantize_bias(np.array([5.0, -5.0]), 2.0**-20,
                                  np.array([2.0**-20, 2.0**-19]), bits=64)

    assert values.dtype == np.int64
    assert values.tolist() == [5 * 2**40, -5 * 2**39]
    assert quant.zero_point.tolist() == [0, 0]


def test_quantize_bias_int64_overflow_names_node():
    with pytest.raises(QuantizationError, match="node 'conv_9': bias\\[0\\] = 1e\\+10 overflows "
                                                "int64"):
        quantize_bias(np.array([1e10]), 1e-5, np.array([1e-5]), "conv_9", bits=64)


# --- quantizer ---------------------------------------------------------------------------


def _float_graph(rng: np.random.Generator) -> Graph:
    """x -> conv1 -> c1 -> dw -> c2 -> conv2 (1x1) -> c3; add(c3, c1) -> flatten -> fc -> y."""
    graph = Graph(inputs=["x"], outputs=["y"])
    tensors = [
        Tensor("x", (1, 4, 4, 3), "float32"),
        Tensor("w1", (6, 3, 3, 3), "float32", rng.standard_normal((6, 3, 3, 3)) * 0.3),
        Tensor("b1", (6,), "float32", rng.standard_normal(6) * 0.1),
        Tensor("c1", (1, 4, 4, 6), "float32"),
        Tensor("w2", (1, 3, 3, 6), "float32", rng.standard_normal((1, 3, 3, 6)) * 0.3),
        Tensor("b2", (6,), "float32", rng.standard_normal(6) * 0.1),
        Tensor("c2", (1, 4, 4, 6), "float32"),
        Tensor("w3", (6, 1, 1, 6), "float32", rng.standard_normal((6, 1, 1, 6)) * 0.3),
        Tensor("b3", (6,), "float32", rng.standard_normal(6) * 0.1),
        Tensor("c3", (1, 4, 4, 6), "float32"),
        Tensor("s", (1, 4, 4, 6), "float32"),
        Tensor("flat", (1, 96), "float32"),
        Tensor("w4", (3, 96), "float32", rng.standard_normal((3, 96)) * 0.1),
        Tensor("b4", (3,), "float32", rng.standard_normal(3) * 0.1),
        Tensor("y", (1, 3), "float32"),
    ]
    for tensor in tensors:
        graph.add_tensor(tensor)
    window = {"strides": (1, 1), "dilations": (1, 1), "pads": (1, 1, 1, 1),
              "activation": (0.0, math.inf)}
    pointwise = {**window, "pads": (0, 0, 0, 0), "activation": None}
    graph.nodes = [
        Node("conv2d", "conv1", ["x", "w1", "b1"], ["c1"], dict(window)),
        Node("depthwise_conv2d", "dw", ["c1", "w2", "b2"], ["c2"],
             {**window, "depth_multiplier": 1}),
        Node("conv2d", "conv2", ["c2", "w3", "b3"], ["c3"], pointwise),
        Node("add", "add", ["c3", "c1"], ["s"], {"activation": None}),
        Node("reshape", "flatten", ["s"], ["flat"]),
        Node("fully_connected", "fc", ["flat", "w4", "b4"], ["y"], {"activation": None}),
    ]
    return graph


def _feeds(rng: np.random.Generator, samples: int = 16) -> dict[str, np.ndarray]:
    return {"x": rng.standard_normal((samples, 1, 4, 4, 3)).astype(np.float32)}


def _quantized(layers: set[str], seed: int = 5) -> tuple[Graph, Graph, dict]:
    """Return the float graph, its quantization with ``layers`` at 16 bits, and the ranges."""
    rng = np.random.default_rng(seed)
    graph = _float_graph(rng)
    ranges = collect_ranges(graph, _feeds(rng), quiet=True)

    def settings(node: Node) -> LayerSettings:
        return INT16 if node.name in layers else LayerSettings()

    return graph, quantize_graph(graph, ranges, settings), ranges


def _conversions(graph: Graph) -> list[tuple[str, str, str]]:
    """Return (node name, input dtype, output dtype) of each quantize between integer types."""
    result = []
    for node in graph.nodes:
        dtypes = (graph.tensors[node.inputs[0]].dtype, graph.tensors[node.outputs[0]].dtype)
        if node.op == "quantize" and "float32" not in dtypes:
            result.append((node.name, *dtypes))
    return result


def test_int16_chain_gets_one_conversion_each_way():
    _, graph, ranges = _quantized({"dw", "conv2"})

    assert _conversions(graph) == [("c1_to_int16", "int8", "int16"),
                                   ("c3_to_int8", "int16", "int8")]
    nodes = {node.name: node for node in graph.nodes}
    assert nodes["dw"].inputs[0] == "c1_int16"
    # No conversion between the two 16-bit layers.
    assert nodes["conv2"].inputs[0] == nodes["dw"].outputs[0] == "c2_int16"
    assert nodes["add"].inputs == ["c3", "c1"]
    for name, source in (("c1_int16", "c1"), ("c2_int16", "c2"), ("c3_int16", "c3")):
        tensor = graph.tensors[name]
        low, high = ranges[source]
        assert tensor.dtype == "int16"
        assert tensor.quant.zero_point.tolist() == [0]
        assert float(tensor.quant.scale[0]) == float(np.float32(max(-low, high) / 32767))


def test_int16_layer_bias_int64_at_int16_input_scale():
    _, graph, _ = _quantized({"dw", "conv2"})

    for bias, weights, source in (("b2", "w2", "c1_int16"), ("b3", "w3", "c2_int16")):
        tensor = graph.tensors[bias]
        input_scale = np.float64(graph.tensors[source].quant.scale[0])
        expected = (input_scale * graph.tensors[weights].quant.scale.astype(np.float64))
        assert tensor.dtype == "int64"
        assert graph.tensors[weights].dtype == "int8"
        assert np.array_equal(tensor.quant.scale, expected.astype(np.float32))
    assert graph.tensors["b1"].dtype == "int32"
    assert graph.tensors["b4"].dtype == "int32"


def test_int16_output_converted_once():
    # c1 is written by the 16-bit conv1 and read by the int8 dw and add.
    _, graph, _ = _quantized({"conv1"})

    assert _conversions(graph) == [("x_to_int16", "int8", "int16"),
                                   ("c1_to_int8", "int16", "int8")]
    nodes = {node.name: node for node in graph.nodes}
    assert nodes["conv1"].inputs[0] == "x_int16"
    assert nodes["dw"].inputs[0] == "c1"
    assert nodes["add"].inputs[1] == "c1"


def test_int16_last_layer_keeps_int8_boundary():
    _, graph, _ = _quantized({"fc"})

    assert _conversions(graph) == [("flat_to_int16", "int8", "int16"),
                                   ("y_to_int8", "int16", "int8")]
    assert graph.inputs == ["x"]
    assert graph.outputs == ["y"]
    assert graph.tensors["y"].dtype == "float32"
    (dequantize,) = [node for node in graph.nodes if node.op == "dequantize"]
    assert dequantize.inputs == ["y_int8"]
    assert graph.tensors["y_int8"].dtype == "int8"


def test_int8_default_has_no_conversions():
    _, graph, _ = _quantized(set())

    assert _conversions(graph) == []
    assert all(tensor.dtype != "int16" for tensor in graph.tensors.values())


def _pointwise_layer_error(graph: Graph, source: str, output: str, feeds) -> float:
    """Return the largest error of the 1x1 conv2 output against the float 1x1 conv of its own
    dequantized integer input, weights and bias: the rounding of the layer alone."""
    values = run_samples(graph, feeds, keep=[source, output])
    real = {}
    for name in (source, output):
        quant = graph.tensors[name].quant
        centered = values[name].astype(np.float64) - int(quant.zero_point[0])
        real[name] = float(quant.scale[0]) * centered
    weights, bias = graph.tensors["w3"], graph.tensors["b3"]
    w = weights.data[:, 0, 0, :].astype(np.float64) * weights.quant.scale[:, None]
    b = bias.data.astype(np.float64) * bias.quant.scale
    exact = real[source] @ w.T + b
    return float(np.abs(real[output] - exact).max())


def test_int16_layer_rounds_finer_than_int8():
    _, int16_graph, _ = _quantized({"dw", "conv2"})
    _, int8_graph, _ = _quantized(set())
    feeds = _feeds(np.random.default_rng(99), samples=8)

    int16_error = _pointwise_layer_error(int16_graph, "c2_int16", "c3_int16", feeds)
    int8_error = _pointwise_layer_error(int8_graph, "c2", "c3", feeds)

    int16_step = float(int16_graph.tensors["c3_int16"].quant.scale[0])
    int8_step = float(int8_graph.tensors["c3"].quant.scale[0])
    # One output step, plus the 16-bit multiplier's relative error of 2**-15 at 32767 steps.
    assert int16_error <= 1.5 * int16_step
    assert int8_error <= int8_step
    assert int16_error < int8_error / 50


# --- integer parameters and their checks ----------------------------------------------------


def _fc16_graph(*, output_dtype: str = "int16", input_zero_point: int = 0,
                weight_scale: float = 0.01, output_scale: float = 0.01, bias=None,
                depth: int = 8) -> Graph:
    """A one-node 16x8 fully connected graph: x (1, depth) int16 -> y (1, 2)."""
    graph = Graph(inputs=["x"], outputs=["y"])
    _add_fc16(graph, output_dtype=output_dtype, input_zero_point=input_zero_point,
              weight_scale=weight_scale, output_scale=output_scale, bias=bias, depth=depth)
    return graph


def _add_fc16(graph: Graph, *, output_dtype: str = "int16", input_zero_point: int = 0,
              weight_scale: float = 0.01, output_scale: float = 0.01, bias=None,
              depth: int = 8) -> None:
    """Add the fc16 node from tensor x to tensor y."""
    output_quant = Quant(np.array([output_scale]), np.array([0 if output_dtype == "int16"
                                                              else -3]))
    tensors = [
        Tensor("x", (1, depth), "int16", quant=Quant(np.array([0.001]),
                                                     np.array([input_zero_point]))),
        Tensor("w", (2, depth), "int8", np.full((2, depth), 127),
               Quant(np.full(2, weight_scale), np.zeros(2), axis=0)),
        Tensor("y", (1, 2), output_dtype, quant=output_quant),
    ]
    inputs = ["x", "w"]
    if bias is not None:
        tensors.append(Tensor("b", (2,), "int64", np.array(bias),
                              Quant(np.full(2, 0.001 * weight_scale), np.zeros(2), axis=0)))
        inputs.append("b")
    for tensor in tensors:
        graph.add_tensor(tensor)
    graph.nodes.append(Node("fully_connected", "fc16", inputs, ["y"], {"activation": None}))


def _with_int8_io(add_core) -> Graph:
    """Wrap the int16 x -> y core that ``add_core`` adds between int8 model I/O (the C
    kernels take int8 model inputs and outputs only)."""
    graph = Graph(inputs=["x8"], outputs=["y8"])
    graph.add_tensor(Tensor("x8", (1, 8), "int8", quant=Quant(np.array([0.1]), np.array([3]))))
    graph.nodes.append(Node("quantize", "to_int16", ["x8"], ["x"]))
    add_core(graph)
    y = graph.tensors["y"]
    graph.add_tensor(Tensor("y8", y.shape, "int8", quant=Quant(np.array([0.5]), np.array([0]))))
    graph.nodes.append(Node("quantize", "to_int8", ["y"], ["y8"]))
    graph.check()
    return graph


def test_kernel_params_16x8_offsets_zero():
    params = kernel_params(_fc16_graph().nodes[0], _fc16_graph())

    assert (params["input_offset"], params["filter_offset"], params["output_offset"]) == (0, 0, 0)
    assert (params["activation_min"], params["activation_max"]) == (-32768, 32767)


def test_kernel_params_rejects_int8_output_of_int16_layer():
    graph = _fc16_graph(output_dtype="int8")

    with pytest.raises(UnsupportedAttributeError, match="node 'fc16' .*int16 and int8; int16 "
                                                        "layers need int16 on both sides"):
        kernel_params(graph.nodes[0], graph)


def test_kernel_params_rejects_int16_zero_point():
    graph = _fc16_graph(input_zero_point=4)

    with pytest.raises(QuantizationError, match="int16 tensor 'x' has zero point 4"):
        kernel_params(graph.nodes[0], graph)


def test_kernel_params_rejects_shift_above_7():
    # 0.001 * 1.0 / 5e-6 = 200 >= 128: shift 8.
    graph = _fc16_graph(weight_scale=1.0, output_scale=5e-6)

    with pytest.raises(QuantizationError, match="channel 0 has requantization shift 8"):
        kernel_params(graph.nodes[0], graph)


def test_kernel_params_rejects_accumulator_at_2_pow_47():
    # 8 taps * 32768 * 127 = 33,292,288; the bias takes the bound to 2**47 exactly.
    graph = _fc16_graph(bias=[2**47 - 33_292_288, 0])

    with pytest.raises(UnsupportedAttributeError, match="reach the int64 requantization limit"):
        kernel_params(graph.nodes[0], graph)
    below = _fc16_graph(bias=[2**47 - 33_292_289, 0])
    assert kernel_params(below.nodes[0], below).multipliers.size == 2


def test_reference_16x8_within_one_step_of_exact():
    """The int64 requantization (16-bit multiplier, one rounding) stays within 1 step of the
    exact real-valued result."""
    rng = np.random.default_rng(3)
    graph = _fc16_graph(depth=64, weight_scale=0.013, output_scale=0.37, bias=[12345, -999])
    graph.tensors["w"].data = rng.integers(-127, 128, size=(2, 64)).astype(np.int8)
    x = rng.integers(-32768, 32768, size=(1, 64)).astype(np.int16)

    output = run(graph, {"x": x})["y"].astype(np.int64)

    acc = x.astype(np.int64) @ graph.tensors["w"].data.astype(np.int64).T + [12345, -999]
    exact = acc * (np.float64(np.float32(0.001)) * np.float64(np.float32(0.013))
                   / np.float64(np.float32(0.37)))
    assert np.abs(output - np.clip(exact, -32768, 32767)).max() <= 1


# --- lowering, aliasing and the type check -------------------------------------------------


def test_lowering_calls_s16_kernels_with_int64_bias():
    _, graph, _ = _quantized({"dw", "conv2"})

    code = build_model_code(graph, "model", None)

    by_node = {call.node: call for call in code.calls}
    assert by_node["dw"].function == "edgec_depthwise_conv2d_s16"
    assert by_node["conv2"].function == "edgec_conv2d_s16"
    assert by_node["conv1"].function == "edgec_conv2d_s8"
    assert by_node["c1_to_int16"].function == "edgec_requantize_s8_s16"
    assert by_node["c3_to_int8"].function == "edgec_requantize_s16_s8"
    assert "(const int16_t *)(const void *)" in " ".join(by_node["conv2"].args)
    assert any(arg.startswith("(int16_t *)(void *)") for arg in by_node["conv2"].args)
    arrays = {array.name: array for array in code.arrays}
    bias_symbol = by_node["dw"].args[6]
    assert arrays[bias_symbol].ctype == "int64_t"


def test_lowering_widens_int32_bias_of_16x8_layer():
    graph = _with_int8_io(lambda core: _add_fc16(core, bias=[7, -7]))
    bias = graph.tensors["b"]
    graph.tensors["b"] = Tensor("b", bias.shape, "int32", bias.data.astype(np.int32), bias.quant)

    code = build_model_code(graph, "model", None)

    (call,) = [call for call in code.calls if call.node == "fc16"]
    arrays = {array.name: array for array in code.arrays}
    (bias_symbol,) = [arg for arg in call.args if arg.endswith("_bias64")]
    assert call.function == "edgec_fully_connected_s16"
    assert arrays[bias_symbol].ctype == "int64_t"
    assert arrays[bias_symbol].values.tolist() == [7, -7]


def test_arena_holds_int16_tensors_at_two_bytes():
    _, graph, _ = _quantized({"dw", "conv2"})

    code = build_model_code(graph, "model", None)

    assert code.plan.sizes["c2_int16"] == 2 * 96
    assert code.plan.sizes["c1"] == 96


def test_int16_layers_not_aliased_in_place():
    _, graph, _ = _quantized({"dw", "conv2"})
    nodes = {node.name: node for node in graph.nodes}

    assert node_alias(nodes["dw"], graph) is None
    assert node_alias(nodes["conv2"], graph) is None
    assert node_alias(nodes["c1_to_int16"], graph) is None
    assert node_alias(nodes["c3_to_int8"], graph) is None
    assert node_alias(nodes["conv1"], graph) is not None


def test_lowering_rejects_mixed_int8_int16_add():
    _, graph, _ = _quantized({"dw", "conv2"})
    add = next(node for node in graph.nodes if node.op == "add")
    add.inputs[0] = "c3_int16"

    with pytest.raises(UnsupportedAttributeError,
                       match="node 'add' \\(add\\): inputs and output are int16, int8"):
        build_model_code(graph, "model", None)


def test_lowering_rejects_int16_to_int16_quantize():
    def add_core(graph: Graph) -> None:
        graph.add_tensor(Tensor("x", (1, 8), "int16", quant=Quant(np.array([0.01]), np.zeros(1))))
        graph.add_tensor(Tensor("y", (1, 8), "int16", quant=Quant(np.array([0.02]), np.zeros(1))))
        graph.nodes.append(Node("quantize", "q16", ["x"], ["y"]))

    graph = _with_int8_io(add_core)

    with pytest.raises(UnsupportedAttributeError, match="no kernel converts int16 to int16"):
        build_model_code(graph, "model", None)
