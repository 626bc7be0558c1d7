"""End to end: float ONNX models quantized with int4 weights, on host and on Cortex-M4.

keyword_spotting and image_classification are quantized from their real calibration data
with int4 weights per group of 32 (and once per channel, through the command line) and run
on the real eval data. The outputs must equal the reference interpreter's on the same int4
graph bit for bit. A table test prints the weight bytes (report.json totals.weight_bytes)
and the end-output SQNR against the float model (both run by the reference interpreter)
for int8, int4 per channel and int4 per group of 32.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from edgec.frontend import load_model
from edgec.metrics import sqnr_db
from edgec.pipeline import generate
from edgec.quantize.config import parse_config
from edgec.quantize.params import weight_rows
from edgec.quantize.recipe import quantize_with_config
from edgec.reference.interpreter import run_samples
from edgec.runner import run_project
from edgec.targets import load_target

MODELS = ["keyword_spotting", "image_classification"]
CONFIGS = {
    "int8": {},
    "int4 per channel": {"weight_bits": 4},
    "int4 G=32": {"weight_bits": 4, "weight_granularity": "per-group", "group_size": 32},
}
PER_GROUP = "int4 G=32"
TARGETS = [
    pytest.param("host", id="host"),
    pytest.param("cortex-m4", id="cortex-m4", marks=pytest.mark.qemu),
]


class QuantizedModels:
    """Float graphs, eval data and quantized graphs, each computed once per module."""

    def __init__(self, models) -> None:
        self.models = models
        self.float_graphs: dict = {}
        self.graphs: dict = {}

    def onnx_path(self, name: str):
        return self.models / "onnx" / f"{name}.onnx"

    def calibration(self, name: str) -> str:
        return str(self.models / "data" / "calib" / f"{name}.npz")

    def evals(self, name: str) -> dict[str, np.ndarray]:
        return dict(np.load(self.models / "data" / "eval" / f"{name}.npz"))

    def float_graph(self, name: str):
        if name not in self.float_graphs:
            self.float_graphs[name] = load_model(self.onnx_path(name))
        return self.float_graphs[name]

    def graph(self, name: str, config: str):
        if (name, config) not in self.graphs:
            document = {"defaults": CONFIGS[config]}
            graph, _ = quantize_with_config(
                self.float_graph(name), self.calibration(name), parse_config(document),
                quiet=True,
            )
            self.graphs[(name, config)] = graph
        return self.graphs[(name, config)]


@pytest.fixture(scope="module")
def quantized(models) -> QuantizedModels:
    return QuantizedModels(models)


def _assert_bit_exact(board: dict, reference: dict, outputs: list[str]) -> None:
    for output in outputs:
        assert np.array_equal(board[output].reshape(reference[output].shape), reference[output]), (
            f"output '{output}' differs from the reference interpreter"
        )


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", MODELS)
def test_int4_per_group_model_bit_exact(quantized, tmp_path, name, target):
    graph = quantized.graph(name, PER_GROUP)
    filters = [graph.tensors[node.inputs[1]] for node in graph.nodes if len(node.inputs) > 1]
    assert any(t.dtype == "int4" and t.quant.per_group for t in filters)

    report = generate(graph, load_target(target), tmp_path / "project", "model",
                      quantized.onnx_path(name))
    evals = quantized.evals(name)
    board = run_project(tmp_path / "project", evals)

    kernels = {layer["kernel"] for layer in report["layers"]}
    assert "edgec_conv2d_s8_s4" in kernels
    _assert_bit_exact(board, run_samples(graph, evals), graph.outputs)


@pytest.mark.qemu
def test_int4_per_channel_cli_bit_exact(quantized, tmp_path):
    name = "keyword_spotting"
    config = tmp_path / "int4.toml"
    config.write_text("[defaults]\nweight_bits = 4\n")
    output = tmp_path / "output.npz"
    eval_path = quantized.models / "data" / "eval" / f"{name}.npz"
    commands = [
        ["compile", str(quantized.onnx_path(name)), "--target", "cortex-m4", "--output",
         str(tmp_path / "project"), "--calibration", quantized.calibration(name),
         "--config", str(config)],
        ["run", str(tmp_path / "project"), "--input", str(eval_path), "--output", str(output)],
    ]
    for arguments in commands:
        result = subprocess.run([sys.executable, "-m", "edgec.cli", *arguments],
                                capture_output=True, text=True, timeout=600, check=False)
        assert result.returncode == 0, result.stderr

    graph = quantized.graph(name, "int4 per channel")
    filters = [graph.tensors[node.inputs[1]] for node in graph.nodes if len(node.inputs) > 1]
    assert all(t.dtype == "int4" and not t.quant.per_group for t in filters)
    board = dict(np.load(output))
    _assert_bit_exact(board, run_samples(graph, quantized.evals(name)), graph.outputs)


def _packed_filter_bytes(graph) -> tuple[int, int, int]:
    """Return (unpacked filter bytes, packed bytes, group multiplier bytes) of ``graph``."""
    unpacked = packed = multipliers = 0
    for node in graph.nodes:
        if node.op not in ("conv2d", "depthwise_conv2d", "fully_connected"):
            continue
        tensor = graph.tensors[node.inputs[1]]
        channels, reduction = weight_rows(tensor.data, tensor.quant.axis).shape
        unpacked += tensor.size
        packed += channels * math.ceil(reduction / 2)
        if tensor.quant.per_group:
            multipliers += tensor.quant.group_multipliers.size
    return unpacked, packed, multipliers


@pytest.mark.parametrize("name", MODELS)
def test_int4_weight_bytes_and_sqnr_table(quantized, tmp_path, name):
    evals = quantized.evals(name)
    float_graph = quantized.float_graph(name)
    float_output = run_samples(float_graph, evals)[float_graph.outputs[0]].astype(np.float64)
    weight_bytes, sqnr = {}, {}
    for config in CONFIGS:
        graph = quantized.graph(name, config)
        report = generate(graph, load_target("host"), tmp_path / config.replace(" ", "_"),
                          "model", None)
        weight_bytes[config] = report["totals"]["weight_bytes"]
        output = run_samples(graph, evals)[graph.outputs[0]].astype(np.float64)
        sqnr[config] = sqnr_db(output, float_output)

    print(f"\n{name}: weight bytes (report.json totals.weight_bytes) and end-output SQNR "
          "against the float model")
    for config in CONFIGS:
        print(f"  {config:17s} {weight_bytes[config]:8,d} bytes  {sqnr[config]:6.2f} dB")

    unpacked, packed, _ = _packed_filter_bytes(quantized.graph(name, "int4 per channel"))
    _, group_packed, multipliers = _packed_filter_bytes(quantized.graph(name, PER_GROUP))
    assert weight_bytes["int4 per channel"] == weight_bytes["int8"] - unpacked + packed
    assert weight_bytes[PER_GROUP] == weight_bytes["int8"] - unpacked + group_packed + multipliers
    assert multipliers > 0
    assert sqnr["int8"] > sqnr["int4 per channel"]
    assert sqnr["int8"] > sqnr[PER_GROUP]
