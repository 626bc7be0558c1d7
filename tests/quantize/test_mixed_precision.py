"""Mixed precision: per-layer weight bits under a byte budget."""

from __future__ import annotations

import itertools
import sys

import numpy as np
import pytest

from edgec.errors import QuantizationError
from edgec.frontend import load_model
from edgec.ir import Graph
from edgec.ir.ops import FILTER_CHANNEL_AXIS
from edgec.metrics import sqnr_db
from edgec.quantize.config import ConfigError, QuantConfig, parse_config
from edgec.quantize.mixed_precision import (
    CANDIDATES,
    choose_weight_bits,
    weight_bytes,
)
from edgec.quantize.recipe import quantize_with_config
from edgec.reference.interpreter import run_samples
from tests.conftest import REPOSITORY

sys.path.insert(0, str(REPOSITORY / "bench"))
import quant_compare

INT8, INT4 = CANDIDATES


def _toy_graph(shapes: list[tuple[int, int]]) -> Graph:
    """A graph object with fully_connected layers of the given (O, I) weight shapes."""
    from edgec.ir import Node, Tensor

    graph = Graph(inputs=["x"], outputs=[])
    graph.add_tensor(Tensor("x", (1, shapes[0][1]), "float32"))
    for index, shape in enumerate(shapes):
        graph.add_tensor(Tensor(f"w{index}", shape, "float32", np.ones(shape, np.float32)))
        graph.add_tensor(Tensor(f"y{index}", (1, shape[0]), "float32"))
        source = "x" if index == 0 else f"y{index - 1}"
        graph.nodes.append(Node("fully_connected", f"fc{index}", [source, f"w{index}", ""],
                                [f"y{index}"]))
    return graph


def test_weight_bytes_int8_and_packed_int4():
    assert weight_bytes((10, 100), 0, INT8) == 1000
    # 50 bytes of packed nibbles per row and 4 group multipliers (100 / 32, rounded up).
    assert weight_bytes((10, 100), 0, INT4) == 10 * 50 + 10 * 4


def test_choose_weight_bits_least_noise_fits():
    graph = _toy_graph([(64, 256), (64, 64), (32, 128), (16, 512)])
    rng = np.random.default_rng(3)
    sensitivity = {
        f"fc{i}": {INT8: float(rng.uniform(0, 1e-4)), INT4: float(rng.uniform(1e-3, 1e-2))}
        for i in range(4)
    }
    sizes = {
        f"fc{i}": {c: weight_bytes(graph.tensors[f"w{i}"].shape, 0, c) for c in CANDIDATES}
        for i in range(4)
    }
    budget = 30_000

    chosen = choose_weight_bits(graph, sensitivity, budget)

    best = min(
        (sum(sensitivity[f"fc{i}"][c] for i, c in enumerate(mix)), mix)
        for mix in itertools.product(CANDIDATES, repeat=4)
        if sum(sizes[f"fc{i}"][c] for i, c in enumerate(mix)) <= budget
    )
    assert [c.candidate for c in chosen] == list(best[1])
    assert sum(c.weight_bytes for c in chosen) <= budget


def test_choose_weight_bits_budget_below_all_int4():
    graph = _toy_graph([(64, 256)])
    sensitivity = {"fc0": {INT8: 0.0, INT4: 1.0}}

    with pytest.raises(QuantizationError, match="below the smallest mix"):
        choose_weight_bits(graph, sensitivity, 100)


def test_config_weight_budget_must_be_positive():
    with pytest.raises(ConfigError, match="weight_budget = -5 is not valid"):
        parse_config({"methods": {"weight_budget": -5}})


def _int_weight_array_bytes(int_graph: Graph) -> int:
    total = 0
    for node in int_graph.nodes:
        if node.op not in FILTER_CHANNEL_AXIS:
            continue
        tensor = int_graph.tensors[node.inputs[1]]
        candidate = INT8 if tensor.dtype == "int8" else INT4
        if tensor.dtype == "int4" and not tensor.quant.per_group:
            candidate = type(INT4)("int4", 4, "per-channel")
        total += weight_bytes(tensor.shape, FILTER_CHANNEL_AXIS[node.op], candidate)
    return total


def test_mixed_precision_vww_60_percent_beats_uniform_int4(models):
    onnx_path = models / "onnx" / "visual_wake_words.onnx"
    calib, evals = quant_compare.load_data(models, "visual_wake_words", onnx_path)
    float_graph = load_model(onnx_path)
    reference = next(iter(run_samples(float_graph, evals).values()))
    int8_bytes = sum(
        weight_bytes(float_graph.tensors[n.inputs[1]].shape, FILTER_CHANNEL_AXIS[n.op], INT8)
        for n in float_graph.nodes if n.op in FILTER_CHANNEL_AXIS
    )
    budget = int(0.6 * int8_bytes)

    mixed, log = quantize_with_config(
        float_graph, calib, QuantConfig(weight_budget=budget), quiet=True
    )
    uniform = parse_config({"defaults": {
        "weight_bits": 4, "weight_granularity": "per-group", "group_size": 32,
    }})
    int4, _ = quantize_with_config(float_graph, calib, uniform, quiet=True)

    mixed_sqnr = sqnr_db(next(iter(run_samples(mixed, evals).values())), reference)
    int4_sqnr = sqnr_db(next(iter(run_samples(int4, evals).values())), reference)
    print(f"VWW weights: int8 {int8_bytes}, budget {budget}, mixed "
          f"{_int_weight_array_bytes(mixed)}, int4 {_int_weight_array_bytes(int4)}; SQNR mixed "
          f"{mixed_sqnr:.2f} dB, uniform int4 g32 {int4_sqnr:.2f} dB")
    assert _int_weight_array_bytes(mixed) <= budget
    assert len(log.steps["mixed precision"]) == 1 + sum(
        n.op in FILTER_CHANNEL_AXIS for n in float_graph.nodes
    )
    assert log.steps["mixed precision"][-1] == (
        f"weight arrays: {_int_weight_array_bytes(mixed):,} bytes of the {budget:,}-byte budget"
    )
    assert mixed_sqnr > int4_sqnr


def test_mixed_precision_keeps_int16_layers_at_int8(models):
    onnx_path = models / "onnx" / "keyword_spotting.onnx"
    calib, _ = quant_compare.load_data(models, "keyword_spotting", onnx_path)
    graph = load_model(onnx_path)
    wide = next(n.name for n in graph.nodes if n.op == "conv2d" and n.name != graph.nodes[0].name)
    config = parse_config({"layers": {wide: {"activation_bits": 16}}, "methods": {
        "weight_budget": 16_000,
    }})

    int_graph, log = quantize_with_config(graph, calib, config, quiet=True)

    node = next(n for n in int_graph.nodes if n.name == wide)
    assert int_graph.tensors[node.inputs[1]].dtype == "int8"
    assert any(f"{wide}: int8" in line for line in log.steps["mixed precision"])
    assert any(int_graph.tensors[n.inputs[1]].dtype == "int4" for n in int_graph.nodes
               if n.op in FILTER_CHANNEL_AXIS)
