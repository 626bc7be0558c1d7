"""The informational commands: `edgec targets` and `edgec inspect` on real models."""

from __future__ import annotations

import subprocess
import sys


def run_edgec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgec.cli", *args],
                          capture_output=True, text=True, timeout=600)


def test_targets_lists_every_target():
    result = run_edgec("targets")

    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == [
        "cortex-a53", "cortex-a72", "cortex-m0plus", "cortex-m3", "cortex-m33", "cortex-m4", "cortex-m55",
        "cortex-m7", "host",
    ]


def test_inspect_tflite_shows_invoke_quantization(models):
    result = run_edgec("inspect", str(models / "tflite" / "keyword_spotting_int8.tflite"))

    assert result.returncode == 0, result.stderr
    assert "input_1: float32 [1, 50, 10, 1] (model_invoke: int8 scale 0.881015 zero_point -128)" \
        in result.stdout
    assert "conv2d: 5" in result.stdout
    assert "quantized: yes" in result.stdout


def test_inspect_float_onnx_needs_calibration(models):
    result = run_edgec("inspect", str(models / "onnx" / "visual_wake_words_nchw.onnx"))

    assert result.returncode == 0, result.stderr
    assert "input: float32 [1, 3, 96, 96]" in result.stdout
    assert "transpose: 1" in result.stdout
    assert "quantized: no (compile needs --calibration)" in result.stdout


def test_verify_command_on_cortex_m4(models):
    result = run_edgec("verify", str(models / "tflite" / "keyword_spotting_int8.tflite"),
                       "--target", "cortex-m4",
                       "--input", str(models / "data" / "eval" / "keyword_spotting.npz"))

    assert result.returncode == 0, result.stderr
    assert "20 samples: 10 from --input, 10 random" in result.stdout
    assert "target == TFLite Micro, bit-exact on 20 samples" in result.stdout
    assert "verification passed on cortex-m4" in result.stdout


def test_verify_command_on_onnx_prints_accuracy(models):
    result = run_edgec("verify", str(models / "onnx" / "anomaly_detection.onnx"),
                       "--target", "host",
                       "--calibration", str(models / "data" / "calib" / "anomaly_detection.npz"),
                       "--input", str(models / "data" / "eval" / "anomaly_detection.npz"),
                       "--random", "0")

    assert result.returncode == 0, result.stderr
    assert "target == reference interpreter, bit-exact on 42 samples" in result.stdout
    assert "vs onnxruntime on the .onnx file (informational, not a pass/fail check): SQNR" in result.stdout
