"""End to end: all-MiniLM-L6-v2 sentence embeddings, integer-only, on an emulated Raspberry Pi.

The float model (models/onnx/minilm.onnx, 90 MB, not in the repository) is fused into the
transformer ops, checked against onnxruntime, and quantized with the real calibration
sentences. SmoothQuant W8A8 must reach a mean cosine similarity of 0.99 (minimum 0.98) with
onnxruntime float on the 64 eval sentences, and its C build on cortex-a53 must equal the
reference interpreter bit for bit. At W4A8 with groups of 32, GPTQ and AWQ must each beat
round to nearest, and SmoothQuant (for the int8 activations) with GPTQ must reach 0.98 and
beat SmoothQuant with round to nearest. The int4 weights must take less than 40% of the
float weights' bytes.
The configurations are those of bench/transformer.py, which prints the table of
docs/BENCHMARKS.md.
"""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from bench import transformer
from edgec.frontend import load_model
from edgec.metrics import cosine_similarities
from edgec.pipeline import generate
from edgec.reference.interpreter import run_samples
from edgec.runner import run_project
from edgec.targets import load_target
from tests.conftest import models_dir

# Sentences run through the C build under qemu-aarch64 (each takes about a second there).
BOARD_SENTENCES = 8


@pytest.fixture(scope="module")
def minilm() -> Path:
    models = models_dir()
    path = transformer.minilm_paths(models)[0]
    if not path.is_file():
        pytest.skip(f"MiniLM not found at {path}; set EDGEC_MODELS to the models folder "
                    "(README: re-creating minilm.onnx)")
    return models


@functools.cache
def _float_embeddings(models: Path):
    return transformer.float_embeddings(models)


@functools.cache
def _quantized(models: Path, label: str):
    return transformer.quantize(models, transformer.CONFIGS[label])


@functools.cache
def _cosines(models: Path, label: str) -> np.ndarray:
    evals, reference = _float_embeddings(models)
    return cosine_similarities(transformer.embeddings(_quantized(models, label), evals), reference)


def test_minilm_fuses_into_transformer_ops(minilm):
    graph = load_model(transformer.minilm_paths(minilm)[0])

    ops = Counter(node.op for node in graph.nodes)
    expected = {"layer_norm": 13, "gelu": 6, "batch_matmul": 12, "softmax": 6,
                "masked_mean": 1, "l2_normalize": 1}
    assert {op: ops[op] for op in expected} == expected
    assert all(node.inputs[1] == "attention_mask" for node in graph.nodes if node.op == "softmax")
    assert [graph.tensors[name].dtype for name in graph.inputs] == ["int32", "int32"]


def test_minilm_float_graph_matches_onnxruntime(minilm):
    graph = load_model(transformer.minilm_paths(minilm)[0])
    evals, reference = _float_embeddings(minilm)
    few = {name: values[:8] for name, values in evals.items()}

    ours = next(iter(run_samples(graph, few).values()))

    assert cosine_similarities(ours, reference[:8]).min() > 0.99999


def test_smoothquant_w8a8_embeddings_close_to_float(minilm):
    cosines = _cosines(minilm, "SmoothQuant W8A8")

    assert len(cosines) == 64
    assert cosines.mean() >= 0.99, f"mean cosine {cosines.mean():.4f}"
    assert cosines.min() >= 0.98, f"minimum cosine {cosines.min():.4f}"


@pytest.mark.qemu
@pytest.mark.cross
def test_w8a8_bit_exact_on_cortex_a53(minilm, tmp_path):
    graph = _quantized(minilm, "SmoothQuant W8A8")
    evals, _ = _float_embeddings(minilm)
    few = {name: values[:BOARD_SENTENCES] for name, values in evals.items()}
    generate(graph, load_target("cortex-a53"), tmp_path / "project", "model",
             transformer.minilm_paths(minilm)[0])

    board = run_project(tmp_path / "project", few)
    reference = run_samples(graph, few)

    output = graph.outputs[0]
    assert np.array_equal(board[output].reshape(reference[output].shape), reference[output])


@pytest.mark.parametrize("method", ["GPTQ", "AWQ"])
def test_w4a8_g32_beats_round_to_nearest(minilm, method):
    cosines = _cosines(minilm, f"{method} W4A8 g32")
    rtn = _cosines(minilm, "RTN W4A8 g32")

    assert cosines.mean() > rtn.mean(), f"{method} {cosines.mean():.4f}, RTN {rtn.mean():.4f}"


def test_smoothquant_gptq_w4a8_g32_reaches_098(minilm):
    cosines = _cosines(minilm, "SmoothQuant + GPTQ W4A8 g32")
    rtn = _cosines(minilm, "SmoothQuant + RTN W4A8 g32")

    assert cosines.mean() >= 0.98, f"mean cosine {cosines.mean():.4f}"
    assert cosines.mean() > rtn.mean(), f"GPTQ {cosines.mean():.4f}, RTN {rtn.mean():.4f}"


def test_w4a8_weights_below_40_percent(minilm):
    graph = _quantized(minilm, "GPTQ W4A8 g32")

    ratio = transformer.weight_bytes(graph) / transformer.float_weight_bytes(minilm)

    assert ratio < 0.40, f"weights are {100 * ratio:.1f}% of float"
