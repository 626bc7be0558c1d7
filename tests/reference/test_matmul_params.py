"""Tests of the parameters, reference kernels and lowering of batch_matmul, gather and
masked_mean on small hand-built graphs.

They cover what ``edgec.lower.params_matmul`` accepts and rejects (one test per error) and
the values it derives. They also cover the gather index errors of
``edgec.reference.int_matmul`` and the C calls of ``edgec.lower.calls_matmul``.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgec.errors import CalibrationError, QuantizationError, UnsupportedAttributeError
from edgec.ir import Graph, Node, Quant, Tensor
from edgec.lower.calls import LoweringContext, lower_node
from edgec.lower.params import kernel_params
from edgec.lower.params_matmul import MAX_MATMUL_DEPTH, MAX_MEAN_ROWS
from edgec.reference.interpreter import run


def per_tensor(scale: float, zero_point: int = 0) -> Quant:
    return Quant(np.array([scale], np.float32), np.array([zero_point]))


def graph_of(op: str, inputs: list[Tensor], output: Tensor, attrs=None) -> Graph:
    graph = Graph()
    for tensor in inputs + [output]:
        graph.add_tensor(tensor)
    graph.inputs = [t.name for t in inputs if not t.is_constant]
    graph.outputs = [output.name]
    graph.nodes.append(Node(op, "node_under_test", [t.name for t in inputs], [output.name],
                            attrs or {}))
    return graph


def matmul_graph(shape1=(1, 12, 32, 32), shape2=(1, 12, 32, 32), out_shape=None,
                 quant1=(0.05, 0), quant2=(0.05, 0), out_quant=(0.5, 0), out_dtype="int8",
                 alpha=1.0, in_dtype="int8") -> Graph:
    if out_shape is None:
        out_shape = tuple(shape1[:-1]) + (shape2[-1],)
    return graph_of(
        "batch_matmul",
        [Tensor("a", shape1, in_dtype, quant=per_tensor(*quant1)),
         Tensor("b", shape2, "int8", quant=per_tensor(*quant2))],
        Tensor("y", out_shape, out_dtype, quant=per_tensor(*out_quant)),
        {"alpha": alpha})


def params_of(graph: Graph):
    return kernel_params(graph.nodes[0], graph)


# --- batch_matmul --------------------------------------------------------------------------


def test_batch_matmul_params_values():
    graph = matmul_graph(quant1=(0.1, -5), quant2=(0.2, 7), out_quant=(0.4, 3), alpha=0.5)

    params = params_of(graph)

    assert params["input1_offset"] == 5
    assert params["input2_offset"] == -7
    assert params["output_offset"] == 3
    real = params["output_multiplier"] * 2.0 ** (params["output_shift"] - 31)
    assert real == pytest.approx(0.5 * 0.1 * 0.2 / 0.4, rel=1e-6)
    assert (params["activation_min"], params["activation_max"]) == (-128, 127)


def test_batch_matmul_int16_output_range():
    params = params_of(matmul_graph(out_dtype="int16", out_quant=(0.001, 0)))

    assert (params["activation_min"], params["activation_max"]) == (-32768, 32767)


def test_batch_matmul_accepts_largest_depth():
    graph = matmul_graph((1, MAX_MATMUL_DEPTH), (MAX_MATMUL_DEPTH, 2), out_quant=(100.0, 0))

    assert params_of(graph)["output_multiplier"] > 0


def test_batch_matmul_rejects_depth_above_limit():
    depth = MAX_MATMUL_DEPTH + 1
    graph = matmul_graph((1, depth), (depth, 2), out_quant=(100.0, 0))

    with pytest.raises(UnsupportedAttributeError, match="node_under_test.*depth 33026"):
        params_of(graph)


def test_batch_matmul_accepts_left_shift_16():
    # Sums reach 128 * 128 = 2**14, and a real multiplier of 1.3 * 2**15 has shift 16.
    graph = matmul_graph((4, 1), (1, 4), out_quant=(float(np.float32(1 / (1.3 * 2**15))), 0),
                         quant1=(1.0, 0), quant2=(1.0, 0))

    assert params_of(graph)["output_shift"] == 16


def test_batch_matmul_rejects_wrapping_left_shift():
    graph = matmul_graph((4, 1), (1, 4), out_quant=(float(np.float32(1 / (1.3 * 2**16))), 0),
                         quant1=(1.0, 0), quant2=(1.0, 0))

    with pytest.raises(QuantizationError, match="node_under_test.*left shift of 17"):
        params_of(graph)


def test_batch_matmul_flushes_tiny_multiplier_to_zero():
    graph = matmul_graph(quant1=(2**-12, 0), quant2=(2**-12, 0), out_quant=(2.0**9, 0))

    assert params_of(graph)["output_multiplier"] == 0


def test_batch_matmul_rejects_int16_output_zero_point():
    graph = matmul_graph(out_dtype="int16", out_quant=(0.01, 3))

    with pytest.raises(QuantizationError, match="node_under_test.*zero point 3"):
        params_of(graph)


def test_batch_matmul_rejects_broadcast_batch():
    graph = matmul_graph((1, 12, 8, 4), (1, 1, 4, 8), out_shape=(1, 12, 8, 8))

    with pytest.raises(UnsupportedAttributeError, match="does not broadcast"):
        params_of(graph)


def test_batch_matmul_rejects_depth_mismatch():
    graph = matmul_graph((2, 8, 4), (2, 5, 8), out_shape=(2, 8, 8))

    with pytest.raises(UnsupportedAttributeError, match="different depths"):
        params_of(graph)


def test_batch_matmul_rejects_wrong_output_shape():
    graph = matmul_graph((2, 8, 4), (2, 4, 8), out_shape=(2, 8, 9))

    with pytest.raises(UnsupportedAttributeError, match=r"expected \(2, 8, 8\)"):
        params_of(graph)


@pytest.mark.parametrize("alpha", [0.0, -0.5, float("nan"), float("inf")])
def test_batch_matmul_rejects_alpha(alpha):
    with pytest.raises(UnsupportedAttributeError, match="alpha"):
        params_of(matmul_graph(alpha=alpha))


def test_batch_matmul_rejects_int16_input():
    with pytest.raises(UnsupportedAttributeError, match="'a' is int16"):
        params_of(matmul_graph(in_dtype="int16"))


def test_batch_matmul_rejects_per_channel_input():
    graph = matmul_graph((2, 3), (3, 4))
    graph.tensors["b"].quant = Quant(np.full(4, 0.1, np.float32), np.zeros(4), axis=1)

    with pytest.raises(QuantizationError, match="per-tensor"):
        params_of(graph)


def test_batch_matmul_rejects_zero_point_outside_int8():
    with pytest.raises(QuantizationError, match="zero point 200"):
        params_of(matmul_graph(quant1=(0.1, 200)))


def test_batch_matmul_lowers_int16_output():
    graph = matmul_graph(out_dtype="int16", out_quant=(0.001, 0))
    ctx = LoweringContext(graph, "model", {"a": "(arena + 0)", "b": "(arena + 16384)",
                                           "y": "(arena + 32768)"})

    call = lower_node(graph.nodes[0], graph, ctx)

    assert call.function == "edgec_batch_matmul_s8_s16"
    assert call.source == "kernels/ref/batch_matmul_s8_s16.c"
    assert call.macs == 12 * 32 * 32 * 32
    assert call.args[1:5] == ["12", "32", "32", "32"]
    assert call.args[-1] == "(int16_t *)(void *)(arena + 32768)"


# --- gather --------------------------------------------------------------------------------


def gather_graph(table_shape=(10, 4), indices_shape=(1, 3), out_quant=(0.1, 2),
                 indices_dtype="int32", table_constant=True) -> Graph:
    table_data = np.arange(np.prod(table_shape)).reshape(table_shape) % 100
    table = Tensor("table", table_shape, "int8", table_data if table_constant else None,
                   per_tensor(0.1, 2))
    return graph_of(
        "gather",
        [table, Tensor("ids", indices_shape, indices_dtype)],
        Tensor("y", tuple(indices_shape) + tuple(table_shape[1:]), "int8",
               quant=per_tensor(*out_quant)))


def test_gather_reference_takes_negative_indices():
    graph = gather_graph()
    ids = np.array([[0, -1, 9]], np.int32)

    out = run(graph, {"ids": ids})["y"]

    table = graph.tensors["table"].data
    assert np.array_equal(out[0], table[[0, 9, 9]])


@pytest.mark.parametrize("index", [10, -11, 2**31 - 1])
def test_gather_reference_rejects_index_outside_table(index):
    graph = gather_graph()
    ids = np.array([[1, index, 2]], np.int32)

    with pytest.raises(CalibrationError, match=f"node_under_test.*index {index} at position 1"):
        run(graph, {"ids": ids})


def test_gather_rejects_output_quantization_change():
    with pytest.raises(QuantizationError, match="node_under_test.*table's scale"):
        params_of(gather_graph(out_quant=(0.2, 2)))


def test_gather_rejects_activation_table():
    with pytest.raises(UnsupportedAttributeError, match="2-D int8 constant"):
        params_of(gather_graph(table_constant=False))


def test_gather_rejects_int64_indices():
    with pytest.raises(UnsupportedAttributeError, match="int64, expected int32"):
        params_of(gather_graph(indices_dtype="int64"))


def test_gather_lowers_model_input_indices_as_int32():
    graph = gather_graph(indices_shape=(1, 32))
    ctx = LoweringContext(graph, "model", {"ids": "(in + 0)", "y": "(arena + 0)"})

    call = lower_node(graph.nodes[0], graph, ctx)

    assert call.function == "edgec_gather_s8"
    assert call.args[:2] == ["10", "4"]
    assert call.args[3] == "32"
    assert call.args[4] == "(const int32_t *)(const void *)(in + 0)"


# --- masked_mean ---------------------------------------------------------------------------


def masked_mean_graph(input_shape=(1, 32, 384), mask_shape=(1, 32), out_shape=(1, 384),
                      in_quant=(0.05, 0), out_quant=(0.05, 0), mask_dtype="int32") -> Graph:
    return graph_of(
        "masked_mean",
        [Tensor("x", input_shape, "int8", quant=per_tensor(*in_quant)),
         Tensor("mask", mask_shape, mask_dtype)],
        Tensor("y", out_shape, "int8", quant=per_tensor(*out_quant)))


def test_masked_mean_params_values():
    params = params_of(masked_mean_graph(in_quant=(0.1, -7), out_quant=(0.3, 4)))

    assert params["input_offset"] == 7
    assert params["output_offset"] == 4
    real = params["output_multiplier"] * 2.0 ** (params["output_shift"] - 31)
    assert real == pytest.approx(0.1 / 0.3, rel=1e-6)


def test_masked_mean_rejects_rows_above_limit():
    rows = MAX_MEAN_ROWS + 1
    graph = masked_mean_graph((1, rows, 1), (1, rows), (1, 1))

    with pytest.raises(UnsupportedAttributeError, match="node_under_test.*8421505 rows"):
        params_of(graph)


def test_masked_mean_rejects_wrapping_left_shift():
    # 2000 rows of up to 128 make sums up to 256000 < 2**18, so a shift of 14 reaches 2**32.
    graph = masked_mean_graph((1, 2000, 2), (1, 2000), (1, 2), in_quant=(1.0, 0),
                              out_quant=(float(np.float32(1 / (1.5 * 2**13))), 0))

    with pytest.raises(QuantizationError, match="left shift of 14"):
        params_of(graph)


def test_masked_mean_rejects_mask_shape():
    with pytest.raises(UnsupportedAttributeError, match=r"expected int32 \(1, 32\)"):
        params_of(masked_mean_graph(mask_shape=(32,)))


def test_masked_mean_rejects_int8_mask():
    with pytest.raises(UnsupportedAttributeError, match="mask 'mask' is int8"):
        params_of(masked_mean_graph(mask_dtype="int8"))


def test_masked_mean_rejects_output_shape():
    with pytest.raises(UnsupportedAttributeError, match=r"expected \(1, 384\)"):
        params_of(masked_mean_graph(out_shape=(1, 1, 384)))


def test_masked_mean_lowers_with_int32_mask():
    graph = masked_mean_graph()
    ctx = LoweringContext(graph, "model", {"x": "(arena + 0)", "mask": "(in + 64)",
                                           "y": "(arena + 12288)"})

    call = lower_node(graph.nodes[0], graph, ctx)

    assert call.function == "edgec_masked_mean_s8"
    assert call.args[1:4] == ["1", "32", "384"]
    assert call.args[5] == "(const int32_t *)(const void *)(in + 64)"
