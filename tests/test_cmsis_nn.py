"""--kernels cmsis-nn: CMSIS-NN's s8 functions in the generated project.

The error and unit tests run without CMSIS-NN. The others need a CMSIS-NN checkout (the
folder with Include/ and Source/) in $EDGEC_CMSIS_NN, for example
``git clone https://github.com/ARM-software/CMSIS-NN``, and skip without one. They compile
real models and the reference kernel cases (tests.kernels.cases) with --kernels cmsis-nn,
run them under QEMU, and compare with the reference interpreter bit for bit.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from edgec.cli import main
from edgec.ir import Graph, Node, Tensor
from edgec.lower.cmsis_nn import (
    ENVIRONMENT_VARIABLE,
    MARKER_FILE,
    PROJECT_DIR,
    SourceIndex,
    open_cmsis_nn,
    requantized_bound,
)
from edgec.pipeline import compile_model, generate
from edgec.reference.interpreter import run_samples
from edgec.runner import run_project
from edgec.targets import load_target
from edgec.verify import concat_feeds, random_inputs, verify_model
from tests.kernels import cases as kernel_cases
from tests.kernels.graphs import RELU, binary_case, conv_case, fully_connected_case, pool_case

KWS = "tflite/keyword_spotting_int8.tflite"
# The CMSIS-NN function each op of the MLPerf Tiny models must call.
EXPECTED_FUNCTIONS = {
    "conv2d": "arm_convolve_wrapper_s8",
    "depthwise_conv2d": "arm_depthwise_conv_wrapper_s8",
    "average_pool2d": "arm_avgpool_s8",
    "fully_connected": "arm_fully_connected_s8",
    "add": "arm_elementwise_add_s8",
}
ALL_FUNCTIONS = {
    "arm_convolve_wrapper_s8", "arm_depthwise_conv_wrapper_s8", "arm_fully_connected_s8",
    "arm_fully_connected_per_channel_s8", "arm_avgpool_s8", "arm_max_pool_s8",
    "arm_elementwise_add_s8",
}
# Targets of the kernel case tests: DSP, plain C (no DSP) and Helium code paths.
CASE_TARGETS = ["cortex-m4", "cortex-m3", "cortex-m55"]


@pytest.fixture(scope="module")
def checkout() -> Path:
    configured = os.environ.get(ENVIRONMENT_VARIABLE, "")
    if not configured or not (Path(configured) / MARKER_FILE).is_file():
        pytest.skip(f"no CMSIS-NN checkout: set {ENVIRONMENT_VARIABLE} to a CMSIS-NN folder "
                    "(git clone https://github.com/ARM-software/CMSIS-NN)")
    return Path(configured)


def run_cli(capsys, *args: str) -> tuple[int, str]:
    status = main(list(args))
    return status, capsys.readouterr().err


# --- errors, without CMSIS-NN ------------------------------------------------------------


def test_cmsis_nn_without_path_exits_2(models, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    out = tmp_path / "out"

    status, err = run_cli(capsys, "compile", str(models / KWS), "--target", "cortex-m4",
                          "--output", str(out), "--kernels", "cmsis-nn")

    assert status == 2
    assert err.startswith("edgec: error: --kernels cmsis-nn needs a CMSIS-NN checkout")
    assert "--cmsis-nn PATH" in err
    assert ENVIRONMENT_VARIABLE in err
    assert not out.exists()


def test_cmsis_nn_bad_path_exits_2(models, tmp_path, capsys):
    out = tmp_path / "out"

    status, err = run_cli(capsys, "compile", str(models / KWS), "--target", "cortex-m4",
                          "--output", str(out), "--kernels", "cmsis-nn",
                          "--cmsis-nn", str(tmp_path))

    assert status == 2
    assert f"--cmsis-nn {tmp_path} is not a CMSIS-NN checkout" in err
    assert MARKER_FILE in err
    assert not out.exists()


def test_cmsis_nn_bad_environment_path_names_variable(models, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, str(tmp_path))

    status, err = run_cli(capsys, "compile", str(models / KWS), "--target", "cortex-m4",
                          "--output", str(tmp_path / "out"), "--kernels", "cmsis-nn")

    assert status == 2
    assert f"{ENVIRONMENT_VARIABLE}={tmp_path} is not a CMSIS-NN checkout" in err


@pytest.mark.parametrize("target", ["host", "cortex-a53"])
@pytest.mark.parametrize("command", ["compile", "verify"])
def test_cmsis_nn_on_non_cortex_m_exits_2(models, tmp_path, capsys, target, command):
    options = ["--output", str(tmp_path / "out")] if command == "compile" else []

    status, err = run_cli(capsys, command, str(models / KWS), "--target", target, *options,
                          "--kernels", "cmsis-nn", "--cmsis-nn", str(tmp_path))

    assert status == 2
    assert len(err.strip().splitlines()) == 1
    assert f"target {target} is not a Cortex-M" in err


def test_cmsis_nn_path_without_mode_exits_2(models, tmp_path, capsys):
    status, err = run_cli(capsys, "compile", str(models / KWS), "--target", "cortex-m4",
                          "--output", str(tmp_path / "out"), "--cmsis-nn", str(tmp_path))

    assert status == 2
    assert "is used only with --kernels cmsis-nn" in err


# --- units, without CMSIS-NN -------------------------------------------------------------


@pytest.mark.parametrize("shift", [-32, 31])
def test_requantized_bound_rejects_shift_outside_range(shift):
    assert requantized_bound(100, 2**30, shift, "double") is None


def test_requantized_bound_rejects_overflowing_left_shift():
    assert requantized_bound(2**28, 2**30, 3, "double") is None
    assert requantized_bound(2**28, 2**30, 2, "double") is not None


def test_requantized_bound_single_rounding_needs_one_more_bit():
    # Helium's single rounding shifts left by shift + 1 before its doubling multiply.
    assert requantized_bound(2**29, 2**30, 1, "single") is None
    assert requantized_bound(2**29, 2**30, 1, "double") is not None


def test_requantized_bound_covers_the_result():
    bound = requantized_bound(1000, 2**30, -2, "double")

    assert bound >= 1000 * 0.5 / 4
    assert bound <= 1000 * 0.5 / 4 + 1


def test_source_index_closure_follows_calls(tmp_path):
    source = tmp_path / "Source" / "Functions"
    source.mkdir(parents=True)
    (source / "arm_top_s8.c").write_text(
        "/* arm_unused(x) in a comment is no call */\n"
        "arm_cmsis_nn_status arm_top_s8(const int8_t *input)\n{\n"
        "    return arm_helper_s8(input);\n}\n"
    )
    (source / "arm_helper_s8.c").write_text(
        "static int32_t arm_local(int32_t x)\n{\n    return x;\n}\n\n"
        "int32_t arm_helper_s8(const int8_t *input)\n{\n    return arm_local(*input);\n}\n"
    )
    (source / "arm_unused.c").write_text("void arm_unused(void)\n{\n}\n")
    (source / "arm_other.c").write_text("static int32_t arm_local(int32_t x)\n{\n    return 0;\n}\n")

    index = SourceIndex.scan(tmp_path)

    assert index.closure(["arm_top_s8"]) == [
        "Source/Functions/arm_helper_s8.c", "Source/Functions/arm_top_s8.c",
    ]
    assert "arm_local" not in index.owners


# --- real models -------------------------------------------------------------------------


@pytest.mark.qemu
@pytest.mark.cross
@pytest.mark.parametrize("model_name", ["keyword_spotting", "image_classification"])
def test_mlperf_model_bit_exact_with_cmsis_nn(models, checkout, tmp_path, model_name):
    model = models / "tflite" / f"{model_name}_int8.tflite"
    eval_inputs = dict(np.load(models / "data" / "eval" / f"{model_name}.npz"))

    result = verify_model(model, "cortex-m4", input_arrays=eval_inputs, random_count=3,
                          work_dir=tmp_path, kernels="cmsis-nn", cmsis_nn=str(checkout))

    assert result.mismatches == []
    assert any("reference interpreter, bit-exact" in line for line in result.lines)
    assert any("TFLite Micro, bit-exact" in line for line in result.lines)
    report = json.loads((tmp_path / "project" / "report.json").read_text())
    assert "arm_convolve_wrapper_s8" in {layer["kernel"] for layer in report["layers"]}
    for layer in report["layers"]:
        if layer["op"] in EXPECTED_FUNCTIONS:
            assert layer["kernel"] == EXPECTED_FUNCTIONS[layer["op"]], layer["name"]
            assert layer["variant"] == layer["kernel"], layer["name"]
            assert "cmsis_nn_rejected" not in layer, layer["name"]
    assert report["cmsis_nn"]["version"]


@pytest.fixture(scope="module")
def kws_project(models, checkout, tmp_path_factory) -> tuple[Path, dict]:
    """KWS compiled for cortex-m4 with --kernels cmsis-nn: the folder and the report."""
    out = tmp_path_factory.mktemp("cmsis_nn") / "kws"
    report = compile_model(models / KWS, "cortex-m4", out, quiet=True, kernels="cmsis-nn",
                           cmsis_nn=str(checkout))
    return out, report


def test_project_contains_cmsis_nn_sources(kws_project, checkout):
    out, report = kws_project

    folder = out / PROJECT_DIR
    assert (folder / "LICENSE").is_file()
    assert (folder / "Include" / "arm_nnfunctions.h").is_file()
    makefile = (out / "Makefile").read_text()
    assert f"-I{PROJECT_DIR}/Include" in makefile
    assert f"{PROJECT_DIR}/Source/ConvolutionFunctions/arm_convolve_wrapper_s8.c" in makefile
    assert str(checkout) not in makefile
    listed = set(json.loads((out / "edgec.json").read_text())["files"])
    copied = {str(p.relative_to(out)) for p in folder.rglob("*") if p.is_file()}
    assert copied <= listed
    assert {layer["kernel"] for layer in report["layers"]} >= {"arm_convolve_wrapper_s8"}


def test_scratch_sized_by_cmsis_nn(kws_project):
    out, report = kws_project

    model_c = (out / "model.c").read_text()
    pools = [layer for layer in report["layers"] if layer["op"] == "average_pool2d"]
    assert len(pools) == 1
    channels = pools[0]["output_bytes"]  # a 1x1 output: one byte per channel
    # arm_avgpool_s8 on a DSP core: one int32 sum per channel.
    assert pools[0]["scratch_bytes"] == 4 * channels
    first = report["layers"][0]
    assert first["kernel"] == "arm_convolve_wrapper_s8"
    assert first["scratch_bytes"] > 0
    assert f".size = {first['scratch_bytes']}," in model_c


# --- reference kernel cases --------------------------------------------------------------


def code_path_cases() -> list:
    """Return cases for the code paths that CMSIS-NN's wrappers choose between.

    They are 1x1 and 1xN convolutions, 3x3 and multiplier-4 depthwise, more than 124
    depthwise channels (one Helium block), one input channel to many outputs, per-tensor
    fully connected, and channel counts off the SIMD widths.
    """
    rng = np.random.default_rng(4001)
    dw = {"depthwise": True}
    return [
        conv_case("1x1 stride 1, 16 channels", rng, input_shape=(1, 5, 5, 16),
                  kernel=(1, 1), channels=12),
        conv_case("1x1 stride 2, 8 channels", rng, input_shape=(1, 6, 6, 8), kernel=(1, 1),
                  channels=5, strides=(2, 2)),
        conv_case("1xN: 1x5 kernel on one row, pads left/right", rng,
                  input_shape=(1, 1, 12, 8), kernel=(1, 5), channels=6, pads=(0, 2, 0, 2)),
        conv_case("3x3 on 1 input channel, 9 outputs", rng, input_shape=(1, 9, 7, 1),
                  kernel=(3, 3), channels=9, strides=(2, 2), pads=(1, 1, 1, 1)),
        conv_case("3x3 pad 1, 20 channels", rng, **dw, input_shape=(1, 7, 7, 20),
                  kernel=(3, 3), pads=(1, 1, 1, 1)),
        conv_case("3x3 stride 2, 130 channels", rng, **dw, input_shape=(1, 6, 6, 130),
                  kernel=(3, 3), strides=(2, 2), pads=(0, 0, 1, 1)),
        conv_case("5x5 pad 2, 12 channels", rng, **dw, input_shape=(1, 8, 8, 12),
                  kernel=(5, 5), pads=(2, 2, 2, 2)),
        conv_case("multiplier 4", rng, **dw, depth_multiplier=4, input_shape=(1, 5, 5, 3),
                  kernel=(3, 3), pads=(1, 1, 1, 1)),
        conv_case("one input channel, multiplier 12", rng, **dw, depth_multiplier=12,
                  input_shape=(1, 6, 6, 1), kernel=(3, 3), pads=(1, 1, 1, 1)),
        fully_connected_case("per-tensor scale, 3 rows", rng, input_shape=(3, 20),
                             output_depth=7, weight_scales=[0.02] * 7),
        fully_connected_case("per-tensor scale, depth 301, relu", rng,
                             input_shape=(1, 301), output_depth=13, weight_scales=[0.004] * 13,
                             output_quant=(0.3, -20), activation=RELU),
        pool_case("3x3 stride 2 pad 1, 21 channels", rng, "average_pool2d",
                  input_shape=(1, 9, 9, 21), kernel=(3, 3), strides=(2, 2),
                  pads=(1, 1, 1, 1)),
        pool_case("3x3 stride 2 pad 1, 21 channels", rng, "max_pool2d",
                  input_shape=(1, 9, 9, 21), kernel=(3, 3), strides=(2, 2),
                  pads=(1, 1, 1, 1)),
        binary_case("37 elements", rng, "add", shape1=(37,), shape2=(37,),
                    quant1=(0.05, -3), quant2=(0.1, 10), output_quant=(0.12, 2)),
    ]


def valid_kernel_cases() -> list:
    """The reference kernel cases (with their one-node graphs) of the CMSIS-NN ops, and
    those of ``code_path_cases``."""
    cases = (kernel_cases.conv2d_cases() + kernel_cases.depthwise_conv2d_cases()
             + kernel_cases.fully_connected_cases() + kernel_cases.avg_pool2d_cases()
             + kernel_cases.max_pool2d_cases() + kernel_cases.add_cases()
             + code_path_cases())
    return [case for case in cases if case.expected_status == 0 and case.graph is not None]


def merge_cases(cases: list) -> tuple[Graph, dict[str, np.ndarray], dict[str, str]]:
    """One graph with every case's node, tensors renamed c<i>_...; its feeds (one sample
    per input); and the case name of each node."""
    graph = Graph(name="kernel_cases")
    feeds, case_names = {}, {}
    for index, case in enumerate(cases):
        prefix = f"c{index}_"
        source = case.graph
        for name, tensor in source.tensors.items():
            graph.add_tensor(Tensor(prefix + name, tensor.shape, tensor.dtype, tensor.data,
                                    tensor.quant))
        for node in source.nodes:
            inputs = [prefix + name if name else name for name in node.inputs]
            outputs = [prefix + name for name in node.outputs]
            graph.nodes.append(Node(node.op, prefix + node.name, inputs, outputs,
                                    dict(node.attrs)))
            case_names[prefix + node.name] = f"{node.op}: {case.name}"
        graph.inputs += [prefix + name for name in source.inputs]
        graph.outputs += [prefix + name for name in source.outputs]
        for name in source.inputs:
            feeds[prefix + name] = np.asarray(case.feeds[name])[None]
    return graph, feeds, case_names


def accepted_cases(checkout: Path, target: str, rounding: str) -> tuple[list, dict[str, str]]:
    """The cases whose node CMSIS-NN takes on ``target``, and the rejection reason of each
    other case by case name."""
    cases = valid_kernel_cases()
    graph, _, case_names = merge_cases(cases)
    graph.requantize_rounding = rounding
    backend = open_cmsis_nn(load_target(target), checkout)
    chosen = backend.choose(graph.nodes, graph, {})
    accepted = [case for case, node in zip(cases, graph.nodes) if node.name in chosen]
    rejected = {case_names[name]: reason for name, reason in backend.rejected.items()}
    return accepted, rejected


def run_cases_with_cmsis_nn(cases: list, checkout: Path, target: str, rounding: str,
                            folder: Path) -> tuple[dict, dict, dict, dict[str, str]]:
    """Compile ``cases`` as one model with --kernels cmsis-nn and run it on ``target``.

    The inputs are the cases' own and 2 random samples. Returns the report, the target's
    outputs, the reference interpreter's outputs and the case name of each node.
    """
    graph, feeds, case_names = merge_cases(cases)
    graph.requantize_rounding = rounding
    feeds = concat_feeds(feeds, random_inputs(graph, 2, seed=11))
    project = folder / "project"
    report = generate(graph, load_target(target), project, "model", None,
                      kernels="cmsis-nn", cmsis_nn=str(checkout))
    outputs = run_project(project, feeds, 600)
    return report, outputs, run_samples(graph, feeds), case_names


def mismatching_layers(report: dict, outputs: dict, expected: dict, case_names: dict) -> list:
    wrong = []
    for layer in report["layers"]:
        got = np.asarray(outputs[layer["output"]])
        want = np.asarray(expected[layer["output"]]).astype(got.dtype).reshape(got.shape)
        if not np.array_equal(got, want):
            wrong.append(f"{case_names[layer['name']]} ({layer['kernel']})")
    return wrong


@pytest.mark.qemu
@pytest.mark.cross
@pytest.mark.parametrize("target", CASE_TARGETS)
def test_kernel_cases_bit_exact_with_cmsis_nn(checkout, tmp_path, target):
    cases, _ = accepted_cases(checkout, target, "double")

    report, outputs, expected, names = run_cases_with_cmsis_nn(cases, checkout, target,
                                                               "double", tmp_path)

    assert len(cases) > 150
    assert mismatching_layers(report, outputs, expected, names) == []
    assert {layer["kernel"] for layer in report["layers"]} == ALL_FUNCTIONS


@pytest.mark.qemu
@pytest.mark.cross
def test_kernel_cases_bit_exact_with_single_rounding(checkout, tmp_path):
    cases, _ = accepted_cases(checkout, "cortex-m4", "single")

    report, outputs, expected, names = run_cases_with_cmsis_nn(cases, checkout, "cortex-m4",
                                                               "single", tmp_path)

    assert "-DCMSIS_NN_USE_SINGLE_ROUNDING=1" in (tmp_path / "project" / "Makefile").read_text()
    assert mismatching_layers(report, outputs, expected, names) == []
    assert {layer["kernel"] for layer in report["layers"]} == ALL_FUNCTIONS


def test_kernel_cases_rejected_with_reason(checkout):
    _, rejected = accepted_cases(checkout, "cortex-m4", "double")

    zero_points = [name for name in rejected if "filter zero point" in name]
    assert len(zero_points) == 3
    for name in zero_points:
        assert "filter_symmetric does not hold" in rejected[name]
    broadcast = rejected["add: add: per-channel vector input2"]
    assert "same_shape_inputs does not hold" in broadcast
    padding_only = rejected["max_pool2d: window entirely in the padding gives activation_min"]
    assert "every_window_overlaps_input does not hold" in padding_only
    assert not any(name.startswith("sub:") for name in rejected)
