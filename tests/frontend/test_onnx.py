"""ONNX frontend: the real float models, layout conversion, constant folding and errors.

The real models and their eval data come from the directory in EDGEC_MODELS; their tests
skip with the path when it is absent. Small cases are generated with onnx.helper and compared with
onnxruntime.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgec.errors import ModelFormatError, UnsupportedAttributeError, UnsupportedOperatorError
from edgec.frontend.onnx import load_onnx
from edgec.reference.interpreter import run, run_samples

MODELS = Path(os.environ.get("EDGEC_MODELS", "/work/shared/models"))
FLOAT_MODELS = [
    "keyword_spotting", "keyword_spotting_nchw", "image_classification",
    "image_classification_nchw", "visual_wake_words", "visual_wake_words_nchw",
    "anomaly_detection",
]
RNG = np.random.default_rng(7)


def model_path(name: str) -> Path:
    path = MODELS / "onnx" / f"{name}.onnx"
    if not path.is_file():
        pytest.skip(f"model file {path} is absent; set EDGEC_MODELS to the models directory")
    return path


def eval_inputs(name: str, count: int) -> np.ndarray:
    """Return ``count`` eval samples of the model, transposed to NCHW for ``_nchw`` models."""
    path = MODELS / "data" / "eval" / f"{name.removesuffix('_nchw')}.npz"
    if not path.is_file():
        pytest.skip(f"eval data {path} is absent; set EDGEC_MODELS to the models directory")
    samples = np.load(path)["input"][:count]
    if name.endswith("_nchw"):
        samples = samples.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(samples)


def onnx_io(path: Path) -> tuple[list, list]:
    model = onnx.load(str(path))

    def describe(values):
        return [(v.name, tuple(d.dim_value for d in v.type.tensor_type.shape.dim)) for v in values]

    return describe(model.graph.input), describe(model.graph.output)


def random(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def build_model(nodes, inputs: dict, outputs: list[str] | dict, constants: dict | None = None,
                opset: int = 13, input_type=TensorProto.FLOAT) -> onnx.ModelProto:
    """Build a model; ``outputs`` names the outputs, or maps them to their shapes where ONNX
    shape inference cannot compute them."""
    output_shapes = outputs if isinstance(outputs, dict) else dict.fromkeys(outputs)
    graph = helper.make_graph(
        nodes,
        "case",
        [helper.make_tensor_value_info(name, input_type, shape) for name, shape in inputs.items()],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
         for name, shape in output_shapes.items()],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in (constants or {}).items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    try:
        return onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    except onnx.shape_inference.InferenceError:
        return model


def save(tmp_path: Path, model: onnx.ModelProto) -> Path:
    path = tmp_path / "case.onnx"
    onnx.save(model, str(path))
    return path


def compare_with_onnxruntime(tmp_path, model: onnx.ModelProto, feeds: dict):
    graph = load_onnx(save(tmp_path, model))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = session.run(None, feeds)
    actual = run(graph, feeds)
    for output, reference in zip(model.graph.output, expected):
        assert actual[output.name].shape == reference.shape
        np.testing.assert_allclose(actual[output.name], reference, rtol=1e-5, atol=1e-5)
    return graph


def ops(graph) -> list[str]:
    return [node.op for node in graph.nodes]


# Real models ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FLOAT_MODELS)
def test_model_keeps_onnx_io_names_and_shapes(name):
    path = model_path(name)
    graph = load_onnx(path)
    graph.check()
    inputs, outputs = onnx_io(path)
    assert [(n, graph.tensors[n].shape) for n in graph.inputs] == inputs
    assert [(n, graph.tensors[n].shape) for n in graph.outputs] == outputs
    assert all(tensor.dtype == "float32" for tensor in graph.tensors.values())


@pytest.mark.parametrize("name", FLOAT_MODELS)
def test_model_matches_onnxruntime(name):
    path = model_path(name)
    samples = eval_inputs(name, 4)
    graph = load_onnx(path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    input_name = graph.inputs[0]
    expected = np.stack([session.run(None, {input_name: s[np.newaxis]})[0] for s in samples])
    actual = run_samples(graph, {input_name: samples})[graph.outputs[0]]
    output_range = float(expected.max() - expected.min())
    assert actual.shape == expected.shape
    assert np.abs(actual - expected).max() <= 1e-4 * output_range


@pytest.mark.parametrize("name", ["keyword_spotting", "image_classification",
                                  "visual_wake_words", "anomaly_detection"])
def test_nhwc_input_model_has_no_transpose(name):
    graph = load_onnx(model_path(name))
    assert "transpose" not in ops(graph)


@pytest.mark.parametrize("name", ["image_classification_nchw", "visual_wake_words_nchw"])
def test_nchw_input_model_has_one_input_transpose(name):
    graph = load_onnx(model_path(name))
    transposes = [node for node in graph.nodes if node.op == "transpose"]
    assert len(transposes) == 1
    assert transposes[0].inputs == graph.inputs
    assert transposes[0].attrs["perm"] == (0, 2, 3, 1)


def test_single_channel_nchw_input_needs_only_a_reshape():
    # keyword_spotting_nchw has one input channel: NCHW -> NHWC moves only a size-1 dim.
    graph = load_onnx(model_path("keyword_spotting_nchw"))
    first = graph.nodes[0]
    assert "transpose" not in ops(graph)
    assert first.op == "reshape"
    assert first.inputs == ["input"]
    assert graph.tensors[first.outputs[0]].shape == (1, 50, 10, 1)


def test_unoptimized_graph_keeps_relu_as_clip():
    graph = load_onnx(model_path("keyword_spotting"), optimize=False)
    graph.check()
    assert ops(graph).count("clip") == 9


# Layout tracking -----------------------------------------------------------------------------


def test_flatten_of_nchw_plane_transposes_back(tmp_path):
    constants = {"w": random(4, 3, 3, 3), "fc": random(4 * 3 * 3, 5)}
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], strides=[2, 2]),
        helper.make_node("Flatten", ["c"], ["f"]),
        helper.make_node("MatMul", ["f", "fc"], ["y"]),
    ]
    model = build_model(nodes, {"x": [1, 3, 7, 7]}, ["y"], constants)
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(1, 3, 7, 7)})
    assert ops(graph) == ["transpose", "conv2d", "transpose", "reshape", "fully_connected"]


def test_tf_style_transpose_before_flatten_cancels(tmp_path):
    constants = {"w": random(4, 3, 3, 3), "shape": np.array([1, -1], np.int64)}
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["t", "w"], ["c"]),
        helper.make_node("Transpose", ["c"], ["back"], perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", ["back", "shape"], ["y"]),
    ]
    model = build_model(nodes, {"x": [1, 6, 6, 3]}, ["y"], constants)
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(1, 6, 6, 3)})
    assert ops(graph) == ["conv2d", "reshape"]


def test_conv_output_as_graph_output_stays_nchw(tmp_path):
    constants = {"w": random(4, 3, 3, 3)}
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["y"]),
    ]
    model = build_model(nodes, {"x": [1, 3, 5, 6]}, ["y"], constants)
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(1, 3, 5, 6)})
    assert graph.outputs == ["y"]
    assert graph.tensors["y"].shape == (1, 4, 5, 6)
    assert ops(graph) == ["transpose", "conv2d", "transpose"]


def test_batchnorm_without_conv_stays_mul_add(tmp_path):
    channels = 3
    constants = {
        "scale": random(channels), "bias": random(channels), "mean": random(channels),
        "var": np.abs(random(channels)) + 0.5,
    }
    node = helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"],
                            epsilon=1e-3)
    model = build_model([node], {"x": [1, channels, 4, 4]}, ["y"], constants)
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(1, channels, 4, 4)})
    assert ops(graph) == ["mul", "add"]


def test_batchnorm_after_conv_folds(tmp_path):
    channels = 4
    constants = {
        "w": random(channels, 2, 3, 3), "b": random(channels), "scale": random(channels),
        "bias": random(channels), "mean": random(channels), "var": np.abs(random(channels)) + 0.5,
    }
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"]),
        helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["n"]),
        helper.make_node("Relu", ["n"], ["y"]),
    ]
    model = build_model(nodes, {"x": [1, 2, 6, 6]}, ["y"], constants)
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(1, 2, 6, 6)})
    assert ops(graph) == ["transpose", "conv2d", "transpose"]


def test_concat_of_input_and_conv_output(tmp_path):
    constants = {"w": random(2, 3, 3, 3)}
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Concat", ["x", "c"], ["y"], axis=1),
    ]
    model = build_model(nodes, {"x": [1, 3, 4, 4]}, ["y"], constants)
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(1, 3, 4, 4)})
    assert ops(graph) == ["transpose", "conv2d", "concat", "transpose"]


def test_gemm_with_activation_c_and_beta(tmp_path):
    constants = {"b": random(4, 3)}
    gemm = helper.make_node("Gemm", ["a", "b", "c"], ["y"], beta=0.5)
    model = build_model([gemm], {"a": [2, 4], "c": [2, 3]}, ["y"], constants)
    graph = compare_with_onnxruntime(tmp_path, model, {"a": random(2, 4), "c": random(2, 3)})
    assert ops(graph) == ["mul", "fully_connected", "add"]


@pytest.mark.parametrize("axes,noop", [([2, 3], 0), ([], 1)])
def test_reduce_mean_opset18_axes_input(tmp_path, axes, noop):
    constants = {"axes": np.array(axes, np.int64)}
    node = helper.make_node("ReduceMean", ["x", "axes"], ["y"], noop_with_empty_axes=noop)
    model = build_model([node], {"x": [1, 3, 4, 5]}, ["y"], constants, opset=18)
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(1, 3, 4, 5)})
    assert ops(graph) == (["mean"] if axes else ["reshape"])


def test_average_pool_opset19_accepts_unit_dilations(tmp_path):
    pool = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[2, 2], dilations=[1, 1])
    model = build_model([pool], {"x": [1, 2, 5, 5]}, ["y"], opset=19)
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(1, 2, 5, 5)})
    assert "average_pool2d" in ops(graph)


# Constant folding and removed ops ------------------------------------------------------------


def test_shape_subgraph_folds_to_constant_reshape(tmp_path):
    constants = {"zero": np.array(0, np.int64), "minus_one": np.array([-1], np.int64)}
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["batch"], axis=0),
        helper.make_node("Unsqueeze", ["batch", "axes"], ["batch_1d"]),
        helper.make_node("Concat", ["batch_1d", "minus_one"], ["shape"], axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["r"]),
        helper.make_node("Cast", ["r"], ["y"], to=TensorProto.FLOAT),
    ]
    constants["axes"] = np.array([0], np.int64)
    model = build_model(nodes, {"x": [1, 2, 3, 4]}, {"y": [1, 24]}, constants)
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(1, 2, 3, 4)})
    assert ops(graph) == ["reshape"]
    assert graph.tensors["y"].shape == (1, 24)


def test_constant_of_shape_operand_folds(tmp_path):
    value = helper.make_tensor("value", TensorProto.FLOAT, [1], [0.5])
    nodes = [
        helper.make_node("Constant", [], ["dims"], value_ints=[3]),
        helper.make_node("ConstantOfShape", ["dims"], ["half"], value=value),
        helper.make_node("Mul", ["x", "half"], ["y"]),
    ]
    model = build_model(nodes, {"x": [2, 3]}, ["y"])
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(2, 3)})
    assert ops(graph) == ["mul"]
    assert graph.tensors[graph.nodes[0].inputs[1]].data.tolist() == [0.5, 0.5, 0.5]


def test_identity_and_dropout_are_removed(tmp_path):
    nodes = [
        helper.make_node("Identity", ["x"], ["i"]),
        helper.make_node("Dropout", ["i"], ["d"]),
        helper.make_node("Relu", ["d"], ["y"]),
    ]
    model = build_model(nodes, {"x": [2, 5]}, ["y"])
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(2, 5)})
    assert ops(graph) == ["clip"]


def test_identity_output_gets_its_own_tensor(tmp_path):
    model = build_model([helper.make_node("Identity", ["x"], ["y"])], {"x": [2, 5]}, ["y"])
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(2, 5)})
    assert graph.inputs == ["x"]
    assert graph.outputs == ["y"]
    assert ops(graph) == ["reshape"]


@pytest.mark.parametrize("opset", [11, 13])
def test_squeeze_and_unsqueeze_by_opset(tmp_path, opset):
    if opset >= 13:
        constants = {"axes0": np.array([0], np.int64), "axes2": np.array([2], np.int64)}
        nodes = [
            helper.make_node("Squeeze", ["x", "axes0"], ["s"]),
            helper.make_node("Unsqueeze", ["s", "axes2"], ["y"]),
        ]
    else:
        constants = {}
        nodes = [
            helper.make_node("Squeeze", ["x"], ["s"], axes=[0]),
            helper.make_node("Unsqueeze", ["s"], ["y"], axes=[2]),
        ]
    model = build_model(nodes, {"x": [1, 3, 4]}, ["y"], constants, opset=opset)
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(1, 3, 4)})
    assert graph.tensors["y"].shape == (3, 4, 1)
    assert ops(graph) == ["reshape"]


def test_symbolic_batch_is_fixed_to_one(tmp_path):
    model = build_model([helper.make_node("Relu", ["x"], ["y"])], {"x": ["N", 3]}, ["y"])
    graph = load_onnx(save(tmp_path, model))
    assert graph.tensors["x"].shape == (1, 3)
    assert graph.tensors["y"].shape == (1, 3)


def test_ceil_mode_without_partial_window_is_accepted(tmp_path):
    pool = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2],
                            ceil_mode=1)
    model = build_model([pool], {"x": [1, 2, 4, 4]}, ["y"])
    graph = compare_with_onnxruntime(tmp_path, model, {"x": random(1, 2, 4, 4)})
    assert "max_pool2d" in ops(graph)


# Errors --------------------------------------------------------------------------------------


def test_unsupported_ops_are_listed_in_one_error(tmp_path):
    nodes = [
        helper.make_node("Erf", ["x"], ["a"], name="erf_1"),
        helper.make_node("Sigmoid", ["a"], ["b"], name="gate"),
        helper.make_node("Gemm", ["b", "x2"], ["c"], name="mm"),
        helper.make_node("Tanh", ["c"], ["y"], name="tanh_out"),
    ]
    model = build_model(nodes, {"x": [2, 2], "x2": [2, 2]}, ["y"])
    with pytest.raises(UnsupportedOperatorError) as error:
        load_onnx(save(tmp_path, model))
    message = str(error.value)
    assert "4 ONNX node(s) not supported" in message
    assert "erf_1 (Erf)" in message
    assert "gate (Sigmoid)" in message
    assert "mm (Gemm) with non-constant input 'x2'" in message
    assert "tanh_out (Tanh)" in message


def test_custom_domain_op_is_listed(tmp_path):
    node = helper.make_node("FusedGelu", ["x"], ["y"], name="gelu", domain="com.microsoft")
    graph = helper.make_graph([node], "case", [helper.make_tensor_value_info("x", 1, [1, 4])],
                              [helper.make_tensor_value_info("y", 1, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("com.microsoft", 1)])
    with pytest.raises(UnsupportedOperatorError, match=r"gelu \(com\.microsoft\.FusedGelu\)"):
        load_onnx(save(tmp_path, model))


def test_truncated_file_is_a_format_error(tmp_path):
    data = model_path("keyword_spotting").read_bytes()
    path = tmp_path / "truncated.onnx"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelFormatError, match="truncated.onnx"):
        load_onnx(path)


@pytest.mark.parametrize("content", [b"", b"not a model at all\n"])
def test_non_onnx_file_is_a_format_error(tmp_path, content):
    path = tmp_path / "text.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelFormatError, match="text.onnx"):
        load_onnx(path)


def test_missing_file_is_a_format_error(tmp_path):
    with pytest.raises(ModelFormatError, match="not found"):
        load_onnx(tmp_path / "absent.onnx")


def test_old_opset_is_a_format_error(tmp_path):
    model = build_model([helper.make_node("Relu", ["x"], ["y"])], {"x": [1, 3]}, ["y"], opset=10)
    with pytest.raises(ModelFormatError, match="opset 10"):
        load_onnx(save(tmp_path, model))


def test_integer_input_outside_gather_or_mask_is_rejected(tmp_path):
    cast = helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT, name="to_float")
    model = build_model([cast], {"x": [1, 3]}, ["y"], input_type=TensorProto.INT64)
    with pytest.raises(UnsupportedOperatorError,
                       match="'to_float' \\(Cast\\): input 'x' is an integer tensor"):
        load_onnx(save(tmp_path, model))


def test_unsupported_input_type_is_a_format_error(tmp_path):
    cast = helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)
    model = build_model([cast], {"x": [1, 3]}, ["y"], input_type=TensorProto.UINT8)
    with pytest.raises(ModelFormatError, match="'x' is UINT8"):
        load_onnx(save(tmp_path, model))


def test_dynamic_non_batch_dim_is_a_format_error(tmp_path):
    model = build_model([helper.make_node("Relu", ["x"], ["y"])], {"x": [1, "seq"]}, ["y"])
    with pytest.raises(ModelFormatError, match="dynamic dimension at axis 1"):
        load_onnx(save(tmp_path, model))


def test_grouped_conv_is_rejected(tmp_path):
    conv = helper.make_node("Conv", ["x", "w"], ["y"], group=2, name="grouped")
    model = build_model([conv], {"x": [1, 4, 5, 5]}, ["y"], {"w": random(6, 2, 3, 3)})
    with pytest.raises(UnsupportedAttributeError, match=r"'grouped' \(Conv\): attribute group=2"):
        load_onnx(save(tmp_path, model))


@pytest.mark.parametrize("attrs,expected", [
    (dict(count_include_pad=1, pads=[1, 1, 1, 1]), "count_include_pad=1"),
    (dict(ceil_mode=1, strides=[2, 2]), "ceil_mode=1"),
    (dict(auto_pad="SAME_MIDDLE"), "auto_pad='SAME_MIDDLE'"),
])
def test_unsupported_pool_attribute_is_rejected(tmp_path, attrs, expected):
    pool = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], **attrs)
    model = build_model([pool], {"x": [1, 2, 6, 6]}, ["y"])
    with pytest.raises(UnsupportedAttributeError, match=expected):
        load_onnx(save(tmp_path, model))


def test_reflect_pad_is_rejected(tmp_path):
    pad = helper.make_node("Pad", ["x", "pads"], ["y"], mode="reflect")
    constants = {"pads": np.array([0, 1, 0, 1], np.int64)}
    model = build_model([pad], {"x": [2, 3]}, ["y"], constants)
    with pytest.raises(UnsupportedAttributeError, match="mode='reflect'"):
        load_onnx(save(tmp_path, model))


def test_unknown_attribute_is_a_format_error(tmp_path):
    relu = helper.make_node("Relu", ["x"], ["y"], alpha=0.1)
    model = build_model([relu], {"x": [1, 3]}, ["y"])
    with pytest.raises(ModelFormatError, match="Unrecognized attribute: alpha"):
        load_onnx(save(tmp_path, model))
