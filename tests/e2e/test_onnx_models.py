"""End to end: the float ONNX models, quantized by edgec, on the emulated Cortex-M boards.

Each model (NHWC and `_nchw` files) is quantized once with its real calibration data. On
cortex-m4 it runs on all the real eval data: the board's output must equal the reference
interpreter bit for bit, and its accuracy against onnxruntime float must be at least that of
onnxruntime's own quantize_static (QDQ, per-channel, MinMax) on the same data. On the other
Cortex-M targets the NHWC file of each model runs on the first 2 eval samples plus 2 random
samples, which keeps the suite short, and must equal the reference interpreter bit for bit.
"""

from __future__ import annotations

import copy
import functools
import sys
from pathlib import Path

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
from edgec.verify import concat_feeds, random_inputs
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
# Cortex-M targets checked on a few samples each, on the NHWC file of each model only: the
# `_nchw` files differ in the frontend's layout handling, which does not depend on the target.
FEW_SAMPLE_FILES = [(name, filename) for name, filename in ONNX_FILES if "_nchw" not in filename]
FEW_SAMPLE_TARGETS = ["cortex-m0plus", "cortex-m3", "cortex-m7", "cortex-m33", "cortex-m55"]
FEW_EVAL_SAMPLES = 2
FEW_RANDOM_SAMPLES = 2


@functools.cache
def _quantized_model(models: Path, name: str, filename: str):
    """Return (calibration, eval data, quantized graph) of one ONNX file, quantized once."""
    onnx_path = models / "onnx" / filename
    calib, evals = quant_compare.load_data(models, name, onnx_path)
    return calib, evals, quantize_model(load_model(onnx_path), calib, quiet=True)


def quantized_model(models: Path, name: str, filename: str):
    """Like _quantized_model, with a graph of its own that the caller may change."""
    calib, evals, graph = _quantized_model(models, name, filename)
    return calib, evals, copy.deepcopy(graph)


@pytest.mark.qemu
@pytest.mark.parametrize("name,filename", ONNX_FILES)
def test_onnx_model_on_cortex_m4(models, tmp_path, name, filename):
    onnx_path = models / "onnx" / filename
    calib, evals, graph = quantized_model(models, name, filename)
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


@pytest.mark.qemu
@pytest.mark.cross
@pytest.mark.parametrize("target", FEW_SAMPLE_TARGETS)
@pytest.mark.parametrize("name,filename", FEW_SAMPLE_FILES)
def test_onnx_model_bit_exact_on_few_samples(models, tmp_path, name, filename, target):
    onnx_path = models / "onnx" / filename
    _, evals, graph = quantized_model(models, name, filename)
    first_evals = {key: value[:FEW_EVAL_SAMPLES] for key, value in evals.items()}
    # random_inputs keeps the batch axis of 1 in each sample; the eval data has none.
    randoms = {
        key: value.reshape((FEW_RANDOM_SAMPLES, *evals[key].shape[1:]))
        for key, value in random_inputs(graph, FEW_RANDOM_SAMPLES).items()
    }
    feeds = concat_feeds(first_evals, randoms)
    generate(graph, load_target(target), tmp_path / "project", "model", onnx_path)

    board = run_project(tmp_path / "project", feeds)
    reference = run_samples(graph, feeds)

    assert len(next(iter(feeds.values()))) == FEW_EVAL_SAMPLES + FEW_RANDOM_SAMPLES
    for output in graph.outputs:
        assert np.array_equal(board[output].reshape(reference[output].shape), reference[output])
