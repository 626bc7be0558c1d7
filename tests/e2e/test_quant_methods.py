"""Quantization methods on the MLPerf Tiny float models, against onnxruntime's quantizer.

For each model, edgec's best int8 configuration of bench/quant_methods.py must reach an
end-output SQNR against onnxruntime float at least as high as the best of onnxruntime's
quantize_static calibration methods (MinMax, Entropy, Percentile) on the same calibration
and eval data. A model quantized with every method at once also runs bit-exactly on the
emulated Cortex-M4.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from edgec.frontend import load_model
from edgec.pipeline import generate
from edgec.quantize.config import parse_config
from edgec.quantize.recipe import quantize_with_config
from edgec.reference.interpreter import run_samples
from edgec.runner import run_project
from edgec.targets import load_target
from tests.conftest import MLPERF_TINY, REPOSITORY

sys.path.insert(0, str(REPOSITORY / "bench"))
import quant_compare
import quant_methods


@pytest.mark.parametrize("name", MLPERF_TINY)
def test_best_edgec_int8_at_least_best_onnxruntime(models, name):
    row = quant_methods.measure_model(models, name)

    ort_label, ort_best = quant_methods.best(row["onnxruntime"])
    our_label, our_best = quant_methods.best(row["edgec"])
    print(f"{name}: edgec {our_label} {our_best}, onnxruntime {ort_label} {ort_best}")
    assert our_best["sqnr_db"] >= ort_best["sqnr_db"]


ALL_METHODS = {
    "defaults": {"observer": "mse", "bias_correction": True},
    "methods": {"cross_layer_equalization": True, "smoothquant_alpha": 0.5},
    "op_types": {"fully_connected": {"observer": "percentile", "weight_granularity": "per-tensor"}},
}


@pytest.mark.qemu
def test_all_methods_bit_exact_on_cortex_m4(models, tmp_path):
    onnx_path = models / "onnx" / "keyword_spotting.onnx"
    calib, evals = quant_compare.load_data(models, "keyword_spotting", onnx_path)
    config = parse_config(ALL_METHODS, source="test")
    graph, log = quantize_with_config(load_model(onnx_path), calib, config, quiet=True)
    generate(graph, load_target("cortex-m4"), tmp_path / "project", "model", onnx_path)

    board = run_project(tmp_path / "project", evals)
    reference = run_samples(graph, evals)

    assert set(log.steps) == {"cross-layer equalization", "SmoothQuant", "bias correction"}
    for output in graph.outputs:
        assert np.array_equal(board[output].reshape(reference[output].shape), reference[output])
