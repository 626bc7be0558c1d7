"""Quantization config: parsing, layering of settings, errors, and its use from the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from edgec.frontend import load_model
from edgec.ir import Node
from edgec.quantize.config import ConfigError, QuantConfig, load_config, parse_config
from edgec.quantize.recipe import quantize_with_config

GOOD = {
    "defaults": {"observer": "percentile", "observer_options": {"percentile": 99.9}},
    "methods": {"cross_layer_equalization": True, "smoothquant_alpha": 0.5},
    "op_types": {"fully_connected": {"observer": "minmax", "weight_granularity": "per-tensor"}},
    "layers": {"conv_1": {"bias_correction": True}},
}


def test_config_settings_layer_defaults_op_type_and_layer():
    config = parse_config(GOOD)

    conv = config.settings_for(Node("conv2d", "conv_1", [], []))
    other_conv = config.settings_for(Node("conv2d", "conv_2", [], []))
    fc = config.settings_for(Node("fully_connected", "fc", [], []))

    assert conv.observer == "percentile"
    assert conv.bias_correction
    assert not other_conv.bias_correction
    assert fc.observer == "minmax"
    assert fc.weight_granularity == "per-tensor"
    assert config.cross_layer_equalization and config.smoothquant_alpha == 0.5


@pytest.mark.parametrize(
    "document, message",
    [
        ({"default": {}}, "unknown section [default]"),
        ({"defaults": {"observr": "mse"}}, "unknown key"),
        ({"defaults": {"observer": "kl"}}, "[defaults].observer = 'kl' is not valid"),
        ({"defaults": {"weight_bits": 3}}, "weight_bits = 3 is not supported"),
        ({"defaults": {"bias_correction": "yes"}}, "expected true or false"),
        ({"methods": {"smoothquant_alpha": 1.5}}, "expected a number in [0, 1]"),
        ({"defaults": {"weight_granularity": "per-row"}}, "expected one of"),
        ({"layers": {"conv": "minmax"}}, "must be a table"),
        ({"defaults": {"observer": "percentile", "observer_options": {"percentile": 200}}},
         "percentile"),
        ({"defaults": {"observer_options": {"bins": 10}}}, "[defaults]"),
    ],
)
def test_config_bad_value_names_it(document, message):
    with pytest.raises(ConfigError) as error:
        parse_config(document, source="q.toml")

    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_config_file_errors(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("[defaults\nobserver = 1\n")

    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")


def test_config_layer_that_does_not_exist(models):
    graph = load_model(models / "onnx" / "keyword_spotting.onnx")
    config = parse_config({"layers": {"no_such_layer": {"observer": "mse"}}}, source="q.toml")

    with pytest.raises(ConfigError, match="'no_such_layer', which the model does not have"):
        quantize_with_config(graph, "random", config, quiet=True)


def test_config_unknown_op_type(models):
    graph = load_model(models / "onnx" / "keyword_spotting.onnx")
    config = parse_config({"op_types": {"conv": {"observer": "mse"}}}, source="q.toml")

    with pytest.raises(ConfigError, match=r"unknown op type\(s\) \['conv'\]"):
        quantize_with_config(graph, "random", config, quiet=True)


def test_config_per_tensor_weights_share_one_scale(models):
    graph = load_model(models / "onnx" / "keyword_spotting.onnx")
    config = QuantConfig()
    config.op_types["conv2d"] = {"weight_granularity": "per-tensor"}

    int_graph, _ = quantize_with_config(graph, "random", config, quiet=True)

    convs = [n for n in int_graph.nodes if n.op == "conv2d"]
    dws = [n for n in int_graph.nodes if n.op == "depthwise_conv2d"]
    assert convs and dws
    for node in convs:
        scales = int_graph.tensors[node.inputs[1]].quant.scale
        assert np.all(scales == scales[0])
    assert any(len(set(int_graph.tensors[n.inputs[1]].quant.scale)) > 1 for n in dws)


def _edgec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edgec.cli", *args], capture_output=True, text=True,
        timeout=600, check=False,
    )


def test_cli_compile_with_config_and_flags(models, tmp_path):
    config = tmp_path / "q.toml"
    config.write_text('[defaults]\nobserver = "mse"\n[op_types.fully_connected]\n'
                      'weight_granularity = "per-tensor"\n')
    out = tmp_path / "out"

    result = _edgec(
        "compile", str(models / "onnx" / "keyword_spotting.onnx"), "--target", "host",
        "--output", str(out), "--calibration",
        str(models / "data" / "calib" / "keyword_spotting.npz"),
        "--config", str(config), "--bias-correction",
    )

    assert result.returncode == 0, result.stderr
    assert (out / "model.c").is_file()


def test_cli_bad_config_exits_2_and_writes_nothing(models, tmp_path):
    config = tmp_path / "q.toml"
    config.write_text('[defaults]\nobserver = "kl"\n')
    out = tmp_path / "out"

    result = _edgec(
        "compile", str(models / "onnx" / "keyword_spotting.onnx"), "--target", "host",
        "--output", str(out), "--calibration", "random", "--config", str(config),
    )

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "observer = 'kl' is not valid" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_cli_quantize_report_writes_tables(models, tmp_path):
    out = tmp_path / "report"

    result = _edgec(
        "quantize-report", str(models / "onnx" / "keyword_spotting.onnx"),
        "--calibration", str(models / "data" / "calib" / "keyword_spotting.npz"),
        "--eval", str(models / "data" / "eval" / "keyword_spotting.npz"),
        "--output", str(out), "--observer", "percentile",
    )

    assert result.returncode == 0, result.stderr
    report = json.loads((out / "quantize_report.json").read_text())
    graph = load_model(models / "onnx" / "keyword_spotting.onnx")
    assert len(report["layers"]) == len(graph.nodes)
    (output,) = report["outputs"]
    assert output["sqnr_db"] > 10
    assert 0.9 < output["cosine"] <= 1.0
    assert 0 <= output["top1_agreement"] <= 1
    assert "| output | SQNR (dB) |" in (out / "quantize_report.md").read_text()


def test_cli_quantize_report_rejects_quantized_model(models, tmp_path):
    result = _edgec(
        "quantize-report", str(models / "tflite" / "keyword_spotting_int8.tflite"),
        "--calibration", "random", "--eval", str(models / "data" / "eval" / "keyword_spotting.npz"),
        "--output", str(tmp_path / "r"),
    )

    assert result.returncode == 2
    assert "already quantized" in result.stderr


def test_cli_quantize_report_names_eval_data_with_nan(models, tmp_path):
    evals = dict(np.load(models / "data" / "eval" / "keyword_spotting.npz"))
    evals["input"] = evals["input"].copy()
    evals["input"][0, 0, 0] = np.nan
    np.savez(tmp_path / "eval_nan.npz", **evals)

    result = _edgec(
        "quantize-report", str(models / "onnx" / "keyword_spotting.onnx"),
        "--calibration", str(models / "data" / "calib" / "keyword_spotting.npz"),
        "--eval", str(tmp_path / "eval_nan.npz"), "--output", str(tmp_path / "r"),
    )

    assert result.returncode == 2
    assert "eval input 'input' contains 1 NaN and 0 Inf values" in result.stderr
    assert "calibration" not in result.stderr


def test_config_missing_layer_suggests_the_closest_name(models):
    graph = load_model(models / "onnx" / "keyword_spotting.onnx")
    real = next(node.name for node in graph.nodes if node.op == "conv2d")
    config = parse_config({"layers": {real + "x": {"observer": "mse"}}}, source="q.toml")

    with pytest.raises(ConfigError, match=f"closest: '{real}'"):
        config.check_layers(graph)


def test_cli_inspect_layers_lists_the_names_configs_use(models):
    graph = load_model(models / "onnx" / "keyword_spotting.onnx")

    result = _edgec("inspect", str(models / "onnx" / "keyword_spotting.onnx"), "--layers")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("layers (index, op, name):\n")[1].splitlines()
    assert [line.split()[-1] for line in lines] == [node.name for node in graph.nodes]


def test_cli_flag_errors_name_the_flag(models, tmp_path):
    result = _edgec(
        "compile", str(models / "onnx" / "keyword_spotting.onnx"), "--target", "host",
        "--output", str(tmp_path / "out"), "--calibration", "random", "--smoothquant", "2",
    )

    assert result.returncode == 2
    assert "--smoothquant = 2.0 is not valid; expected a number in [0, 1]" in result.stderr
