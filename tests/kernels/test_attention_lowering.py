"""Tests of the parameters and kernel calls of the attention ops.

They check which C kernel a softmax or gelu node calls and with which arguments, and the
inputs that their parameters reject. The last test runs a small generated project with
these kernels on the host.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgec.errors import QuantizationError, UnsupportedAttributeError
from edgec.ir import Graph, Node, Quant, Tensor
from edgec.lower.calls import LoweringContext, lower_node
from edgec.lower.params import kernel_params
from edgec.lower.params_attention import MAX_MASKED_SOFTMAX_DEPTH, gelu_table
from edgec.pipeline import generate
from edgec.reference.interpreter import run_samples
from edgec.runner import run_project
from edgec.targets import load_target

OUTPUT_QUANT = Quant(np.array([1 / 256], dtype=np.float32), np.array([-128]))


def _quant(scale: float, zero_point: int = 0) -> Quant:
    return Quant(np.array([scale], dtype=np.float32), np.array([zero_point]))


def softmax_graph(dtype: str = "int16", depth: int = 8, mask_dtype: str | None = "int32",
                  mask_shape=None, input_quant: Quant | None = None,
                  beta: float = 1.0) -> tuple[Graph, Node]:
    graph = Graph()
    graph.add_tensor(Tensor("x", (3, depth), dtype, quant=input_quant or _quant(1e-3)))
    inputs = ["x"]
    if mask_dtype is not None:
        graph.add_tensor(Tensor("mask", mask_shape or (1, depth), mask_dtype))
        inputs.append("mask")
    graph.add_tensor(Tensor("y", (3, depth), "int8", quant=OUTPUT_QUANT))
    node = Node("softmax", "attention_probs", inputs, ["y"], {"beta": beta})
    graph.nodes.append(node)
    return graph, node


def gelu_graph(input_dtype: str = "int8", input_quant: Quant | None = None) -> tuple[Graph, Node]:
    graph = Graph()
    graph.add_tensor(Tensor("x", (2, 5), input_dtype, quant=input_quant or _quant(0.05, -3)))
    graph.add_tensor(Tensor("y", (2, 5), "int8", quant=_quant(0.03, -100)))
    node = Node("gelu", "intermediate_act", ["x"], ["y"], {})
    graph.nodes.append(node)
    return graph, node


def _lower(graph: Graph, node: Node):
    buffers = {name: f"(arena + {64 * index})" for index, name in enumerate(graph.tensors)}
    ctx = LoweringContext(graph, "model", buffers)
    return lower_node(node, graph, ctx), ctx


@pytest.mark.parametrize(
    ("dtype", "mask_dtype", "function"),
    [
        ("int16", "int32", "edgec_softmax_s16_s8"),
        ("int16", None, "edgec_softmax_s16_s8"),
        ("int8", "int32", "edgec_softmax_masked_s8"),
        ("int8", None, "edgec_softmax_s8"),
    ],
)
def test_softmax_lowers_to_kernel_by_dtype_and_mask(dtype, mask_dtype, function):
    graph, node = softmax_graph(dtype, mask_dtype=mask_dtype)

    call, _ = _lower(graph, node)

    assert call.function == function
    assert call.source == f"kernels/ref/{function.removeprefix('edgec_')}.c"
    assert call.args[1:3] == ["3", "8"]


def test_masked_softmax_call_passes_typed_pointers():
    graph, node = softmax_graph("int16")

    call, _ = _lower(graph, node)

    assert call.args[3].startswith("(const int16_t *)")
    assert call.args[4].startswith("(const int32_t *)")
    assert call.args[5] == "(arena + 128)"


def test_softmax_without_mask_passes_null():
    graph, node = softmax_graph("int16", mask_dtype=None)

    call, _ = _lower(graph, node)

    assert call.args[4] == "NULL"


def test_softmax_accepts_vector_mask():
    graph, node = softmax_graph("int8", mask_shape=(8,))

    assert kernel_params(node, graph)["input_left_shift"] >= 0


def test_softmax_rejects_int16_zero_point():
    graph, node = softmax_graph("int16", input_quant=_quant(1e-3, 5))

    with pytest.raises(QuantizationError, match="zero point 5"):
        kernel_params(node, graph)


def test_softmax_rejects_per_channel_input():
    quant = Quant(np.full(8, 1e-3, dtype=np.float32), np.zeros(8, dtype=np.int64), axis=1)
    graph, node = softmax_graph("int16", input_quant=quant)

    with pytest.raises(QuantizationError, match="8 scales"):
        kernel_params(node, graph)


def test_softmax_rejects_int16_scale_below_shift_range():
    graph, node = softmax_graph("int16", input_quant=_quant(5e-9))

    with pytest.raises(QuantizationError, match="too small"):
        kernel_params(node, graph)


@pytest.mark.parametrize(("mask_dtype", "mask_shape"), [
    ("int8", (1, 8)), ("int32", (2, 8)), ("int32", (1, 7)), ("int32", (8, 1)),
])
def test_softmax_rejects_mask_type_or_shape(mask_dtype, mask_shape):
    graph, node = softmax_graph("int16", mask_dtype=mask_dtype, mask_shape=mask_shape)

    with pytest.raises(UnsupportedAttributeError, match="mask 'mask'"):
        kernel_params(node, graph)


def test_softmax_rejects_depth_above_sum_limit():
    graph, node = softmax_graph("int8", depth=MAX_MASKED_SOFTMAX_DEPTH + 1)

    with pytest.raises(UnsupportedAttributeError, match=str(MAX_MASKED_SOFTMAX_DEPTH)):
        kernel_params(node, graph)


def test_unmasked_int8_softmax_keeps_unlimited_depth():
    graph, node = softmax_graph("int8", depth=MAX_MASKED_SOFTMAX_DEPTH + 1, mask_dtype=None)

    call, _ = _lower(graph, node)

    assert call.function == "edgec_softmax_s8"


@pytest.mark.parametrize("beta", [-1.0, float("nan"), float("inf")])
def test_softmax_rejects_invalid_beta(beta):
    graph, node = softmax_graph("int16", beta=beta)

    with pytest.raises(UnsupportedAttributeError, match="beta"):
        kernel_params(node, graph)


def test_softmax_rejects_float_input():
    graph, node = softmax_graph("float32", input_quant=None)
    graph.tensors["x"].quant = None

    with pytest.raises(UnsupportedAttributeError, match="float32"):
        kernel_params(node, graph)


def test_gelu_lowers_to_table_kernel():
    graph, node = gelu_graph()

    call, ctx = _lower(graph, node)

    assert call.function == "edgec_gelu_s8"
    table = ctx.arrays[call.args[0]]
    assert table.ctype == "int8_t"
    np.testing.assert_array_equal(table.values, gelu_table(0.05, -3, 0.03, -100))
    assert call.args[1] == "10"


def test_gelu_table_entry_is_output_of_input():
    table = gelu_table(0.05, -3, 0.03, -100)

    # Input -3 is real 0, and gelu(0) = 0 is the output zero point.
    assert table[-3 + 128] == -100
    # Input 127 is real 6.5, and gelu(6.5) = 6.5 to 1e-9 is 216.67 steps above the zero point.
    assert table[255] == 117
    # Input -128 is real -6.25, and gelu(-6.25) = -6.25 * Phi(-6.25) is about -1e-9, so 0 steps.
    assert table[0] == -100
    # Input -38 is real -1.75, and gelu(-1.75) = -0.0702 is -2.34 steps.
    assert table[-38 + 128] == -102


def test_int16_gelu_lowers_to_polynomial_kernel():
    graph, node = gelu_graph("int16", input_quant=_quant(6e-4))

    call, ctx = _lower(graph, node)

    assert call.function == "edgec_gelu_s16_s8"
    (struct,) = call.structs
    assert struct.ctype == "edgec_gelu_s16_params"
    assert dict(struct.fields)["input_right_shift"] == "13"
    assert call.args[2].startswith("(const int16_t *)")
    assert not ctx.arrays


def test_int16_gelu_rejects_zero_point():
    graph, node = gelu_graph("int16", input_quant=_quant(6e-4, 2))

    with pytest.raises(QuantizationError, match="zero point 2"):
        kernel_params(node, graph)


def test_int16_gelu_rejects_input_scale_above_range():
    graph, node = gelu_graph("int16", input_quant=_quant(3.0))

    with pytest.raises(QuantizationError, match="outside"):
        kernel_params(node, graph)


def test_int16_gelu_rejects_scale_ratio_from_2_16():
    graph, node = gelu_graph("int16", input_quant=_quant(1.0))
    graph.tensors["y"].quant = _quant(1e-5)

    with pytest.raises(QuantizationError, match="2\\*\\*16"):
        kernel_params(node, graph)


def test_gelu_rejects_int16_output():
    graph, node = gelu_graph()
    graph.tensors["y"].dtype = "int16"

    with pytest.raises(UnsupportedAttributeError, match="int16"):
        kernel_params(node, graph)


def test_gelu_rejects_zero_output_scale():
    graph, node = gelu_graph()
    graph.tensors["y"].quant = _quant(0.0)

    with pytest.raises(QuantizationError, match="scale 0.0"):
        kernel_params(node, graph)


def test_gelu_rejects_per_channel_input():
    quant = Quant(np.full(5, 0.05, dtype=np.float32), np.zeros(5, dtype=np.int64), axis=1)
    graph, node = gelu_graph(input_quant=quant)

    with pytest.raises(QuantizationError, match="5 scales"):
        kernel_params(node, graph)


def test_attention_graph_runs_bit_exact_on_host(tmp_path):
    """Compile an int16 masked softmax, a gelu on its output and a masked int8 softmax into
    a project, run it on the host and compare with the reference interpreter."""
    depth = 12
    graph = Graph()
    graph.add_tensor(Tensor("x", (1, 3, depth), "int8", quant=_quant(0.1, 3)))
    graph.add_tensor(Tensor("x16", (1, 3, depth), "int16", quant=_quant(2e-3)))
    mask = (np.arange(depth) % 4 != 1).astype(np.int32).reshape(1, depth)
    graph.add_tensor(Tensor("mask", (1, depth), "int32", mask))
    for name in ("probs16", "probs8"):
        graph.add_tensor(Tensor(name, (1, 3, depth), "int8", quant=OUTPUT_QUANT))
    graph.add_tensor(Tensor("y", (1, 3, depth), "int8", quant=_quant(0.01, -100)))
    graph.inputs, graph.outputs = ["x"], ["y", "probs8"]
    graph.nodes = [
        Node("quantize", "to_int16", ["x"], ["x16"], {}),
        Node("softmax", "softmax_s16", ["x16", "mask"], ["probs16"], {"beta": 1.0}),
        Node("gelu", "gelu", ["probs16"], ["y"], {}),
        Node("softmax", "softmax_s8", ["x", "mask"], ["probs8"], {"beta": 0.5}),
    ]
    graph.check()
    samples = np.random.default_rng(0).integers(-128, 128, size=(5, 1, 3, depth))

    report = generate(graph, load_target("host"), tmp_path / "project", "model", None)
    host_outputs = run_project(tmp_path / "project", {"x": samples.astype(np.int8)})
    reference = run_samples(graph, {"x": samples.astype(np.int8)})

    kernels = [layer["kernel"] for layer in report["layers"]]
    assert kernels[1:] == ["edgec_softmax_s16_s8", "edgec_gelu_s8", "edgec_softmax_masked_s8"]
    for output in graph.outputs:
        np.testing.assert_array_equal(host_outputs[output].reshape(reference[output].shape),
                                      reference[output])
