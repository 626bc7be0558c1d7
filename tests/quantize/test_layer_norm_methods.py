"""SmoothQuant and AWQ on the linear layers that read a LayerNorm (a transformer block).

Both methods must leave the float function unchanged, fold their factors into a LayerNorm
(a copy of it where the residual add also reads its output), and change the weights of the
layers that read it.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from edgec.frontend import load_model
from edgec.quantize.config import LayerSettings
from edgec.quantize.methods import apply_awq, smooth_activations
from edgec.reference.interpreter import run_samples
from tests.transformer_block import block_inputs, transformer_block

INT4_G32 = LayerSettings(weight_bits=4, weight_granularity="per-group", group_size=32)


@pytest.fixture(scope="module")
def block(tmp_path_factory):
    path = tmp_path_factory.mktemp("block") / "block.onnx"
    onnx.save(transformer_block(), path)
    return load_model(path)


def _smoothed_norms(graph) -> list:
    return [node for node in graph.nodes
            if node.op == "layer_norm" and node.name.endswith("/smoothed")]


def _assert_same_function(before, after) -> None:
    feeds = block_inputs(4, seed=5)
    expected = run_samples(before, feeds)["output"]
    np.testing.assert_allclose(run_samples(after, feeds)["output"], expected, atol=2e-4)


def test_smoothquant_folds_into_norm_copy(block):
    smoothed, lines = smooth_activations(block, block_inputs(8, seed=2), alpha=0.5)

    copies = _smoothed_norms(smoothed)
    assert len(copies) == 1  # the attention LayerNorm feeds the MLP and the residual add
    readers = {node.op for node in smoothed.consumers(copies[0].outputs[0])}
    assert readers == {"fully_connected"}
    assert any("a copy of the LayerNorm" in line for line in lines)
    _assert_same_function(block, smoothed)


def test_awq_scales_norm_group(block):
    scaled, lines = apply_awq(block, block_inputs(8, seed=2), lambda node: INT4_G32)

    norms = [node.name for node in block.nodes if node.op == "layer_norm"]
    group_lines = [line for line in lines if line.startswith(f"scaled '{norms[0]}' -> ")]
    assert len(group_lines) == 1
    assert "a copy of the LayerNorm" in group_lines[0]
    assert len(_smoothed_norms(scaled)) == 1
    _assert_same_function(block, scaled)
