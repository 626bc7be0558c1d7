"""Tests of edgec.quantize.methods: cross-layer equalization, SmoothQuant and bias correction.

Small hand-built graphs cover the channel mapping of each weighted op and the edge cases.
The MLPerf Tiny float models check that the rescaling methods keep the float function, and
print the int8 end-output SQNR with and without each method (run pytest with -s to see it).
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pytest

from edgec.errors import QuantizationError
from edgec.frontend import load_model
from edgec.ir import Graph, Node, Tensor
from edgec.metrics import sqnr_db
from edgec.quantize import quantize_graph, quantize_model
from edgec.quantize.methods import (
    correct_bias,
    dequantized_int8_weights,
    equalize_cross_layer,
    smooth_activations,
)
from edgec.quantize.methods.layers import (
    MAX_FACTOR,
    MIN_FACTOR,
    WEIGHTED_LAYERS,
    absorbing_producer,
    input_channels,
    input_ranges,
    output_ranges,
    significant,
    weighted_nodes,
)
from edgec.quantize.params import quantize_weights
from edgec.reference.interpreter import run_samples

RELU = (0.0, math.inf)
RELU6 = (0.0, 6.0)
EQUIVALENCE_MODELS = ["image_classification", "keyword_spotting", "visual_wake_words"]
TABLE_MODELS = EQUIVALENCE_MODELS + ["anomaly_detection"]
EVAL_SAMPLES = 5
CALIBRATION_SAMPLES = 16


# --- helpers ---------------------------------------------------------------------------------


def random_array(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return (scale * rng.standard_normal(shape)).astype(np.float32)


def chain_graph(input_shape: tuple[int, ...], layers: list[dict]) -> Graph:
    """Build x -> layer0 -> layer1 -> ... -> y from dicts with op, weights, bias, activation.

    Windows are 3x3 or 1x1 with stride 1 and "same" padding, so H and W stay constant. A
    dict may set ``multiplier`` for a depthwise_conv2d.
    """
    graph = Graph(inputs=["x"], outputs=[])
    graph.add_tensor(Tensor("x", input_shape, "float32"))
    source, shape = "x", tuple(input_shape)
    for index, layer in enumerate(layers):
        op, weights = layer["op"], layer["weights"]
        layout = WEIGHTED_LAYERS[op]
        out_shape = shape[:-1] + (weights.shape[layout.output_axis],)
        name = f"layer{index}"
        graph.add_tensor(Tensor(f"{name}_w", weights.shape, "float32", weights))
        inputs = [source, f"{name}_w", ""]
        if layer.get("bias") is not None:
            graph.add_tensor(Tensor(f"{name}_b", layer["bias"].shape, "float32", layer["bias"]))
            inputs[2] = f"{name}_b"
        attrs = {"activation": layer.get("activation")}
        if op != "fully_connected":
            pad = weights.shape[1] // 2
            attrs.update(strides=(1, 1), dilations=(1, 1), pads=(pad, pad, pad, pad))
        if op == "depthwise_conv2d":
            attrs["depth_multiplier"] = layer.get("multiplier", 1)
        output = f"{name}_out"
        graph.add_tensor(Tensor(output, out_shape, "float32"))
        graph.nodes.append(Node(op, name, inputs, [output], attrs))
        source, shape = output, out_shape
    graph.outputs = [source]
    graph.check()
    return graph


def fc_pair(first_weights: np.ndarray, second_weights: np.ndarray, activation=RELU,
            first_bias: np.ndarray | None = None) -> Graph:
    """x (1, I) -> fully_connected -> fully_connected -> y."""
    rng = np.random.default_rng(5)
    if first_bias is None:
        first_bias = random_array(rng, first_weights.shape[0], scale=0.1)
    return chain_graph(
        (1, first_weights.shape[1]),
        [
            {"op": "fully_connected", "weights": first_weights, "bias": first_bias,
             "activation": activation},
            {"op": "fully_connected", "weights": second_weights,
             "bias": random_array(rng, second_weights.shape[0], scale=0.1)},
        ],
    )


def random_feeds(graph: Graph, count: int = 8, seed: int = 11) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: random_array(rng, count, *graph.tensors[name].shape) for name in graph.inputs}


def compared_tensors(graph: Graph) -> list[str]:
    """The graph outputs plus the output of the last weighted layer (pre-softmax logits)."""
    names = list(graph.outputs)
    layers = weighted_nodes(graph)
    if layers:
        names.append(layers[-1].outputs[0])
    return list(dict.fromkeys(names))


def assert_same_function(before: Graph, after: Graph, feeds: dict, rtol: float = 1e-5) -> None:
    names = compared_tensors(before)
    expected = run_samples(before, feeds, keep=names)
    actual = run_samples(after, feeds, keep=names)
    for name in names:
        reference = expected[name].astype(np.float64)
        tolerance = rtol * float(np.max(np.abs(reference)))
        np.testing.assert_allclose(actual[name], reference, rtol=rtol, atol=tolerance,
                                   err_msg=f"tensor '{name}'")


def constant_snapshot(graph: Graph) -> dict[str, np.ndarray]:
    return {name: t.data.copy() for name, t in graph.tensors.items() if t.is_constant}


def node_inputs(graph: Graph) -> list[list[str]]:
    return [list(node.inputs) for node in graph.nodes]


def node_named(graph: Graph, name: str) -> Node:
    return next(node for node in graph.nodes if node.name == name)


def filter_of(graph: Graph, name: str) -> np.ndarray:
    return graph.tensors[node_named(graph, name).inputs[1]].data


def bias_of(graph: Graph, name: str) -> np.ndarray:
    return graph.tensors[node_named(graph, name).inputs[2]].data


def paired_ranges(graph: Graph) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """For each A -> B that the methods pair: (B's name, A's output ranges, B's input ranges)."""
    pairs = []
    for second in weighted_nodes(graph):
        first, _ = absorbing_producer(graph, second)
        if first is None:
            continue
        first_ranges = output_ranges(filter_of(graph, first.name), WEIGHTED_LAYERS[first.op])
        second_ranges = input_ranges(
            filter_of(graph, second.name), WEIGHTED_LAYERS[second.op], input_channels(graph, second)
        )
        pairs.append((second.name, first_ranges, second_ranges))
    return pairs


def spread(ranges: np.ndarray) -> float:
    """Max / min of the channel ranges that are not negligible."""
    usable = ranges[significant(ranges)]
    return float(usable.max() / usable.min())


@functools.cache
def real_model(models_path: str, name: str) -> tuple[Graph, dict, dict]:
    """Float graph after the passes, calibration feeds and eval feeds of a real model.

    The graph is shared between tests: the methods and quantize_model do not modify it.
    """
    folder = Path(models_path)
    graph = load_model(folder / "onnx" / f"{name}.onnx")
    with np.load(folder / "data" / "calib" / f"{name}.npz") as archive:
        calibration = {key: archive[key] for key in archive.files}
    with np.load(folder / "data" / "eval" / f"{name}.npz") as archive:
        evaluation = {key: archive[key] for key in archive.files}
    return graph, calibration, evaluation


def first_samples(feeds: dict, count: int) -> dict:
    return {name: array[:count] for name, array in feeds.items()}


def depthwise_chain(multiplier: int) -> Graph:
    """conv2d 3x3 (relu) -> depthwise 3x3 with ``multiplier`` (relu) -> conv2d 1x1 (relu) -> fc."""
    rng = np.random.default_rng(7)
    channels = 4
    expanded = channels * multiplier
    return chain_graph(
        (1, 5, 5, 3),
        [
            {"op": "conv2d", "weights": random_array(rng, channels, 3, 3, 3),
             "bias": random_array(rng, channels, scale=0.1), "activation": RELU},
            {"op": "depthwise_conv2d", "multiplier": multiplier,
             "weights": random_array(rng, 1, 3, 3, expanded) * np.geomspace(0.05, 20, expanded),
             "bias": random_array(rng, expanded, scale=0.1), "activation": RELU},
            {"op": "conv2d", "weights": random_array(rng, 6, 1, 1, expanded),
             "bias": None, "activation": RELU},
            {"op": "fully_connected", "weights": random_array(rng, 3, 6),
             "bias": random_array(rng, 3, scale=0.1)},
        ],
    )


# --- cross-layer equalization ----------------------------------------------------------------


@pytest.mark.parametrize("multiplier", [1, 2])
def test_equalize_depthwise_chain_keeps_function(multiplier):
    graph = depthwise_chain(multiplier)
    equalized, changes = equalize_cross_layer(graph)

    assert_same_function(graph, equalized, random_feeds(graph))
    equalized_lines = [line for line in changes if line.startswith("equalized")]
    assert len(equalized_lines) == 3
    # The depthwise channels were scaled over a 400x span, and equalization narrows it.
    before = output_ranges(filter_of(graph, "layer1"), WEIGHTED_LAYERS["depthwise_conv2d"])
    after = output_ranges(filter_of(equalized, "layer1"), WEIGHTED_LAYERS["depthwise_conv2d"])
    assert spread(after) < spread(before)


def test_equalize_converges_to_equal_paired_ranges():
    graph = depthwise_chain(2)
    equalized, changes = equalize_cross_layer(graph, rounds=500, tolerance=1e-9)

    for name, first_ranges, second_ranges in paired_ranges(equalized):
        np.testing.assert_allclose(first_ranges, second_ranges, rtol=1e-6, err_msg=name)
    assert changes[-1].startswith("equalization ran")


@pytest.mark.parametrize("model", EQUIVALENCE_MODELS)
def test_equalize_real_model_keeps_function(models, model):
    graph, _, evaluation = real_model(str(models), model)
    equalized, changes = equalize_cross_layer(graph)

    assert any(line.startswith("equalized") for line in changes)
    assert_same_function(graph, equalized, first_samples(evaluation, EVAL_SAMPLES))


@pytest.mark.parametrize("model", TABLE_MODELS)
def test_equalize_real_model_narrows_channel_ranges(models, model):
    graph, _, _ = real_model(str(models), model)
    equalized, _ = equalize_cross_layer(graph)

    before = paired_ranges(graph)
    after = paired_ranges(equalized)
    assert [name for name, _, _ in before] == [name for name, _, _ in after]
    widest_before = max(max(spread(a), spread(b)) for _, a, b in before)
    widest_after = max(max(spread(a), spread(b)) for _, a, b in after)
    assert widest_after < widest_before
    # Each pair's ranges are within 25% of each other after the default rounds.
    for name, first_ranges, second_ranges in after:
        usable = significant(first_ranges) & significant(second_ranges)
        ratio = first_ranges[usable] / second_ranges[usable]
        assert np.all(np.abs(np.log(ratio)) < np.log(1.25)), name


def test_equalize_skips_relu6_producer():
    rng = np.random.default_rng(1)
    graph = fc_pair(random_array(rng, 4, 3), random_array(rng, 2, 4), activation=RELU6)
    equalized, changes = equalize_cross_layer(graph)

    assert len(changes) == 1
    assert changes[0].startswith("skipped 'layer0' -> 'layer1'")
    assert "(0.0, 6.0)" in changes[0]
    np.testing.assert_array_equal(filter_of(equalized, "layer0"), filter_of(graph, "layer0"))
    np.testing.assert_array_equal(filter_of(equalized, "layer1"), filter_of(graph, "layer1"))


def test_equalize_accepts_clamp_with_zero_and_infinite_bounds():
    rng = np.random.default_rng(2)
    first = random_array(rng, 4, 3) * np.array([[0.01], [1.0], [10.0], [1.0]], np.float32)
    graph = fc_pair(first, random_array(rng, 2, 4), activation=(-math.inf, 0.0))
    equalized, changes = equalize_cross_layer(graph)

    assert changes[0].startswith("equalized 'layer0' -> 'layer1'")
    assert_same_function(graph, equalized, random_feeds(graph))


def test_equalize_skips_producer_graph_output():
    rng = np.random.default_rng(3)
    graph = fc_pair(random_array(rng, 4, 3), random_array(rng, 2, 4))
    graph.outputs.append("layer0_out")
    equalized, changes = equalize_cross_layer(graph)

    assert changes == [
        "skipped 'layer0' -> 'layer1': its input 'layer0_out' is also a graph output"
    ]
    np.testing.assert_array_equal(filter_of(equalized, "layer0"), filter_of(graph, "layer0"))


def test_equalize_keeps_zero_range_channel():
    rng = np.random.default_rng(4)
    first = random_array(rng, 4, 3)
    first[2] = 0.0
    graph = fc_pair(first, random_array(rng, 2, 4))
    equalized, changes = equalize_cross_layer(graph)

    assert "1 of 4 channels kept s = 1" in changes[0]
    new_first = filter_of(equalized, "layer0")
    new_second = filter_of(equalized, "layer1")
    assert np.isfinite(new_first).all()
    assert np.isfinite(new_second).all()
    np.testing.assert_array_equal(new_first[2], 0.0)
    np.testing.assert_array_equal(new_second[:, 2], filter_of(graph, "layer1")[:, 2])
    assert not np.array_equal(new_second[:, 0], filter_of(graph, "layer1")[:, 0])
    assert_same_function(graph, equalized, random_feeds(graph))


def test_equalize_clamps_extreme_factors():
    # Channel 0: range 1e-3 in the first layer and 1e6 in the second, so sqrt(r_A / r_B)
    # = 3.2e-5 is below MIN_FACTOR.
    first = np.array([[1e-3, 0.0], [1.0, 0.5]], np.float32)
    second = np.array([[1e6, 1.0], [2e5, 1.0]], np.float32)
    graph = fc_pair(first, second, first_bias=np.array([1e-4, 0.1], np.float32))
    equalized, changes = equalize_cross_layer(graph)

    assert f"1 of 2 channels clamped to [{MIN_FACTOR:g}, {MAX_FACTOR:g}]" in changes[0]
    new_second = filter_of(equalized, "layer1")
    np.testing.assert_allclose(new_second[:, 0], second[:, 0] * MIN_FACTOR, rtol=1e-6)
    np.testing.assert_allclose(filter_of(equalized, "layer0")[0], first[0] / MIN_FACTOR, rtol=1e-6)
    assert_same_function(graph, equalized, random_feeds(graph))


def test_equalize_rejects_zero_rounds():
    rng = np.random.default_rng(1)
    graph = fc_pair(random_array(rng, 4, 3), random_array(rng, 2, 4))
    with pytest.raises(QuantizationError, match="rounds = 0 is invalid"):
        equalize_cross_layer(graph, rounds=0)


# --- SmoothQuant -----------------------------------------------------------------------------


@pytest.mark.parametrize("multiplier", [1, 2])
def test_smooth_depthwise_chain_keeps_function(multiplier):
    graph = depthwise_chain(multiplier)
    feeds = random_feeds(graph)
    smoothed, changes = smooth_activations(graph, feeds, alpha=0.5)

    assert changes[0] == "skipped 'layer0': its input 'x' is a graph input"
    assert sum(line.startswith("smoothed") for line in changes) == 3
    assert_same_function(graph, smoothed, feeds)


@pytest.mark.parametrize("model", EQUIVALENCE_MODELS)
def test_smooth_real_model_keeps_function(models, model):
    graph, calibration, evaluation = real_model(str(models), model)
    smoothed, changes = smooth_activations(graph, first_samples(calibration, CALIBRATION_SAMPLES))

    assert any(line.startswith("smoothed") for line in changes)
    assert_same_function(graph, smoothed, first_samples(evaluation, EVAL_SAMPLES))


def test_smooth_balances_activation_and_weight_ranges(models):
    # With alpha 0.5 both sides of a smoothed channel get range sqrt(max|X_j| * max|W_j|).
    # The check uses layers whose own output channels are not smoothed afterwards, because
    # that would change their input ranges again.
    graph, calibration, _ = real_model(str(models), "keyword_spotting")
    feeds = first_samples(calibration, CALIBRATION_SAMPLES)
    smoothed, _ = smooth_activations(graph, feeds, alpha=0.5)

    checked = 0
    for node in weighted_nodes(smoothed):
        producer, _ = absorbing_producer(smoothed, node)
        readers = smoothed.consumers(node.outputs[0])
        if producer is None or any(reader.op in WEIGHTED_LAYERS for reader in readers):
            continue
        activation = node.inputs[0]
        values = run_samples(smoothed, feeds, keep=[activation])[activation]
        activation_max = np.abs(values).reshape(-1, values.shape[-1]).max(axis=0)
        weight_max = input_ranges(
            filter_of(smoothed, node.name), WEIGHTED_LAYERS[node.op], input_channels(smoothed, node)
        )
        usable = (activation_max > 0) & significant(weight_max)
        np.testing.assert_allclose(activation_max[usable], weight_max[usable], rtol=1e-4)
        checked += 1
    assert checked == 1


def test_smooth_lists_skipped_layers(models):
    graph, calibration, _ = real_model(str(models), "image_classification")
    _, changes = smooth_activations(graph, first_samples(calibration, 4))

    assert "skipped 'model/conv2d/BiasAdd': its input 'input' is a graph input" in changes
    assert (
        "skipped 'model/conv2d_5/BiasAdd': its input comes from add node 'model/add/add'"
        in changes
    )
    assert (
        "skipped 'model/conv2d_1/BiasAdd': its input 'model/activation/Relu:0' has 2 readers"
        in changes
    )


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan"), "strong"])
def test_smooth_rejects_alpha_out_of_range(alpha):
    rng = np.random.default_rng(6)
    graph = fc_pair(random_array(rng, 4, 3), random_array(rng, 2, 4))
    with pytest.raises(QuantizationError, match="alpha"):
        smooth_activations(graph, random_feeds(graph), alpha=alpha)


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_smooth_accepts_alpha_bounds(alpha):
    rng = np.random.default_rng(6)
    graph = fc_pair(random_array(rng, 4, 3), random_array(rng, 2, 4))
    feeds = random_feeds(graph)
    smoothed, changes = smooth_activations(graph, feeds, alpha=alpha)

    assert changes[-1].startswith("smoothed 'layer0' -> 'layer1'")
    assert_same_function(graph, smoothed, feeds)


# --- bias correction -------------------------------------------------------------------------


def layer_outputs(graph: Graph, node: Node, weights: np.ndarray, bias: np.ndarray,
                  inputs: np.ndarray) -> np.ndarray:
    """Run a copy of ``node`` with ``weights`` and ``bias`` and no fused activation."""
    single = Graph(inputs=["x"], outputs=["y"])
    single.add_tensor(Tensor("x", graph.tensors[node.inputs[0]].shape, "float32"))
    single.add_tensor(Tensor("w", weights.shape, "float32", weights))
    single.add_tensor(Tensor("b", bias.shape, "float32", bias))
    single.add_tensor(Tensor("y", graph.tensors[node.outputs[0]].shape, "float32"))
    attrs = {key: value for key, value in node.attrs.items() if key != "activation"}
    single.nodes.append(Node(node.op, "layer", ["x", "w", "b"], ["y"], attrs))
    return run_samples(single, {"x": inputs})["y"].astype(np.float64)


def mean_channel_error(approx: np.ndarray, reference: np.ndarray) -> np.ndarray:
    difference = approx - reference
    return difference.reshape(-1, difference.shape[-1]).mean(axis=0)


def int8_dequantized(weights: np.ndarray, axis: int) -> np.ndarray:
    values, quant = quantize_weights(weights, axis)
    shape = [1] * weights.ndim
    shape[axis] = -1
    return (values * quant.scale.reshape(shape)).astype(np.float32)


@pytest.mark.parametrize("model", ["keyword_spotting", "visual_wake_words"])
def test_correct_bias_removes_mean_layer_error(models, model):
    graph, calibration, _ = real_model(str(models), model)
    feeds = first_samples(calibration, CALIBRATION_SAMPLES)
    corrected, changes = correct_bias(graph, feeds)

    layers = weighted_nodes(graph)
    assert len(changes) == len(layers)
    inputs = run_samples(graph, feeds, keep=[node.inputs[0] for node in layers])
    for node in layers:
        weights = filter_of(graph, node.name)
        new_weights = filter_of(corrected, node.name)
        old_bias, new_bias = bias_of(graph, node.name), bias_of(corrected, node.name)
        np.testing.assert_array_equal(new_weights, weights)
        assert new_bias.shape == old_bias.shape

        dequantized = int8_dequantized(weights, WEIGHTED_LAYERS[node.op].output_axis)
        x = inputs[node.inputs[0]]
        reference = layer_outputs(graph, node, weights, old_bias, x)
        error_before = mean_channel_error(layer_outputs(graph, node, dequantized, old_bias, x),
                                          reference)
        error_after = mean_channel_error(layer_outputs(graph, node, dequantized, new_bias, x),
                                         reference)
        # The correction is exact on the data it was computed from, up to float32 rounding.
        assert np.abs(error_after).mean() < 0.05 * np.abs(error_before).mean(), node.name


def test_correct_bias_adds_missing_bias():
    graph = depthwise_chain(2)
    assert node_named(graph, "layer2").inputs[2] == ""
    feeds = random_feeds(graph)
    corrected, changes = correct_bias(graph, feeds)

    node = node_named(corrected, "layer2")
    assert node.inputs[2] != ""
    assert corrected.tensors[node.inputs[2]].shape == (6,)
    assert np.any(corrected.tensors[node.inputs[2]].data != 0)
    assert any(line.endswith("(added a zero bias first)") for line in changes)
    assert node_named(graph, "layer2").inputs[2] == ""
    corrected.check()


def test_correct_bias_uses_quantize_fn():
    def per_tensor_int4(weights: np.ndarray, channel_axis: int) -> np.ndarray:
        scale = float(np.max(np.abs(weights))) / 7
        return np.clip(np.round(weights / scale), -7, 7) * scale

    graph = depthwise_chain(1)
    feeds = random_feeds(graph)
    int4, _ = correct_bias(graph, feeds, quantize_fn=per_tensor_int4)
    int8, _ = correct_bias(graph, feeds)
    explicit_int8, _ = correct_bias(graph, feeds, quantize_fn=dequantized_int8_weights)

    shift_int4 = np.abs(bias_of(int4, "layer0") - bias_of(graph, "layer0"))
    shift_int8 = np.abs(bias_of(int8, "layer0") - bias_of(graph, "layer0"))
    assert shift_int4.mean() > shift_int8.mean()
    np.testing.assert_array_equal(bias_of(explicit_int8, "layer0"), bias_of(int8, "layer0"))


def test_correct_bias_corrects_named_layers_only():
    graph = depthwise_chain(1)
    logits = graph.outputs[0]
    graph.add_tensor(Tensor("probabilities", graph.tensors[logits].shape, "float32"))
    graph.nodes.append(Node("softmax", "softmax", [logits], ["probabilities"], {"beta": 1.0}))
    graph.outputs = ["probabilities"]
    graph.check()
    # The softmax node has no weights, so naming it changes nothing.
    corrected, changes = correct_bias(graph, random_feeds(graph), layers={"layer1", "softmax"})

    assert len(changes) == 1
    assert changes[0].startswith("corrected bias of 'layer1'")
    assert not np.array_equal(bias_of(corrected, "layer1"), bias_of(graph, "layer1"))
    np.testing.assert_array_equal(bias_of(corrected, "layer0"), bias_of(graph, "layer0"))
    assert node_named(corrected, "layer2").inputs[2] == ""


@pytest.mark.parametrize("names", [{"missing"}, {"layer1", "x"}])
def test_correct_bias_rejects_unknown_layer_name(names):
    graph = depthwise_chain(1)
    with pytest.raises(QuantizationError, match="no node named"):
        correct_bias(graph, random_feeds(graph), layers=names)


@pytest.mark.parametrize(
    "quantize_fn, message",
    [
        (lambda weights, axis: weights[:1], "returned shape"),
        (lambda weights, axis: np.full(weights.shape, np.nan), "NaN or Inf"),
    ],
)
def test_correct_bias_rejects_bad_quantize_fn(quantize_fn, message):
    rng = np.random.default_rng(8)
    graph = fc_pair(random_array(rng, 4, 3), random_array(rng, 2, 4))
    with pytest.raises(QuantizationError, match=message):
        correct_bias(graph, random_feeds(graph), quantize_fn=quantize_fn)


# --- edge cases shared by the methods --------------------------------------------------------


def run_all_methods(graph: Graph, feeds: dict) -> dict[str, tuple[Graph, list[str]]]:
    return {
        "equalize": equalize_cross_layer(graph),
        "smooth": smooth_activations(graph, feeds),
        "correct_bias": correct_bias(graph, feeds),
    }


def test_methods_leave_input_graph_unchanged():
    graph = depthwise_chain(2)
    feeds = random_feeds(graph)
    constants, inputs = constant_snapshot(graph), node_inputs(graph)
    tensor_names = list(graph.tensors)

    for method, (result, changes) in run_all_methods(graph, feeds).items():
        assert changes, method
        assert result is not graph
        assert list(graph.tensors) == tensor_names, method
        assert node_inputs(graph) == inputs, method
        for name, data in constants.items():
            np.testing.assert_array_equal(graph.tensors[name].data, data, err_msg=method)


def test_methods_skip_all_zero_weight_layer():
    rng = np.random.default_rng(9)
    graph = fc_pair(np.zeros((4, 3), np.float32), random_array(rng, 2, 4))
    feeds = random_feeds(graph)
    results = run_all_methods(graph, feeds)

    for method, (result, _) in results.items():
        for tensor in result.tensors.values():
            if tensor.is_constant:
                assert np.isfinite(tensor.data).all(), (method, tensor.name)
        np.testing.assert_array_equal(filter_of(result, "layer0"), 0.0)
    equalize_changes = results["equalize"][1]
    assert equalize_changes[0] == (
        "skipped 'layer0' -> 'layer1': every channel has a zero or negligible weight range"
    )
    # layer0's output is its bias after Relu, so SmoothQuant may still rescale channels
    # whose bias is positive; the check above shows it creates no NaN.
    bias_changes = results["correct_bias"][1]
    assert bias_changes[0] == "skipped 'layer0': all weights are zero"
    assert_same_function(graph, results["equalize"][0], feeds)
    assert_same_function(graph, results["smooth"][0], feeds)


def test_methods_return_copy_without_weighted_layers():
    graph = Graph(inputs=["x"], outputs=["y"])
    graph.add_tensor(Tensor("x", (1, 4), "float32"))
    graph.add_tensor(Tensor("y", (1, 4), "float32"))
    graph.nodes.append(Node("softmax", "softmax", ["x"], ["y"], {"beta": 1.0}))
    graph.check()

    for method, (result, changes) in run_all_methods(graph, random_feeds(graph)).items():
        assert changes == [], method
        assert result is not graph
        assert [node.op for node in result.nodes] == ["softmax"]
        assert list(result.tensors) == ["x", "y"]


def test_methods_reject_quantized_graph():
    rng = np.random.default_rng(10)
    graph = fc_pair(random_array(rng, 4, 3), random_array(rng, 2, 4))
    ranges = {"x": (-3.0, 3.0), "layer0_out": (0.0, 4.0), "layer1_out": (-4.0, 4.0)}
    quantized = quantize_graph(graph, ranges)
    feeds = random_feeds(graph)

    with pytest.raises(QuantizationError, match="float graph"):
        equalize_cross_layer(quantized)
    with pytest.raises(QuantizationError, match="float graph"):
        smooth_activations(quantized, feeds)
    with pytest.raises(QuantizationError, match="float graph"):
        correct_bias(quantized, feeds)


# --- effect on int8 accuracy -----------------------------------------------------------------


def int8_sqnr(graph: Graph, calibration: dict, evaluation: dict, reference: np.ndarray) -> float:
    quantized = quantize_model(graph, calibration, quiet=True)
    output = run_samples(quantized, evaluation)[graph.outputs[0]]
    return sqnr_db(output, reference)


def test_methods_int8_sqnr_table(models):
    """Print the int8 end-output SQNR per model and method (pytest -s shows the table)."""
    rows = []
    for model in TABLE_MODELS:
        graph, calibration, evaluation = real_model(str(models), model)
        reference = run_samples(graph, evaluation)[graph.outputs[0]]
        variants = {
            "baseline": graph,
            "CLE": equalize_cross_layer(graph)[0],
            "SmoothQuant 0.5": smooth_activations(graph, calibration, alpha=0.5)[0],
            "bias correction": correct_bias(graph, calibration)[0],
        }
        for label in ("CLE", "SmoothQuant 0.5"):
            float_output = run_samples(variants[label], evaluation)[graph.outputs[0]]
            scale = float(np.max(np.abs(reference)))
            np.testing.assert_allclose(float_output, reference, rtol=1e-5, atol=1e-5 * scale,
                                       err_msg=f"{model} {label}")
        row = {label: int8_sqnr(variant, calibration, evaluation, reference)
               for label, variant in variants.items()}
        for label, value in row.items():
            assert math.isfinite(value), (model, label)
        rows.append((model, row))

    labels = list(rows[0][1])
    print("\nint8 end-output SQNR (dB) against the float graph, eval data, minmax calibration")
    print(f"{'model':<22}" + "".join(f"{label:>17}" for label in labels))
    for model, row in rows:
        print(f"{model:<22}" + "".join(f"{row[label]:>17.2f}" for label in labels))
