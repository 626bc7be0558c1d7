"""End to end: the float ONNX models, quantized by edgec, on the emulated Cortex-M4.

Each model (NHWC and `_nchw` files) is compiled with its real calibration data and run on
cortex-m4 with the real eval data. The board's output must equal the reference interpreter
bit for bit. Its accuracy against onnxruntime float must be at least that of onnxruntime's
own quantize_static (QDQ, per-channel, MinMax) on the same data.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from edgec.frontend import load_model
from edgec.metrics import sqnr_db, top1_agreement
from edgec.oracles import run_onnxruntime
from edgec.pipeline import generate
from edgec.quantize import quantize_model
from edgec.reference.interpreter import run_samples
from edgec.runner import run_project
from edgec.targets import load_target
from tests.conftest import REPOSITORY

sys.path.insert(0, str(REPOSITORY / "bench"))
import quant_compare

ONNX_FILES = [
    ("keyword_spotting", "keyword_spotting.onnx"),
    ("keyword_spotting", "keyword_spotting_nchw.onnx"),
    ("image_classification", "image_classification.onnx"),
    ("image_classification", "image_classification_nchw.onnx"),
    ("visual_wake_words", "visual_wake_words.onnx"),
    ("visual_wake_words", "visual_wake_words_nchw.onnx"),
    ("anomaly_detection", "anomaly_detection.onnx"),
]


@pytest.mark.qemu
@pytest.mark.parametrize("name,filename", ONNX_FILES)
def test_onnx_model_on_cortex_m4(models, tmp_path, name, filename):
    onnx_path = models / "onnx" / filename
    calib, evals = quant_compare.load_data(models, name, onnx_path)
    graph = quantize_model(load_model(onnx_path), calib, quiet=True)
    generate(graph, load_target("cortex-m4"), tmp_path / "project", "model", onnx_path)

    board = run_project(tmp_path / "project", evals)
    reference = run_samples(graph, evals)
    for output in graph.outputs:
        assert np.array_equal(board[output].reshape(reference[output].shape), reference[output])

    float_out = next(iter(run_onnxruntime(onnx_path, evals).values())).astype(np.float64)
    ours = next(iter(board.values())).astype(np.float64).reshape(float_out.shape)
    theirs = quant_compare.onnxruntime_outputs(onnx_path, calib, evals).reshape(float_out.shape)
    assert sqnr_db(ours, float_out) >= sqnr_db(theirs, float_out)
    if name in quant_compare.CLASSIFIERS:
        assert top1_agreement(ours, float_out) >= top1_agreement(theirs, float_out)
