"""End to end: float ONNX models with two weighted layers in the middle at int16 activations
(16x8: int16 input and output, int8 weights, int64 bias), on host and on Cortex-M4.

keyword_spotting and image_classification are quantized from their real calibration data
with a config that sets ``activation_bits = 16`` for two consecutive layers, chosen by name,
and run on the real eval data. The outputs must equal the reference interpreter's on the
same integer graph bit for bit. A table test prints the end-output SQNR against the float
model with and without the int16 layers (both run by the reference interpreter), and checks
that the second 16-bit layer's own output is closer to float than its int8 version.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from edgec.frontend import load_model
from edgec.ir.ops import FILTER_CHANNEL_AXIS
from edgec.metrics import sqnr_db
from edgec.pipeline import generate
from edgec.quantize.config import parse_config
from edgec.quantize.recipe import quantize_with_config
from edgec.reference.interpreter import run_samples
from edgec.runner import run_project
from edgec.targets import load_target

# Two consecutive weighted layers in the middle of each model, by node name (as
# edgec.frontend.load_model and `edgec inspect` list them).
INT16_LAYERS = {
    "keyword_spotting": ["Conv__183", "model/conv2d_2/BiasAdd"],
    "image_classification": ["model/conv2d_3/BiasAdd", "model/conv2d_4/BiasAdd"],
}
MODELS = list(INT16_LAYERS)
TARGETS = [
    pytest.param("host", id="host"),
    pytest.param("cortex-m4", id="cortex-m4", marks=pytest.mark.qemu),
]
INT16_KERNELS = {"edgec_requantize_s8_s16", "edgec_requantize_s16_s8"}


def int16_config(name: str) -> dict:
    return {"layers": {layer: {"activation_bits": 16} for layer in INT16_LAYERS[name]}}


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

    def eval_path(self, name: str):
        return self.models / "data" / "eval" / f"{name}.npz"

    def evals(self, name: str) -> dict[str, np.ndarray]:
        return dict(np.load(self.eval_path(name)))

    def float_graph(self, name: str):
        if name not in self.float_graphs:
            self.float_graphs[name] = load_model(self.onnx_path(name))
        return self.float_graphs[name]

    def graph(self, name: str, int16: bool):
        if (name, int16) not in self.graphs:
            document = int16_config(name) if int16 else {}
            graph, _ = quantize_with_config(
                self.float_graph(name), self.calibration(name), parse_config(document),
                quiet=True,
            )
            self.graphs[(name, int16)] = graph
        return self.graphs[(name, int16)]


@pytest.fixture(scope="module")
def quantized(models) -> QuantizedModels:
    return QuantizedModels(models)


def _assert_bit_exact(board: dict, reference: dict, outputs: list[str]) -> None:
    for output in outputs:
        assert np.array_equal(board[output].reshape(reference[output].shape), reference[output]), (
            f"output '{output}' differs from the reference interpreter"
        )


@pytest.mark.parametrize("name", MODELS)
def test_int16_layer_names_are_weighted_middle_layers(quantized, name):
    float_graph = quantized.float_graph(name)
    names = [node.name for node in float_graph.nodes]
    ops = {node.name: node.op for node in float_graph.nodes}

    positions = [names.index(layer) for layer in INT16_LAYERS[name]]
    assert all(ops[layer] in FILTER_CHANNEL_AXIS for layer in INT16_LAYERS[name])
    assert positions[0] > 0
    assert positions[-1] < len(names) - 1
    assert positions[1] == positions[0] + 1


@pytest.mark.parametrize("name", MODELS)
def test_int16_graph_converts_once_each_way(quantized, name):
    graph = quantized.graph(name, int16=True)
    nodes = {node.name: node for node in graph.nodes}
    first, second = (nodes[layer] for layer in INT16_LAYERS[name])
    conversions = [
        node for node in graph.nodes
        if node.op == "quantize" and graph.tensors[node.inputs[0]].dtype != "float32"
    ]

    assert [graph.tensors[node.outputs[0]].dtype for node in conversions] == ["int16", "int8"]
    assert first.outputs[0] == second.inputs[0]
    for tensor in (first.inputs[0], first.outputs[0], second.outputs[0]):
        assert graph.tensors[tensor].dtype == "int16"
        assert graph.tensors[tensor].quant.zero_point.tolist() == [0]
    for layer in (first, second):
        assert graph.tensors[layer.inputs[1]].dtype == "int8"
        assert graph.tensors[layer.inputs[2]].dtype == "int64"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", MODELS)
def test_int16_model_bit_exact(quantized, tmp_path, name, target):
    graph = quantized.graph(name, int16=True)
    report = generate(graph, load_target(target), tmp_path / "project", "model",
                      quantized.onnx_path(name))
    evals = quantized.evals(name)

    board = run_project(tmp_path / "project", evals)

    kernels = {layer["kernel"] for layer in report["layers"]}
    assert INT16_KERNELS <= kernels
    assert kernels & {"edgec_conv2d_s16", "edgec_depthwise_conv2d_s16"}
    _assert_bit_exact(board, run_samples(graph, evals), graph.outputs)


def test_int16_config_file_through_cli(quantized, tmp_path):
    name = "keyword_spotting"
    config = tmp_path / "int16.toml"
    config.write_text("".join(
        f'[layers."{layer}"]\nactivation_bits = 16\n' for layer in INT16_LAYERS[name]
    ))
    output = tmp_path / "output.npz"
    commands = [
        ["compile", str(quantized.onnx_path(name)), "--target", "host", "--output",
         str(tmp_path / "project"), "--calibration", quantized.calibration(name),
         "--config", str(config)],
        ["run", str(tmp_path / "project"), "--input", str(quantized.eval_path(name)),
         "--output", str(output)],
    ]
    for arguments in commands:
        result = subprocess.run([sys.executable, "-m", "edgec.cli", *arguments],
                                capture_output=True, text=True, timeout=600, check=False)
        assert result.returncode == 0, result.stderr

    graph = quantized.graph(name, int16=True)
    board = dict(np.load(output))
    _assert_bit_exact(board, run_samples(graph, quantized.evals(name)), graph.outputs)


def test_int16_config_on_add_layer_fails_in_cli(quantized, tmp_path):
    config = tmp_path / "int16.toml"
    config.write_text('[layers."model/add/add"]\nactivation_bits = 16\n')
    name = "image_classification"

    result = subprocess.run(
        [sys.executable, "-m", "edgec.cli", "compile", str(quantized.onnx_path(name)),
         "--target", "host", "--output", str(tmp_path / "project"), "--calibration",
         quantized.calibration(name), "--config", str(config)],
        capture_output=True, text=True, timeout=600, check=False,
    )

    assert result.returncode == 2
    assert "layer 'model/add/add' (add): activation_bits = 16 is supported only for" in (
        result.stderr
    )
    assert not (tmp_path / "project").exists()


def _real(graph, name: str, values: np.ndarray) -> np.ndarray:
    quant = graph.tensors[name].quant
    return float(quant.scale[0]) * (values.astype(np.float64) - int(quant.zero_point[0]))


@pytest.mark.parametrize("name", MODELS)
def test_int16_sqnr_table(quantized, name):
    evals = quantized.evals(name)
    float_graph = quantized.float_graph(name)
    output = float_graph.outputs[0]
    # The float tensor written by the second 16-bit layer.
    layer_output = next(
        node.outputs[0] for node in float_graph.nodes if node.name == INT16_LAYERS[name][-1]
    )
    float_values = run_samples(float_graph, evals, keep=[output, layer_output])
    int8_graph = quantized.graph(name, int16=False)
    int16_graph = quantized.graph(name, int16=True)
    int8_values = run_samples(int8_graph, evals, keep=[output, layer_output])
    int16_name = f"{layer_output}_int16"
    int16_values = run_samples(int16_graph, evals, keep=[output, int16_name])

    reference = float_values[output].astype(np.float64)
    end_int8 = sqnr_db(int8_values[output].astype(np.float64), reference)
    end_int16 = sqnr_db(int16_values[output].astype(np.float64), reference)
    layer_reference = float_values[layer_output].astype(np.float64)
    layer_int8 = sqnr_db(_real(int8_graph, layer_output, int8_values[layer_output]),
                         layer_reference)
    layer_int16 = sqnr_db(_real(int16_graph, int16_name, int16_values[int16_name]),
                          layer_reference)

    print(f"\n{name}: SQNR against the float model (reference interpreter, "
          f"{len(reference)} eval samples), int16 layers {', '.join(INT16_LAYERS[name])}")
    print(f"  end output:       all int8 {end_int8:6.2f} dB   with int16 layers "
          f"{end_int16:6.2f} dB")
    print(f"  '{layer_output}': int8 {layer_int8:6.2f} dB   int16 {layer_int16:6.2f} dB")
    assert np.isfinite(end_int16)
    assert layer_int16 > layer_int8
