"""Graph passes: each pass on small hand-built IR graphs (input IR against expected IR, and
unchanged outputs), and the whole pipeline on the real float models."""

from __future__ import annotations

import math
import os
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest

from edgec.frontend import load_model
from edgec.frontend.onnx import load_onnx
from edgec.ir import Graph, Node, Quant, Tensor
from edgec.passes import PIPELINE, Pass, run_passes
from edgec.passes.constant_folding import fold_constants
from edgec.passes.dead_nodes import remove_dead_nodes
from edgec.passes.fold_batchnorm import fold_batchnorm
from edgec.passes.fuse_activation import fuse_activations
from edgec.passes.layout import clean_layout
from edgec.reference.interpreter import run, run_samples
from tests.transformer_block import transformer_block

MODELS = Path(os.environ.get("EDGEC_MODELS", "/work/shared/models"))
RNG = np.random.default_rng(3)
RELU = (0.0, math.inf)


def random(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def activation(name: str, *shape: int) -> Tensor:
    return Tensor(name, shape, "float32")


def constant(name: str, data: np.ndarray) -> Tensor:
    return Tensor(name, data.shape, "float32", data)


def make_graph(tensors: list[Tensor], nodes: list[Node], inputs: list[str],
               outputs: list[str]) -> Graph:
    graph = Graph(inputs=inputs, outputs=outputs)
    for tensor in tensors:
        graph.add_tensor(tensor)
    graph.nodes = nodes
    graph.check()
    return graph


def ops(graph: Graph) -> list[str]:
    return [node.op for node in graph.nodes]


def outputs_of(graph: Graph, feeds: dict) -> dict:
    return {name: value.copy() for name, value in run(graph, feeds).items()}


def conv_graph(readers: list[Node], extra: list[Tensor], outputs: list[str],
               bias: bool = True) -> Graph:
    """x (1,5,5,2) -> conv2d 'conv' -> 'c' (1,5,5,3), followed by ``readers``."""
    tensors = [
        activation("x", 1, 5, 5, 2), activation("c", 1, 5, 5, 3),
        constant("w", random(3, 3, 3, 2)),
    ]
    if bias:
        tensors.append(constant("b", random(3)))
    conv = Node("conv2d", "conv", ["x", "w", "b" if bias else ""], ["c"],
                {"strides": (1, 1), "dilations": (1, 1), "pads": (1, 1, 1, 1), "activation": None})
    return make_graph(tensors + extra, [conv] + readers, ["x"], outputs)


# Constant folding ----------------------------------------------------------------------------


def test_fold_constants_evaluates_constant_chain():
    data = random(2, 3)
    graph = make_graph(
        [activation("x", 3, 2), constant("k", data), constant("one", np.ones(1, np.float32)),
         activation("kt", 3, 2), activation("kt1", 3, 2), activation("y", 3, 2)],
        [Node("transpose", "t", ["k"], ["kt"], {"perm": (1, 0)}),
         Node("add", "a", ["kt", "one"], ["kt1"], {"activation": None}),
         Node("mul", "m", ["x", "kt1"], ["y"], {"activation": None})],
        ["x"], ["y"],
    )
    fold_constants(graph)
    assert ops(graph) == ["mul"]
    np.testing.assert_allclose(graph.tensors["kt1"].data, data.T + 1.0)


def test_fold_constants_leaves_quantized_nodes():
    quant = Quant(np.array([0.1]), np.array([0]))
    graph = make_graph(
        [Tensor("k", (2,), "int8", np.array([1, 2]), quant), Tensor("y", (2,), "int8", quant=quant)],
        [Node("reshape", "r", ["k"], ["y"])], [], ["y"],
    )
    fold_constants(graph)
    assert ops(graph) == ["reshape"]


# Layout clean-up -----------------------------------------------------------------------------


def test_transpose_pair_cancels():
    graph = make_graph(
        [activation("x", 1, 3, 4, 5), activation("t", 1, 4, 5, 3), activation("u", 1, 3, 4, 5),
         activation("y", 1, 3, 4, 5)],
        [Node("transpose", "to_nhwc", ["x"], ["t"], {"perm": (0, 2, 3, 1)}),
         Node("transpose", "to_nchw", ["t"], ["u"], {"perm": (0, 3, 1, 2)}),
         Node("clip", "relu", ["u"], ["y"], {"activation": RELU})],
        ["x"], ["y"],
    )
    clean_layout(graph)
    remove_dead_nodes(graph)
    assert ops(graph) == ["clip"]
    assert graph.nodes[0].inputs == ["x"]


def test_transpose_of_size1_dims_becomes_reshape():
    graph = make_graph(
        [activation("x", 1, 1, 1, 8), activation("t", 1, 8, 1, 1), activation("y", 1, 8)],
        [Node("transpose", "to_nchw", ["x"], ["t"], {"perm": (0, 3, 1, 2)}),
         Node("reshape", "flatten", ["t"], ["y"])],
        ["x"], ["y"],
    )
    clean_layout(graph)
    remove_dead_nodes(graph)
    assert ops(graph) == ["reshape"]
    assert graph.nodes[0].inputs == ["x"]
    assert graph.nodes[0].outputs == ["y"]


def test_transpose_of_real_dims_stays():
    graph = make_graph(
        [activation("x", 1, 2, 3, 4), activation("y", 1, 4, 2, 3)],
        [Node("transpose", "t", ["x"], ["y"], {"perm": (0, 3, 1, 2)})],
        ["x"], ["y"],
    )
    clean_layout(graph)
    assert ops(graph) == ["transpose"]


def test_identity_reshape_before_output_renames_producer():
    graph = make_graph(
        [activation("x", 2, 3), activation("r", 2, 3), activation("y", 2, 3)],
        [Node("clip", "relu", ["x"], ["r"], {"activation": RELU}),
         Node("reshape", "copy", ["r"], ["y"])],
        ["x"], ["y"],
    )
    clean_layout(graph)
    assert ops(graph) == ["clip"]
    assert graph.nodes[0].outputs == ["y"]
    assert "r" not in graph.tensors


def test_identity_reshape_of_graph_input_to_output_stays():
    graph = make_graph([activation("x", 2, 3), activation("y", 2, 3)],
                       [Node("reshape", "copy", ["x"], ["y"])], ["x"], ["y"])
    clean_layout(graph)
    assert ops(graph) == ["reshape"]


# BatchNorm folding ---------------------------------------------------------------------------


def test_fold_batchnorm_merges_mul_and_add_into_conv():
    extra = [constant("scale", random(3)), constant("shift", random(3)),
             activation("m", 1, 5, 5, 3), activation("y", 1, 5, 5, 3)]
    readers = [Node("mul", "bn/mul", ["c", "scale"], ["m"], {"activation": None}),
               Node("add", "bn/add", ["m", "shift"], ["y"], {"activation": None})]
    graph = conv_graph(readers, extra, ["y"])
    feeds = {"x": random(1, 5, 5, 2)}
    before = outputs_of(graph, feeds)
    fold_batchnorm(graph)
    graph.check()
    assert ops(graph) == ["conv2d"]
    assert graph.nodes[0].outputs == ["y"]
    np.testing.assert_allclose(run(graph, feeds)["y"], before["y"], rtol=1e-5, atol=1e-5)


def test_fold_batchnorm_creates_bias_for_add():
    extra = [constant("shift", random(1, 1, 1, 3)), activation("y", 1, 5, 5, 3)]
    readers = [Node("add", "bias_add", ["shift", "c"], ["y"], {"activation": RELU})]
    graph = conv_graph(readers, extra, ["y"], bias=False)
    feeds = {"x": random(1, 5, 5, 2)}
    before = outputs_of(graph, feeds)
    fold_batchnorm(graph)
    conv = graph.nodes[0]
    assert ops(graph) == ["conv2d"]
    assert graph.tensors[conv.inputs[2]].shape == (3,)
    assert conv.attrs["activation"] == RELU
    np.testing.assert_allclose(run(graph, feeds)["y"], before["y"], rtol=1e-5, atol=1e-5)


def test_fold_batchnorm_scales_depthwise_filter_channels():
    tensors = [activation("x", 1, 4, 4, 2), activation("d", 1, 4, 4, 4),
               constant("w", random(1, 3, 3, 4)), constant("s", random(4)),
               activation("y", 1, 4, 4, 4)]
    nodes = [
        Node("depthwise_conv2d", "dw", ["x", "w", ""], ["d"],
             {"strides": (1, 1), "dilations": (1, 1), "pads": (1, 1, 1, 1), "activation": None,
              "depth_multiplier": 2}),
        Node("mul", "scale", ["d", "s"], ["y"], {"activation": None}),
    ]
    graph = make_graph(tensors, nodes, ["x"], ["y"])
    feeds = {"x": random(1, 4, 4, 2)}
    before = outputs_of(graph, feeds)
    fold_batchnorm(graph)
    assert ops(graph) == ["depthwise_conv2d"]
    np.testing.assert_allclose(run(graph, feeds)["y"], before["y"], rtol=1e-5, atol=1e-5)


def test_fold_batchnorm_keeps_shared_conv_output():
    extra = [constant("scale", random(3)), activation("m", 1, 5, 5, 3),
             activation("r", 1, 5, 5, 3)]
    readers = [Node("mul", "scale", ["c", "scale"], ["m"], {"activation": None}),
               Node("clip", "relu", ["c"], ["r"], {"activation": RELU})]
    graph = conv_graph(readers, extra, ["m", "r"])
    fold_batchnorm(graph)
    assert ops(graph) == ["conv2d", "mul", "clip"]


def test_fold_batchnorm_keeps_non_channel_constant():
    extra = [constant("plane", random(5, 5, 1)), activation("y", 1, 5, 5, 3)]
    readers = [Node("add", "add_plane", ["c", "plane"], ["y"], {"activation": None})]
    graph = conv_graph(readers, extra, ["y"])
    fold_batchnorm(graph)
    assert ops(graph) == ["conv2d", "add"]


def test_fold_batchnorm_keeps_constant_minus_output():
    extra = [constant("k", random(3)), activation("y", 1, 5, 5, 3)]
    readers = [Node("sub", "k_minus_c", ["k", "c"], ["y"], {"activation": None})]
    graph = conv_graph(readers, extra, ["y"])
    fold_batchnorm(graph)
    assert ops(graph) == ["conv2d", "sub"]


# Activation fusion ---------------------------------------------------------------------------


def test_fuse_activations_moves_clip_into_conv():
    graph = conv_graph([Node("clip", "relu6", ["c"], ["y"], {"activation": (0.0, 6.0)})],
                       [activation("y", 1, 5, 5, 3)], ["y"])
    fuse_activations(graph)
    graph.check()
    assert ops(graph) == ["conv2d"]
    assert graph.nodes[0].attrs["activation"] == (0.0, 6.0)
    assert graph.nodes[0].outputs == ["y"]


def test_fuse_activations_keeps_clip_of_shared_value():
    graph = conv_graph([Node("clip", "relu", ["c"], ["y"], {"activation": RELU})],
                       [activation("y", 1, 5, 5, 3)], ["c", "y"])
    fuse_activations(graph)
    assert ops(graph) == ["conv2d", "clip"]


def test_fuse_activations_intersects_ranges():
    graph = make_graph(
        [activation("x", 4), activation("a", 4), activation("y", 4)],
        [Node("clip", "relu", ["x"], ["a"], {"activation": RELU}),
         Node("clip", "cap", ["a"], ["y"], {"activation": (-1.0, 6.0)})],
        ["x"], ["y"],
    )
    fuse_activations(graph)
    assert ops(graph) == ["clip"]
    assert graph.nodes[0].attrs["activation"] == (0.0, 6.0)


def test_fuse_activations_keeps_disjoint_ranges():
    graph = make_graph(
        [activation("x", 4), activation("a", 4), activation("y", 4)],
        [Node("clip", "low", ["x"], ["a"], {"activation": (-2.0, -1.0)}),
         Node("clip", "high", ["a"], ["y"], {"activation": (1.0, 2.0)})],
        ["x"], ["y"],
    )
    fuse_activations(graph)
    assert ops(graph) == ["clip", "clip"]


def test_fuse_activations_skips_op_without_activation():
    graph = make_graph(
        [activation("x", 2, 3), activation("r", 6), activation("y", 6)],
        [Node("reshape", "flatten", ["x"], ["r"]),
         Node("clip", "relu", ["r"], ["y"], {"activation": RELU})],
        ["x"], ["y"],
    )
    fuse_activations(graph)
    assert ops(graph) == ["reshape", "clip"]


# Dead nodes and the pipeline -----------------------------------------------------------------


def test_remove_dead_nodes_drops_unread_branch():
    graph = make_graph(
        [activation("x", 3), activation("unused", 3), activation("y", 3),
         constant("k", random(3))],
        [Node("mul", "dead", ["x", "k"], ["unused"], {"activation": None}),
         Node("clip", "relu", ["x"], ["y"], {"activation": RELU})],
        ["x"], ["y"],
    )
    remove_dead_nodes(graph)
    assert ops(graph) == ["clip"]
    assert "k" not in graph.tensors
    assert "unused" not in graph.tensors
    assert graph.inputs == ["x"]


def test_run_passes_names_broken_pass():
    graph = make_graph([activation("x", 3), activation("y", 3)],
                       [Node("clip", "relu", ["x"], ["y"], {"activation": RELU})], ["x"], ["y"])

    def drop_nodes(broken: Graph) -> Graph:
        broken.nodes = []
        return broken

    with pytest.raises(RuntimeError, match="'drop_all' left an invalid graph"):
        run_passes(graph, [Pass("drop_all", drop_nodes)])


def test_pipeline_pass_names():
    assert [step.name for step in PIPELINE] == [
        "fold_constants", "clean_layout", "remove_dead_nodes", "fold_batchnorm",
        "fold_scalars", "fuse_activations", "remove_dead_nodes",
    ]


# Real models ---------------------------------------------------------------------------------

EXPECTED_OPS = {
    "keyword_spotting": {"conv2d": 5, "depthwise_conv2d": 4, "average_pool2d": 1, "reshape": 1,
                         "fully_connected": 1, "softmax": 1},
    "keyword_spotting_nchw": {"reshape": 2, "conv2d": 5, "depthwise_conv2d": 4,
                              "average_pool2d": 1, "fully_connected": 1, "softmax": 1},
    "image_classification": {"conv2d": 9, "add": 3, "average_pool2d": 1, "reshape": 1,
                             "fully_connected": 1, "softmax": 1},
    "image_classification_nchw": {"transpose": 1, "conv2d": 9, "add": 3, "average_pool2d": 1,
                                  "reshape": 1, "fully_connected": 1, "softmax": 1},
    "visual_wake_words": {"conv2d": 14, "depthwise_conv2d": 13, "average_pool2d": 1,
                          "reshape": 1, "fully_connected": 1, "softmax": 1},
    "visual_wake_words_nchw": {"transpose": 1, "conv2d": 14, "depthwise_conv2d": 13,
                               "average_pool2d": 1, "reshape": 1, "fully_connected": 1,
                               "softmax": 1},
    "anomaly_detection": {"reshape": 2, "fully_connected": 10},
}

# Relu nodes of each ONNX model; after the passes each is a fused activation.
RELU_COUNTS = {
    "keyword_spotting": 9, "keyword_spotting_nchw": 9, "image_classification": 7,
    "image_classification_nchw": 7, "visual_wake_words": 27, "visual_wake_words_nchw": 27,
    "anomaly_detection": 9,
}


def model_path(name: str) -> Path:
    path = MODELS / "onnx" / f"{name}.onnx"
    if not path.is_file():
        pytest.skip(f"model file {path} is absent; set EDGEC_MODELS to the models directory")
    return path


@pytest.mark.parametrize("name", sorted(EXPECTED_OPS))
def test_model_ops_after_passes(name):
    graph = load_onnx(model_path(name))
    assert dict(Counter(ops(graph))) == EXPECTED_OPS[name]


@pytest.mark.parametrize("name", sorted(RELU_COUNTS))
def test_model_relus_become_fused_activations(name):
    graph = load_onnx(model_path(name))
    fused = [node for node in graph.nodes if node.attrs.get("activation") == RELU]
    assert len(fused) == RELU_COUNTS[name]
    assert "clip" not in ops(graph)


@pytest.mark.parametrize("name", sorted(EXPECTED_OPS))
def test_model_passes_keep_outputs(name):
    path = model_path(name)
    raw = load_onnx(path, optimize=False)
    optimized = run_passes(load_onnx(path, optimize=False))
    shape = raw.tensors[raw.inputs[0]].shape
    feeds = {raw.inputs[0]: np.abs(random(2, *shape[1:]))}
    expected = run_samples(raw, feeds)[raw.outputs[0]]
    actual = run_samples(optimized, feeds)[optimized.outputs[0]]
    scale = float(np.abs(expected).max()) or 1.0
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-5 * scale)


def test_score_scale_folds_into_batch_matmul(tmp_path):
    path = tmp_path / "block.onnx"
    onnx.save(transformer_block(), path)
    graph = load_model(path)

    matmuls = [node for node in graph.nodes if node.op == "batch_matmul"]
    assert [node.attrs["alpha"] for node in matmuls] == pytest.approx([0.25, 1.0])
    assert not any(node.op == "mul" for node in graph.nodes)
