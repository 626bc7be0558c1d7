"""End to end: GPTQ and AWQ weights on the MLPerf Tiny float models.

Each model is quantized with int4 weights per group of 32 and the minmax observer, with
round-to-nearest (RTN), GPTQ and AWQ weights, from data/calib. The end-output SQNR against
the float model (both run by the reference interpreter on data/eval) of GPTQ and of AWQ
must each be higher than RTN's on at least 3 of the 4 models. Run pytest with -s to see
the table. keyword_spotting quantized with GPTQ also runs on the emulated Cortex-M4, bit
for bit like the reference interpreter.
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

RTN, GPTQ, AWQ = "int4 g32 RTN", "int4 g32 GPTQ", "int4 g32 AWQ"


@pytest.fixture(scope="module")
def sqnr_table(models) -> dict[str, dict[str, float]]:
    """Model -> config label -> end-output SQNR in dB."""
    configs = {label: quant_methods.WEIGHT_METHOD_CONFIGS[label] for label in (RTN, GPTQ, AWQ)}
    rows = [quant_methods.measure_weight_methods(models, name, configs) for name in MLPERF_TINY]
    print("\n" + quant_methods.weight_methods_markdown(rows))
    return {
        row["model"]: {label: entry["sqnr_db"] for label, entry in row["edgec"].items()}
        for row in rows
    }


@pytest.mark.parametrize("method", [GPTQ, AWQ])
def test_weight_method_beats_rtn_on_three_models(sqnr_table, method):
    better = [name for name, row in sqnr_table.items() if row[method] > row[RTN]]

    assert len(better) >= 3, (
        f"{method} beats RTN only on {better}; SQNR (dB) per model: {sqnr_table}"
    )


@pytest.mark.qemu
def test_gptq_model_bit_exact_on_cortex_m4(models, tmp_path):
    name = "keyword_spotting"
    onnx_path = models / "onnx" / f"{name}.onnx"
    calib, evals = quant_compare.load_data(models, name, onnx_path)
    config = parse_config(quant_methods.WEIGHT_METHOD_CONFIGS[GPTQ], source="test")
    graph, log = quantize_with_config(load_model(onnx_path), calib, config, quiet=True)
    generate(graph, load_target("cortex-m4"), tmp_path / "project", "model", onnx_path)

    board = run_project(tmp_path / "project", evals)
    reference = run_samples(graph, evals)

    filters = [graph.tensors[node.inputs[1]] for node in graph.nodes if len(node.inputs) > 1]
    assert any(tensor.dtype == "int4" and tensor.quant.per_group for tensor in filters)
    assert len(log.steps["GPTQ"]) == 10
    for output in graph.outputs:
        assert np.array_equal(board[output].reshape(reference[output].shape), reference[output])
