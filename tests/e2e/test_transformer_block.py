"""End to end: a small transformer block (attention + MLP, width 64) on the microcontrollers.

The block of tests/transformer_block.py (random weights, an outlier channel, a padding mask)
is quantized with SmoothQuant W8A8 and compiled for cortex-m4 (reference kernels and the DSP
variants), cortex-m55 (Helium) and cortex-a72, where every integer transformer kernel runs
under QEMU:
batch_matmul, the masked softmax on int16 scores, layer_norm, the GELU table and the int16
residual adds. The boards' outputs must equal the reference interpreter bit for bit, and the
quantized block must stay close to onnxruntime float.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import onnx
import pytest

from edgec.frontend import load_model
from edgec.metrics import cosine_similarities
from edgec.oracles import run_onnxruntime
from edgec.pipeline import generate
from edgec.quantize.config import parse_config
from edgec.quantize.recipe import quantize_with_config
from edgec.reference.interpreter import run_samples
from edgec.runner import run_project
from edgec.targets import load_target
from tests.transformer_block import block_inputs, transformer_block

SAMPLES = 3
CALIBRATION_SAMPLES = 32


@functools.cache
def _block(folder: Path):
    """Return (ONNX path, quantized graph) of the block, built and quantized once."""
    path = folder / "transformer_block.onnx"
    onnx.save(transformer_block(), path)
    config = parse_config({"methods": {"smoothquant_alpha": 0.5}}, source="test")
    calibration = block_inputs(CALIBRATION_SAMPLES, seed=2)
    graph, _ = quantize_with_config(load_model(path), calibration, config, quiet=True)
    return path, graph


@pytest.fixture(scope="module")
def block(tmp_path_factory):
    return _block(tmp_path_factory.mktemp("block"))


def test_quantized_block_close_to_onnxruntime_float(block):
    path, graph = block
    feeds = block_inputs(16)

    ours = run_samples(graph, feeds)["output"]
    reference = next(iter(run_onnxruntime(path, feeds).values()))

    cosines = cosine_similarities(ours.reshape(16 * 16, -1), reference.reshape(16 * 16, -1))
    real_tokens = cosines[feeds["attention_mask"].reshape(-1) != 0]
    # Measured: mean 0.997, lowest 0.980 (16 samples, 150 real tokens).
    assert real_tokens.mean() > 0.995, f"mean token cosine {real_tokens.mean():.4f}"
    assert real_tokens.min() > 0.97, f"lowest token cosine {real_tokens.min():.4f}"


def test_block_uses_the_transformer_kernels(block):
    _, graph = block
    dtypes = {(node.op, graph.tensors[node.outputs[0]].dtype) for node in graph.nodes}

    assert {("batch_matmul", "int16"), ("softmax", "int8"), ("gelu", "int8"),
            ("add", "int16"), ("layer_norm", "int8")} <= dtypes


@pytest.mark.qemu
@pytest.mark.cross
@pytest.mark.parametrize("target,kernels", [
    ("cortex-m4", "ref"), ("cortex-m4", "auto"), ("cortex-m55", "auto"), ("cortex-a72", "auto"),
])
def test_block_bit_exact_on_microcontroller(block, tmp_path, target, kernels):
    path, graph = block
    feeds = block_inputs(SAMPLES, seed=3)
    generate(graph, load_target(target), tmp_path / "project", "model", path, kernels=kernels)

    board = run_project(tmp_path / "project", feeds)
    reference = run_samples(graph, feeds)

    assert np.array_equal(board["output"].reshape(reference["output"].shape),
                          reference["output"])
