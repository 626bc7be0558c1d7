"""Tests of GPTQ and AWQ (edgec.quantize.methods.gptq and .awq) and their config keys.

Small generated graphs check the algorithms. GPTQ's integers lie on the quantizer's grid
and give a lower output error than round to nearest (RTN) on held-out correlated inputs.
AWQ never raises a layer's output error above RTN and keeps the float function. The
quantizer uses GPTQ's integers. Edge cases: all-zero weights, rank-deficient and
indefinite Hessians, layers without a producer. The real-model figures are in
tests/e2e/test_gptq_awq.py.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from edgec.cli import _quant_config, build_parser
from edgec.errors import QuantizationError
from edgec.ir import Graph, Node
from edgec.quantize import quantize_graph
from edgec.quantize.calibration import collect_ranges
from edgec.quantize.config import ConfigError, LayerSettings, parse_config
from edgec.quantize.methods import apply_awq, quantize_weights_gptq
from edgec.quantize.methods.awq import awq_factors, awq_output_mse
from edgec.quantize.methods.gptq import (
    LayerInputs,
    gptq_rows,
    input_patches,
    inverse_hessian_factor,
    quantize_layer_gptq,
    weight_grid,
)
from edgec.quantize.methods.layers import WEIGHTED_LAYERS
from edgec.quantize.params import (
    accumulator_weight_scales,
    dequantize_weights,
    quantize_weights_int4,
    round_trip_weights,
    weight_rows,
)
from edgec.quantize.recipe import quantize_with_config
from edgec.reference.float_ops import conv2d, depthwise_conv2d
from edgec.reference.interpreter import run_samples
from tests.quantize.test_methods import (
    RELU,
    assert_same_function,
    chain_graph,
    first_samples,
    random_array,
    real_model,
)

INT4_G32 = LayerSettings(weight_bits=4, weight_granularity="per-group", group_size=32)
INT4_CHANNEL = LayerSettings(weight_bits=4)
INT8 = LayerSettings()
ROWS = 8  # fully_connected rows per sample


# --- helpers ---------------------------------------------------------------------------------


def correlated_inputs(rng: np.random.Generator, samples: int, mixing: np.ndarray) -> np.ndarray:
    """(samples, ROWS, width) inputs: ``mixing`` of a few strong and many weak sources."""
    width = len(mixing)
    sources = rng.standard_normal((samples, ROWS, width)) * np.geomspace(3.0, 0.05, width)
    return (sources @ mixing).astype(np.float32)


def mixing_matrix(rng: np.random.Generator, width: int) -> np.ndarray:
    return rng.standard_normal((width, width)) / np.sqrt(width)


def fc_graph(weights: np.ndarray, bias: np.ndarray | None = None) -> Graph:
    return chain_graph((ROWS, weights.shape[1]),
                       [{"op": "fully_connected", "weights": weights, "bias": bias}])


def held_out_mse(weights: np.ndarray, approx: np.ndarray, inputs: np.ndarray) -> float:
    rows = inputs.reshape(-1, inputs.shape[-1]).astype(np.float64)
    return float(np.mean((rows @ (weights.astype(np.float64) - approx).T) ** 2))


def rtn_weights(weights: np.ndarray, settings: LayerSettings, axis: int = 0) -> np.ndarray:
    return round_trip_weights(weights, axis, settings.weight_bits, settings.weight_granularity,
                              settings.group_size)


def fc_case(seed: int = 3, width: int = 96, outputs: int = 16):
    """A fully_connected graph with correlated calibration and held-out inputs."""
    rng = np.random.default_rng(seed)
    weights = random_array(rng, outputs, width)
    graph = fc_graph(weights, random_array(rng, outputs, scale=0.1))
    mixing = mixing_matrix(rng, width)
    calibration = {"x": correlated_inputs(rng, 64, mixing)}
    held_out = correlated_inputs(rng, 64, mixing)
    return graph, weights, calibration, held_out


def gptq_dequantized(graph: Graph, calibration: dict, settings: LayerSettings) -> tuple:
    _, overrides, lines = quantize_weights_gptq(graph, calibration, lambda node: settings)
    values, quant = overrides["layer0_w"]
    return values, quant, dequantize_weights(values, quant, 0), lines


# --- input patches ---------------------------------------------------------------------------


def window_node(op: str, weights: np.ndarray, input_shape: tuple, strides, dilations, pads,
                multiplier: int = 1) -> tuple[Graph, Node]:
    graph = chain_graph(input_shape, [{"op": op, "weights": weights, "bias": None,
                                       "multiplier": multiplier}])
    node = graph.nodes[0]
    node.attrs.update(strides=strides, dilations=dilations, pads=pads)
    kernel = weights.shape[1:3]
    span_h, span_w = (dilations[0] * (kernel[0] - 1) + 1, dilations[1] * (kernel[1] - 1) + 1)
    out_h = (input_shape[1] + pads[0] + pads[2] - span_h) // strides[0] + 1
    out_w = (input_shape[2] + pads[1] + pads[3] - span_w) // strides[1] + 1
    output = graph.tensors[node.outputs[0]]
    graph.tensors[node.outputs[0]] = type(output)(
        output.name, (1, out_h, out_w, output.shape[-1]), "float32"
    )
    return graph, node


def test_input_patches_conv2d_reproduce_output():
    rng = np.random.default_rng(0)
    weights = random_array(rng, 5, 3, 2, 4)
    graph, node = window_node("conv2d", weights, (1, 9, 8, 4), (2, 1), (1, 2), (1, 0, 2, 1))
    x = random_array(rng, 1, 9, 8, 4)

    patches = input_patches(graph, node, x)
    (expected,) = conv2d(node, [x, weights, None], graph)

    assert patches.shape == (expected.shape[1] * expected.shape[2], 3 * 2 * 4)
    np.testing.assert_allclose(patches @ weight_rows(weights, 0).T,
                               expected.reshape(-1, 5), rtol=1e-5, atol=1e-5)


def test_input_patches_depthwise_reproduce_output():
    rng = np.random.default_rng(1)
    weights = random_array(rng, 1, 3, 3, 6)
    graph, node = window_node("depthwise_conv2d", weights, (1, 7, 7, 3), (2, 2), (1, 1),
                              (1, 1, 1, 1), multiplier=2)
    x = random_array(rng, 1, 7, 7, 3)

    patches = input_patches(graph, node, x)  # (positions, 9, 3)
    (expected,) = depthwise_conv2d(node, [x, weights, None], graph)

    rows = weight_rows(weights, 3)  # (6, 9); output channel c * 2 + m reads channel c
    computed = np.stack([patches[:, :, o // 2] @ rows[o] for o in range(6)], axis=1)
    np.testing.assert_allclose(computed, expected.reshape(-1, 6), rtol=1e-5, atol=1e-5)


# --- GPTQ ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings, largest_ratio",
    [(INT4_CHANNEL, 0.5), (INT4_G32, 0.5), (INT8, 1.05)],
    ids=["int4 per channel", "int4 G=32", "int8"],
)
def test_gptq_fc_lower_held_out_error_than_rtn(settings, largest_ratio):
    graph, weights, calibration, held_out = fc_case()

    _, _, dequantized, _ = gptq_dequantized(graph, calibration, settings)
    gptq_mse = held_out_mse(weights, dequantized, held_out)
    rtn_mse = held_out_mse(weights, rtn_weights(weights, settings), held_out)

    print(f"held-out output MSE: RTN {rtn_mse:.4g}, GPTQ {gptq_mse:.4g}")
    assert gptq_mse < largest_ratio * rtn_mse


@pytest.mark.parametrize("settings", [INT4_CHANNEL, INT4_G32], ids=["per channel", "G=32"])
def test_gptq_values_on_rtn_grid(settings):
    graph, weights, calibration, _ = fc_case()
    group = settings.group_size if settings.weight_granularity == "per-group" else None
    rtn_values, rtn_quant = quantize_weights_int4(weights, 0, group_size=group)

    values, quant, _, _ = gptq_dequantized(graph, calibration, settings)

    assert values.dtype == np.int8
    assert values.shape == weights.shape
    assert values.min() >= -7
    assert values.max() <= 7
    assert quant.same_as(rtn_quant)
    assert quant.group_size == rtn_quant.group_size
    assert not np.array_equal(values, rtn_values)


def test_gptq_uses_outputs_of_quantized_earlier_layers():
    rng = np.random.default_rng(4)
    first, second = random_array(rng, 12, 10), random_array(rng, 6, 12)
    graph = chain_graph((ROWS, 10), [
        {"op": "fully_connected", "weights": first, "bias": None, "activation": RELU},
        {"op": "fully_connected", "weights": second, "bias": None},
    ])
    calibration = {"x": correlated_inputs(rng, 16, mixing_matrix(rng, 10))}

    _, overrides, _ = quantize_weights_gptq(graph, calibration, lambda node: INT4_CHANNEL,
                                            layers=["layer1"])

    hidden = np.maximum(calibration["x"] @ rtn_weights(first, INT4_CHANNEL).T, 0.0)
    inputs = LayerInputs.empty(graph, graph.nodes[1])
    for sample in hidden:
        inputs.add(graph, graph.nodes[1], sample.astype(np.float32))
    expected = quantize_layer_gptq(graph.nodes[1], second, weight_grid(second, 0, INT4_CHANNEL),
                                   inputs, INT4_CHANNEL.gptq_damp)
    assert set(overrides) == {"layer1_w"}
    assert np.array_equal(overrides["layer1_w"][0], expected.values)


def test_gptq_depthwise_values_on_grid_and_better():
    rng = np.random.default_rng(5)
    weights = random_array(rng, 1, 3, 3, 8)
    graph = chain_graph((1, 6, 6, 4), [
        {"op": "depthwise_conv2d", "weights": weights, "bias": None, "multiplier": 2},
    ])
    calibration = {"x": random_array(rng, 24, 1, 6, 6, 4) + 0.5}

    _, overrides, lines = quantize_weights_gptq(graph, calibration, lambda node: INT4_CHANNEL)

    values, quant = overrides["layer0_w"]
    assert np.abs(values).max() <= 7
    assert quant.same_as(quantize_weights_int4(weights, 3)[1])
    rtn_mse, gptq_mse = (float(part.split()[0]) for part in
                         lines[0].split("inputs ")[1].split(" -> "))
    assert gptq_mse < rtn_mse


def test_gptq_bias_correction_removes_mean_shift():
    graph, weights, calibration, _ = fc_case(seed=6)
    settings = LayerSettings(weight_bits=4, bias_correction=True)

    result, overrides, lines = quantize_weights_gptq(graph, calibration, lambda node: settings)

    dequantized = dequantize_weights(*overrides["layer0_w"], 0)
    rows = calibration["x"].reshape(-1, weights.shape[1]).astype(np.float64)
    float_bias = graph.tensors["layer0_b"].data.astype(np.float64)
    new_bias = result.tensors[result.nodes[0].inputs[2]].data.astype(np.float64)
    float_mean = (rows @ weights.T.astype(np.float64) + float_bias).mean(axis=0)
    corrected_mean = (rows @ dequantized.T + new_bias).mean(axis=0)
    np.testing.assert_allclose(corrected_mean, float_mean, atol=1e-4)
    assert "bias corrected" in lines[0]


def test_gptq_all_zero_weights_skipped():
    graph = fc_graph(np.zeros((4, 40), np.float32))

    _, overrides, lines = quantize_weights_gptq(graph, {"x": np.ones((4, ROWS, 40), np.float32)},
                                                lambda node: INT4_G32)

    assert overrides == {}
    assert lines == ["skipped 'layer0': all weights are zero; it keeps RTN"]


def test_gptq_rank_deficient_inputs_need_damping_only():
    rng = np.random.default_rng(7)
    weights = random_array(rng, 8, 64)
    graph = fc_graph(weights)
    base = rng.standard_normal((3, ROWS, 4)).astype(np.float32)
    # 24 rows for 64 columns, built from 4 sources, and column 0 always zero.
    inputs = np.concatenate([base] * 16, axis=2)
    inputs[..., 0] = 0.0

    _, overrides, lines = quantize_weights_gptq(graph, {"x": inputs}, lambda node: INT4_G32)

    values, _ = overrides["layer0_w"]
    rtn_values, _ = quantize_weights_int4(weights, 0, group_size=32)
    assert np.array_equal(values[:, 0], rtn_values[:, 0])
    assert "damping" not in lines[0]
    assert "kept RTN" not in lines[0]


def test_inverse_hessian_factor_inverts_damped_matrix():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((50, 6))
    hessian = x.T @ x

    upper = inverse_hessian_factor(hessian, 0.01)

    damped = hessian + 0.01 * np.mean(np.diag(hessian)) * np.eye(6)
    np.testing.assert_allclose(upper.T @ upper, np.linalg.inv(damped), rtol=1e-8, atol=1e-12)
    assert np.allclose(upper, np.triu(upper))


def test_gptq_rows_equal_rtn_for_diagonal_hessian():
    rng = np.random.default_rng(9)
    rows = rng.standard_normal((5, 7))
    scales = np.full((5, 7), 0.3)

    values = gptq_rows(rows, np.diag(rng.uniform(1, 2, 7)), scales, 7, 0.01)

    assert np.array_equal(values, np.clip(np.sign(rows) * np.floor(np.abs(rows / 0.3) + 0.5),
                                          -7, 7))


def indefinite_inputs(gram: list[list[float]]) -> LayerInputs:
    gram = np.array(gram)
    return LayerInputs(depthwise=False, gram=gram, patch_sum=np.zeros(len(gram)),
                       abs_sum=np.zeros(len(gram)), rows=1, positions=1)


def test_gptq_indefinite_hessian_raises_damping_then_succeeds():
    node = Node("fully_connected", "fc", ["x", "w", ""], ["y"])
    weights = np.array([[0.9, -0.4], [0.2, 0.7]])
    grid = weight_grid(weights, 0, INT4_CHANNEL)

    # Eigenvalues -0.5 and 2.5: damping 0.01 and 0.1 fail, 1.0 of the mean diagonal works.
    layer = quantize_layer_gptq(node, weights, grid, indefinite_inputs([[1, 1.5], [1.5, 1]]), 0.01)

    assert "damping raised to 1 of the mean diagonal" in layer.line
    assert "kept RTN" not in layer.line


def test_gptq_hessian_without_factor_falls_back_to_rtn():
    node = Node("fully_connected", "fc", ["x", "w", ""], ["y"])
    weights = np.array([[0.9, -0.4], [0.2, 0.7]])
    grid = weight_grid(weights, 0, INT4_CHANNEL)

    layer = quantize_layer_gptq(node, weights, grid, indefinite_inputs([[1, 10], [10, 1]]), 0.01)

    assert np.array_equal(layer.values, grid.values)
    assert "the layer kept RTN" in layer.line


def test_gptq_rejects_unknown_layer_name():
    graph, _, calibration, _ = fc_case()

    with pytest.raises(QuantizationError, match="GPTQ: no node named 'nope'"):
        quantize_weights_gptq(graph, calibration, layers=["nope"])


def test_gptq_leaves_input_graph_unchanged():
    graph, weights, calibration, _ = fc_case()
    bias = graph.tensors["layer0_b"].data.copy()

    quantize_weights_gptq(graph, calibration,
                          lambda node: LayerSettings(weight_bits=4, bias_correction=True))

    assert np.array_equal(graph.tensors["layer0_w"].data, weights)
    assert np.array_equal(graph.tensors["layer0_b"].data, bias)


# --- weight overrides in the quantizer --------------------------------------------------------


def test_quantize_graph_uses_weight_overrides():
    graph, _, calibration, _ = fc_case()
    _, overrides, _ = quantize_weights_gptq(graph, calibration, lambda node: INT4_G32)
    ranges = collect_ranges(graph, calibration, quiet=True)

    int_graph = quantize_graph(graph, ranges, lambda node: INT4_G32, weight_overrides=overrides)

    filter_tensor = int_graph.tensors["layer0_w"]
    bias_tensor = int_graph.tensors["layer0_b"]
    values, quant = overrides["layer0_w"]
    input_scale = float(int_graph.tensors[int_graph.nodes[1].inputs[0]].quant.scale[0])
    expected_bias_scales = (input_scale * accumulator_weight_scales(quant)).astype(np.float32)
    assert filter_tensor.dtype == "int4"
    assert np.array_equal(filter_tensor.data, values)
    assert filter_tensor.quant.same_as(quant)
    np.testing.assert_array_equal(bias_tensor.quant.scale, expected_bias_scales)


def test_quantize_graph_override_raises_scale_for_bias():
    rng = np.random.default_rng(10)
    weights = random_array(rng, 3, 40)
    weights[1] = 1e-30  # a channel weight decay left near zero, with a large bias
    graph = fc_graph(weights, np.array([0.1, 5.0, -0.2], np.float32))
    calibration = {"x": random_array(rng, 8, ROWS, 40)}
    _, overrides, _ = quantize_weights_gptq(graph, calibration, lambda node: INT4_G32)
    ranges = collect_ranges(graph, calibration, quiet=True)

    int_graph = quantize_graph(graph, ranges, lambda node: INT4_G32, weight_overrides=overrides)

    filter_tensor = int_graph.tensors["layer0_w"]
    original = overrides["layer0_w"][1]
    assert filter_tensor.quant.scale[1] > original.scale[1]
    assert not np.any(filter_tensor.data[1])
    assert np.array_equal(filter_tensor.data[[0, 2]], overrides["layer0_w"][0][[0, 2]])
    assert abs(int(int_graph.tensors["layer0_b"].data[1])) <= 2**31 - 1


def test_quantize_graph_rejects_override_of_wrong_shape():
    graph, weights, calibration, _ = fc_case()
    values, quant = quantize_weights_int4(weights[:, :32], 0)
    ranges = collect_ranges(graph, calibration, quiet=True)

    with pytest.raises(QuantizationError, match="weight override of 'layer0_w' has shape"):
        quantize_graph(graph, ranges, lambda node: INT4_CHANNEL,
                       weight_overrides={"layer0_w": (values, quant)})


# --- AWQ -------------------------------------------------------------------------------------


def outlier_pair(seed: int = 12, hidden: int = 64):
    """fc (relu) -> fc, with a few hidden channels 30x larger than the others."""
    rng = np.random.default_rng(seed)
    first = random_array(rng, hidden, 16)
    first[:4] *= 30.0
    second = random_array(rng, 10, hidden)
    graph = chain_graph((ROWS, 16), [
        {"op": "fully_connected", "weights": first, "bias": random_array(rng, hidden, scale=0.1),
         "activation": RELU},
        {"op": "fully_connected", "weights": second, "bias": random_array(rng, 10, scale=0.1)},
    ])
    return graph, {"x": random_array(rng, 32, ROWS, 16)}


def second_layer_mse(graph: Graph, feeds: dict, settings: LayerSettings) -> float:
    """Return the output MSE of layer1 (no bias) with its weights rounded by ``settings``."""
    hidden = run_samples(graph, feeds, keep=["layer0_out"])["layer0_out"]
    weights = graph.tensors[graph.nodes[1].inputs[1]].data
    return held_out_mse(weights, rtn_weights(weights, settings), hidden)


@pytest.mark.parametrize("settings", [INT4_CHANNEL, INT4_G32, INT8],
                         ids=["int4 per channel", "int4 G=32", "int8"])
def test_awq_output_error_at_most_rtn(settings):
    graph, feeds = outlier_pair()

    result, lines = apply_awq(graph, feeds, lambda node: settings)

    before = second_layer_mse(graph, feeds, settings)
    after = second_layer_mse(result, feeds, settings)
    print(lines)
    assert after <= before * (1 + 1e-9)
    if settings.weight_bits == 4:
        assert after < 0.95 * before
        assert any(line.startswith("scaled 'layer0' -> 'layer1'") for line in lines)


def test_awq_keeps_float_function():
    graph, feeds = outlier_pair()

    result, _ = apply_awq(graph, feeds, lambda node: INT4_G32)

    assert_same_function(graph, result, feeds)


def test_awq_real_model_keeps_function(models):
    graph, calibration, evaluation = real_model(str(models), "keyword_spotting")
    settings = LayerSettings(weight_bits=4, weight_granularity="per-group")

    result, lines = apply_awq(graph, first_samples(calibration, 8), lambda node: settings)

    assert any(line.startswith("scaled") for line in lines)
    assert_same_function(graph, result, first_samples(evaluation, 4), rtol=1e-4)


def test_awq_alpha_zero_is_rtn():
    graph, feeds = outlier_pair()
    node = graph.nodes[1]
    inputs = LayerInputs.empty(graph, node)
    for sample in run_samples(graph, feeds, keep=["layer0_out"])["layer0_out"]:
        inputs.add(graph, node, sample)
    weights = graph.tensors["layer1_w"].data

    factors = awq_factors(inputs.channel_mean_abs(), 0.0)

    assert np.array_equal(factors, np.ones(64))
    hidden = run_samples(graph, feeds, keep=["layer0_out"])["layer0_out"]
    rtn = held_out_mse(weights, rtn_weights(weights, INT4_G32), hidden)
    assert awq_output_mse(weights, node, INT4_G32, inputs, factors) == pytest.approx(rtn)


def test_awq_skips_layer_without_producer():
    graph, weights, calibration, _ = fc_case()

    result, lines = apply_awq(graph, calibration, lambda node: INT4_G32)

    assert lines == ["skipped 'layer0': its input 'x' is a graph input"]
    assert np.array_equal(result.tensors["layer0_w"].data, weights)


def test_awq_skips_all_zero_weights():
    graph, feeds = outlier_pair()
    graph.tensors["layer1_w"].data = np.zeros_like(graph.tensors["layer1_w"].data)

    _, lines = apply_awq(graph, feeds, lambda node: INT4_G32, layers=["layer1"])

    assert lines == ["skipped 'layer1': all weights are zero"]


@pytest.mark.parametrize("alphas", [[-0.1], [0.5, 1.5]])
def test_awq_rejects_alpha_out_of_range(alphas):
    graph, feeds = outlier_pair()

    with pytest.raises(QuantizationError, match="outside \\[0, 1\\]"):
        apply_awq(graph, feeds, alphas=alphas)


def test_awq_rejects_unknown_layer_name():
    graph, feeds = outlier_pair()

    with pytest.raises(QuantizationError, match="AWQ: no node named 'nope'"):
        apply_awq(graph, feeds, layers=["nope"])


# --- config, recipe and command line ---------------------------------------------------------


def test_config_weight_method_per_layer():
    config = parse_config({
        "defaults": {"weight_method": "gptq", "gptq_damp": 0.1},
        "layers": {"fc": {"weight_method": "awq"}},
    })

    conv = config.settings_for(Node("conv2d", "conv", [], []))
    fc = config.settings_for(Node("fully_connected", "fc", [], []))

    assert (conv.weight_method, conv.gptq_damp) == ("gptq", 0.1)
    assert fc.weight_method == "awq"
    assert LayerSettings().weight_method == "rtn"
    assert LayerSettings().gptq_damp == 0.01


@pytest.mark.parametrize(
    "table, message",
    [
        ({"weight_method": "obq"}, "weight_method = 'obq' is not valid; expected one of"),
        ({"weight_method": 1}, "weight_method = 1 is not valid"),
        ({"gptq_damp": 0}, "gptq_damp = 0 is not valid; expected a number in (0, 1]"),
        ({"gptq_damp": 2.0}, "gptq_damp = 2.0 is not valid"),
        ({"gptq_damp": True}, "gptq_damp = True is not valid"),
    ],
)
def test_config_bad_weight_method_names_it(table, message):
    with pytest.raises(ConfigError) as error:
        parse_config({"defaults": table}, source="q.toml")

    assert message in str(error.value)


def test_cli_weight_method_flag_sets_defaults():
    parser = build_parser()
    args = parser.parse_args(["compile", "m.onnx", "--target", "host", "--output", "o",
                              "--weight-method", "awq"])

    config = _quant_config(args)

    assert config.defaults.weight_method == "awq"


def test_cli_weight_method_rejects_unknown_value():
    result = subprocess.run(
        [sys.executable, "-m", "edgec.cli", "compile", "m.onnx", "--target", "host",
         "--output", "o", "--weight-method", "obq"],
        capture_output=True, text=True, timeout=120, check=False,
    )

    assert result.returncode == 2
    assert "--weight-method: invalid choice: 'obq'" in result.stderr


def test_recipe_gptq_overrides_and_own_bias_correction():
    graph, _, calibration, _ = fc_case()
    document = {"defaults": {"weight_bits": 4, "weight_method": "gptq",
                             "bias_correction": True}}

    int_graph, log = quantize_with_config(graph, calibration, parse_config(document), quiet=True)

    _, overrides, _ = quantize_weights_gptq(
        graph, calibration, lambda node: LayerSettings(weight_bits=4, bias_correction=True)
    )
    assert set(log.steps) == {"GPTQ"}
    assert "bias corrected" in log.steps["GPTQ"][0]
    assert np.array_equal(int_graph.tensors["layer0_w"].data, overrides["layer0_w"][0])


def test_recipe_awq_step_logged():
    graph, feeds = outlier_pair()
    document = {"defaults": {"weight_bits": 4, "weight_method": "awq"}}

    _, log = quantize_with_config(graph, feeds, parse_config(document), quiet=True)

    assert list(log.steps) == ["AWQ"]
    assert any(line.startswith("scaled 'layer0' -> 'layer1'") for line in log.steps["AWQ"])


def test_recipe_rtn_layers_untouched_by_weight_methods():
    graph, feeds = outlier_pair()
    document = {"defaults": {"weight_bits": 4},
                "layers": {"layer1": {"weight_method": "gptq"}}}

    int_graph, log = quantize_with_config(graph, feeds, parse_config(document), quiet=True)

    rtn_values, _ = quantize_weights_int4(graph.tensors["layer0_w"].data,
                                          WEIGHTED_LAYERS["fully_connected"].output_axis)
    assert [line.split(":")[0] for line in log.steps["GPTQ"]] == ["'layer1'"]
    assert np.array_equal(int_graph.tensors["layer0_w"].data, rtn_values)
