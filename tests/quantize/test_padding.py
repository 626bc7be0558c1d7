"""Calibration statistics without the rows of padding tokens (edgec.quantize.padding)."""

from __future__ import annotations

import numpy as np

from edgec.ir import Graph, Node, Tensor
from edgec.quantize.calibration import collect_ranges
from edgec.quantize.padding import real_token_rows, token_mask_name


def _pooling_graph() -> Graph:
    """hidden (1, 4, 3) float and mask (1, 4) int32 -> masked_mean (1, 3)."""
    graph = Graph(inputs=["hidden", "mask"], outputs=["pooled"])
    graph.add_tensor(Tensor("hidden", (1, 4, 3), "float32"))
    graph.add_tensor(Tensor("mask", (1, 4), "int32"))
    graph.add_tensor(Tensor("pooled", (1, 3), "float32"))
    graph.nodes.append(Node("masked_mean", "pool", ["hidden", "mask"], ["pooled"]))
    return graph


def test_mask_name_found_from_its_reader():
    assert token_mask_name(_pooling_graph()) == "mask"


def test_rows_of_padding_tokens_dropped():
    values = {"mask": np.array([[1, 0, 1, 0]], dtype=np.int32)}
    array = np.arange(12, dtype=np.float32).reshape(1, 4, 3)

    rows = real_token_rows(array, values, "mask")

    assert rows.shape == (1, 2, 3)
    assert np.array_equal(rows[0], array[0, [0, 2]])


def test_other_shapes_pass_unchanged():
    values = {"mask": np.zeros((1, 4), dtype=np.int32)}
    tokens = np.ones((1, 4, 3), dtype=np.float32)
    scores = np.ones((1, 2, 4, 4), dtype=np.float32)

    assert real_token_rows(tokens, values, "mask") is tokens
    assert real_token_rows(scores, {"mask": np.ones((1, 4))}, "mask") is scores
    assert real_token_rows(tokens, values, None) is tokens


def test_calibration_range_ignores_padding_rows():
    graph = _pooling_graph()
    hidden = np.full((2, 1, 4, 3), 0.5, dtype=np.float32)
    hidden[:, :, 3, :] = 100.0  # the padding token of both samples
    feeds = {"hidden": hidden, "mask": np.array([[[1, 1, 1, 0]], [[1, 1, 1, 0]]])}

    ranges = collect_ranges(graph, feeds, quiet=True)

    assert ranges["hidden"][1] == 0.5
    assert ranges["pooled"][1] == 0.5
