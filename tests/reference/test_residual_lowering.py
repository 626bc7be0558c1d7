"""Tests of the parameters, kernel calls and kernel choice of the int16 residual stream.

A fully_connected node with an int8 input and an int16 output calls
edgec_fully_connected_s8_s16 (or edgec_fully_connected_s8_s4_s16 for int4 weights), and an
add of int16 tensors calls edgec_add_s16. The parameters reject what these kernels cannot
compute. No optimized variant (DSP, Helium, CMSIS-NN) takes such a node, and report.json
names the predicate that failed. A generated project with two residual blocks runs on the
host (and the Cortex-M4 under QEMU) and equals the reference interpreter bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgec.codegen.boundary import split_boundary
from edgec.codegen.generator import check_dtypes
from edgec.errors import QuantizationError, UnsupportedAttributeError
from edgec.ir import Graph, Node, Quant, Tensor
from edgec.lower.calls import LoweringContext, lower_node
from edgec.lower.cmsis_nn import CMSIS_NN_VARIANTS
from edgec.lower.params import kernel_params
from edgec.lower.variants import rejection_reasons
from edgec.pipeline import generate
from edgec.reference.interpreter import run_samples
from edgec.runner import run_project
from edgec.targets import load_target

EMULATED = [pytest.mark.qemu, pytest.mark.cross]


def _quant(scale: float, zero_point: int = 0) -> Quant:
    return Quant(np.array([scale], dtype=np.float32), np.array([zero_point]))


def _add_filter(graph: Graph, name: str, shape, dtype: str = "int8",
                group_size: int = 0) -> list[str]:
    """Add an (O, I) filter and an int32 bias and return the two tensor names.

    The values come from a generator seeded by the filter's name and shape.
    """
    rng = np.random.default_rng([sum(map(ord, name)), *shape])
    output_depth, input_depth = shape
    limit = 7 if dtype == "int4" else 127
    values = rng.integers(-limit, limit + 1, size=shape).astype(np.int8)
    scales = np.full(output_depth, 0.01, dtype=np.float32)
    quant = Quant(scales, np.zeros(output_depth, dtype=np.int64), axis=0)
    if group_size:
        groups = -(-input_depth // group_size)
        multipliers = rng.integers(1, 256, size=(output_depth, groups)).astype(np.uint8)
        quant = Quant(scales, np.zeros(output_depth, dtype=np.int64), axis=0,
                      group_size=group_size, group_multipliers=multipliers)
    graph.add_tensor(Tensor(name, shape, dtype, values, quant))
    bias = rng.integers(-2000, 2000, size=output_depth).astype(np.int32)
    bias_quant = Quant(np.full(output_depth, 1e-4, dtype=np.float32),
                       np.zeros(output_depth, dtype=np.int64), axis=0)
    graph.add_tensor(Tensor(f"{name}_bias", (output_depth,), "int32", bias, bias_quant))
    return [name, f"{name}_bias"]


def fc_graph(output_dtype: str = "int16", output_zero_point: int = 0, filter_dtype: str = "int8",
             group_size: int = 0) -> tuple[Graph, Node]:
    """Build x (int8, (3, 20)) -> fully_connected -> y (3, 6) of ``output_dtype``."""
    graph = Graph()
    graph.add_tensor(Tensor("x", (3, 20), "int8", quant=_quant(0.05, 3)))
    weights = _add_filter(graph, "w", (6, 20), filter_dtype, group_size)
    graph.add_tensor(Tensor("y", (3, 6), output_dtype, quant=_quant(5e-4, output_zero_point)))
    node = Node("fully_connected", "output_dense", ["x", *weights], ["y"], {})
    graph.inputs, graph.outputs = ["x"], ["y"]
    graph.nodes.append(node)
    return graph, node


def add_graph(op: str = "add", dtypes=("int16", "int16", "int16"), shapes=((4, 8),) * 3,
              scales=(1e-3, 2e-3, 3e-3), zero_points=(0, 0, 0)) -> tuple[Graph, Node]:
    graph = Graph()
    for name, dtype, shape, scale, zero_point in zip(("a", "b", "y"), dtypes, shapes, scales,
                                                     zero_points, strict=True):
        graph.add_tensor(Tensor(name, shape, dtype, quant=_quant(scale, zero_point)))
    node = Node(op, "residual_add", ["a", "b"], ["y"], {})
    graph.inputs, graph.outputs = ["a", "b"], ["y"]
    graph.nodes.append(node)
    return graph, node


def _lower(graph: Graph, node: Node):
    buffers = {name: f"(arena + {64 * index})" for index, name in enumerate(graph.tensors)}
    ctx = LoweringContext(graph, "model", buffers)
    return lower_node(node, graph, ctx), ctx


# --- kernel calls --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_dtype", "group_size", "function"),
    [
        ("int8", 0, "edgec_fully_connected_s8_s16"),
        ("int4", 0, "edgec_fully_connected_s8_s4_s16"),
        ("int4", 8, "edgec_fully_connected_s8_s4_s16"),
    ],
)
def test_int16_output_fc_calls_s16_kernel(filter_dtype, group_size, function):
    graph, node = fc_graph(filter_dtype=filter_dtype, group_size=group_size)

    call, ctx = _lower(graph, node)

    assert call.function == function
    assert call.source == f"kernels/ref/{function.removeprefix('edgec_')}.c"
    assert call.args[-1] == "(int16_t *)(void *)(arena + 192)"
    bias = ctx.arrays[call.args[-2]]
    assert bias.ctype == "int32_t"
    assert bias.values.tolist() == graph.tensors["w_bias"].data.tolist()


def test_int16_output_fc_params_are_int8_layer_params():
    graph, node = fc_graph()
    int16_params = kernel_params(node, graph)
    graph.tensors["y"].dtype = "int8"
    int8_params = kernel_params(node, graph)

    assert int16_params.multipliers.tolist() == int8_params.multipliers.tolist()
    assert int16_params.shifts.tolist() == int8_params.shifts.tolist()
    assert int16_params["input_offset"] == -3
    assert (int16_params["activation_min"], int16_params["activation_max"]) == (-32768, 32767)


def test_int16_add_lowers_to_add_s16():
    graph, node = add_graph()

    call, _ = _lower(graph, node)

    assert call.function == "edgec_add_s16"
    assert call.args[1:] == ["32", "(const int16_t *)(const void *)(arena + 0)",
                             "(const int16_t *)(const void *)(arena + 64)",
                             "(int16_t *)(void *)(arena + 128)"]
    assert dict(call.structs[0].fields)["left_shift"] == "15"


def test_int8_add_keeps_left_shift_20():
    graph, node = add_graph(dtypes=("int8", "int8", "int8"), zero_points=(3, -2, 1))

    call, _ = _lower(graph, node)

    assert call.function == "edgec_add_s8"
    assert kernel_params(node, graph)["left_shift"] == 20


def test_check_dtypes_accepts_residual_block():
    graph = residual_block_graph()

    check_dtypes(graph, split_boundary(graph))


# --- rejected parameters -------------------------------------------------------------------


def test_int16_output_fc_rejects_output_zero_point():
    graph, node = fc_graph(output_zero_point=4)

    with pytest.raises(QuantizationError, match="zero point 4"):
        kernel_params(node, graph)


def test_int16_output_fc_rejects_int64_bias():
    graph, node = fc_graph()
    bias = graph.tensors["w_bias"]
    bias.dtype, bias.data = "int64", bias.data.astype(np.int64)

    with pytest.raises(UnsupportedAttributeError, match="int32 bias"):
        kernel_params(node, graph)


def test_conv_rejects_int8_to_int16():
    graph = Graph()
    graph.add_tensor(Tensor("x", (1, 4, 4, 3), "int8", quant=_quant(0.05)))
    weights = np.ones((2, 1, 1, 3), dtype=np.int8)
    graph.add_tensor(Tensor("w", weights.shape, "int8", weights,
                            Quant(np.full(2, 0.01, np.float32), np.zeros(2, np.int64), axis=0)))
    graph.add_tensor(Tensor("y", (1, 4, 4, 2), "int16", quant=_quant(1e-4)))
    node = Node("conv2d", "conv", ["x", "w", ""], ["y"], {})

    with pytest.raises(UnsupportedAttributeError, match="int16 on both sides"):
        kernel_params(node, graph)


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"zero_points": (0, 5, 0)}, QuantizationError, "zero point 5"),
        ({"dtypes": ("int16", "int8", "int16")}, UnsupportedAttributeError, "int16, int8, int16"),
        ({"dtypes": ("int16", "int16", "int8")}, UnsupportedAttributeError, "int16, int16, int8"),
        ({"op": "sub"}, UnsupportedAttributeError, "add with int16 inputs"),
        ({"shapes": ((4, 8), (1, 8), (4, 8))}, UnsupportedAttributeError, "broadcasting"),
        ({"scales": (1e-2, 1e-3, 1e-2 / 2**14)}, QuantizationError, "below max"),
    ],
    ids=["zero point", "int8 input2", "int8 output", "sub", "broadcast", "output scale"],
)
def test_int16_add_rejects_unsupported_node(changes, error, match):
    graph, node = add_graph(**changes)

    with pytest.raises(error, match=match):
        kernel_params(node, graph)


# --- variants ------------------------------------------------------------------------------


def test_variants_reject_int16_output_fc_with_int8_output():
    graph, node = fc_graph()

    assert rejection_reasons(node, graph, ["dsp", "mve"]) == [
        "fully_connected_s8_mve: int8_output",
        "fully_connected_s8_dsp: int8_output",
    ]


def test_variants_reject_int16_add_with_int8_output():
    graph, node = add_graph()

    assert rejection_reasons(node, graph, ["dsp", "mve"]) == [
        "add_s8_mve: int8_output",
        "add_s8_dsp: int8_output",
    ]


@pytest.mark.parametrize("graph_and_node", [fc_graph, add_graph], ids=["fc", "add"])
def test_cmsis_nn_rejects_int16_output_with_int8_output(graph_and_node):
    graph, node = graph_and_node()
    variants = [v for v in CMSIS_NN_VARIANTS if node.op in v.ops]

    assert variants
    for variant in variants:
        failed = next(p for p in variant.predicates if not p(node, graph))
        assert failed.name == "int8_output"


def test_int8_output_fc_still_takes_variants():
    graph, node = fc_graph(output_dtype="int8", output_zero_point=-5)

    assert rejection_reasons(node, graph, ["dsp", "mve"]) == []
    assert _lower(graph, node)[0].function == "edgec_fully_connected_s8"


# --- a generated project -------------------------------------------------------------------


def residual_block_graph() -> Graph:
    """Build two residual blocks with an int16 stream and int8 linear layers in between.

    x -> fc1 (int8) -> fc2 (int8 -> int16) -> add with x as int16 -> r1, then
    r1 as int8 -> fc3 (int4 per group, int8 -> int16) -> add with r1 (ReLU) -> y.
    """
    graph = Graph(name="residual_block")
    graph.add_tensor(Tensor("x", (4, 32), "int8", quant=_quant(0.05, -4)))
    graph.add_tensor(Tensor("h1", (4, 48), "int8", quant=_quant(0.08, 2)))
    graph.add_tensor(Tensor("h2", (4, 32), "int16", quant=_quant(3e-4)))
    graph.add_tensor(Tensor("x16", (4, 32), "int16", quant=_quant(2e-4)))
    graph.add_tensor(Tensor("r1", (4, 32), "int16", quant=_quant(5e-4)))
    graph.add_tensor(Tensor("r1_8", (4, 32), "int8", quant=_quant(0.13)))
    graph.add_tensor(Tensor("h3", (4, 32), "int16", quant=_quant(4e-4)))
    graph.add_tensor(Tensor("r2", (4, 32), "int16", quant=_quant(7e-4)))
    graph.add_tensor(Tensor("y", (4, 32), "int8", quant=_quant(0.1, -128)))
    fc1 = _add_filter(graph, "w1", (48, 32))
    fc2 = _add_filter(graph, "w2", (32, 48))
    fc3 = _add_filter(graph, "w3", (32, 32), "int4", group_size=8)
    graph.nodes = [
        Node("fully_connected", "fc1", ["x", *fc1], ["h1"], {}),
        Node("fully_connected", "fc2", ["h1", *fc2], ["h2"], {}),
        Node("quantize", "skip", ["x"], ["x16"], {}),
        Node("add", "residual1", ["h2", "x16"], ["r1"], {}),
        Node("quantize", "narrow", ["r1"], ["r1_8"], {}),
        Node("fully_connected", "fc3", ["r1_8", *fc3], ["h3"], {}),
        Node("add", "residual2", ["h3", "r1"], ["r2"], {"activation": (0.0, np.inf)}),
        Node("quantize", "output", ["r2"], ["y"], {}),
    ]
    graph.inputs, graph.outputs = ["x"], ["y"]
    graph.check()
    return graph


@pytest.fixture(scope="module")
def cortex_m4_report(tmp_path_factory):
    graph = residual_block_graph()
    project = tmp_path_factory.mktemp("residual") / "project"
    return generate(graph, load_target("cortex-m4"), project, "model", None), project


def test_report_names_int8_output_for_int16_layers(cortex_m4_report):
    report, _ = cortex_m4_report
    layers = {layer["name"]: layer for layer in report["layers"]}

    assert layers["fc1"]["kernel"] == "edgec_fully_connected_s8_dsp"
    assert layers["fc2"]["kernel"] == "edgec_fully_connected_s8_s16"
    assert layers["fc2"]["variant_rejected"] == ["fully_connected_s8_dsp: int8_output"]
    assert layers["fc3"]["kernel"] == "edgec_fully_connected_s8_s4_s16"
    for name in ("residual1", "residual2"):
        assert layers[name]["kernel"] == "edgec_add_s16"
        assert layers[name]["variant_rejected"] == ["add_s8_dsp: int8_output"]


@pytest.mark.parametrize("target", [pytest.param("host", id="host"),
                                    pytest.param("cortex-m4", id="cortex-m4", marks=EMULATED)])
def test_residual_blocks_bit_exact_with_interpreter(tmp_path, cortex_m4_report, target):
    graph = residual_block_graph()
    samples = np.random.default_rng(7101).integers(-128, 128, size=(6, 4, 32)).astype(np.int8)
    project = cortex_m4_report[1]
    if target == "host":
        project = tmp_path / "project"
        generate(graph, load_target("host"), project, "model", None)

    board = run_project(project, {"x": samples})
    reference = run_samples(graph, {"x": samples})

    np.testing.assert_array_equal(board["y"].reshape(reference["y"].shape), reference["y"])
    assert len(np.unique(reference["y"])) > 50
