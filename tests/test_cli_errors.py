"""Bad input through the real `edgec` command: one clear line, exit status 2, no traceback,
and nothing left in the output folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper


def run_edgec(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edgec.cli", *args],
        capture_output=True, text=True, env=env, timeout=600,
    )


def assert_clean_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("edgec: error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def _model_with_unsupported_ops(path: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])
    nodes = [
        helper.make_node("Sin", ["x"], ["a"], name="sine_1"),
        helper.make_node("Relu", ["a"], ["b"], name="relu_1"),
        helper.make_node("Cos", ["b"], ["c"], name="cosine_1"),
        helper.make_node("HardSwish", ["c"], ["y"], name="hardswish_1"),
    ]
    graph = helper.make_graph(nodes, "unsupported", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), path)


def test_unsupported_ops_listed_in_one_line(tmp_path):
    model = tmp_path / "unsupported.onnx"
    _model_with_unsupported_ops(model)
    out = tmp_path / "out"

    result = run_edgec("compile", str(model), "--target", "host", "--output", str(out),
                       "--calibration", "random")

    assert_clean_error(result, "sine_1 (Sin)", "cosine_1 (Cos)", "hardswish_1 (HardSwish)")
    assert "relu_1" not in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("filename", ["tflite/keyword_spotting_int8.tflite", "onnx/keyword_spotting.onnx"])
def test_truncated_model_file(models, tmp_path, filename):
    source = models / filename
    truncated = tmp_path / source.name
    truncated.write_bytes(source.read_bytes()[: source.stat().st_size // 3])
    out = tmp_path / "out"

    result = run_edgec("compile", str(truncated), "--target", "host", "--output", str(out),
                       "--calibration", "random")

    assert_clean_error(result, str(truncated))
    assert not out.exists()


def test_non_model_file(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a model\n")

    result = run_edgec("compile", str(text), "--target", "host", "--output", str(tmp_path / "o"))

    assert_clean_error(result, "notes.txt")


def test_calibration_missing_input(models, tmp_path):
    calibration = tmp_path / "calib.npz"
    np.savez(calibration, wrong_name=np.zeros((2, 50, 10, 1), np.float32))
    out = tmp_path / "out"

    result = run_edgec("compile", str(models / "onnx" / "keyword_spotting.onnx"), "--target",
                       "host", "--output", str(out), "--calibration", str(calibration))

    assert_clean_error(result, "'input'", "50, 10, 1")
    assert not out.exists()


def test_calibration_wrong_shape(models, tmp_path):
    calibration = tmp_path / "calib.npz"
    np.savez(calibration, input=np.zeros((2, 10, 50, 1), np.float32))
    out = tmp_path / "out"

    result = run_edgec("compile", str(models / "onnx" / "keyword_spotting.onnx"), "--target",
                       "host", "--output", str(out), "--calibration", str(calibration))

    assert_clean_error(result, "'input'", "50, 10, 1")
    assert not out.exists()


def test_float_model_without_calibration(models, tmp_path):
    result = run_edgec("compile", str(models / "onnx" / "keyword_spotting.onnx"), "--target",
                       "host", "--output", str(tmp_path / "out"))

    assert_clean_error(result, "--calibration")


def test_unknown_target_lists_known(models, tmp_path):
    result = run_edgec("compile", str(models / "tflite" / "keyword_spotting_int8.tflite"),
                       "--target", "cortex-m99", "--output", str(tmp_path / "out"))

    assert_clean_error(result, "cortex-m99", "host", "cortex-m4", "cortex-a53")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("target,tools", [
    ("cortex-m4", ["arm-none-eabi-gcc", "gcc-arm-none-eabi", "qemu-system-arm"]),
    ("cortex-a53", ["aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu", "qemu-aarch64", "qemu-user"]),
])
def test_missing_toolchain_names_packages(models, tmp_path, target, tools):
    project = tmp_path / "project"
    compiled = run_edgec("compile", str(models / "tflite" / "keyword_spotting_int8.tflite"),
                         "--target", target, "--output", str(project))
    assert compiled.returncode == 0, compiled.stderr
    inputs = tmp_path / "inputs.npz"
    np.savez(inputs, input=np.zeros((1, 1, 50, 10, 1), np.float32))
    # A PATH with make but without the cross compiler or QEMU: the real lookup fails.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "make").symlink_to(subprocess.run(["which", "make"], capture_output=True,
                                                 text=True).stdout.strip())
    env = dict(os.environ, PATH=str(bin_dir))

    result = run_edgec("run", str(project), "--input", str(inputs), "--output",
                       str(tmp_path / "out.npz"), env=env)

    assert_clean_error(result, *tools)
    assert not (tmp_path / "out.npz").exists()


def test_missing_emulator_only_names_qemu_package(models, tmp_path):
    project = tmp_path / "project"
    compiled = run_edgec("compile", str(models / "tflite" / "keyword_spotting_int8.tflite"),
                         "--target", "cortex-m4", "--output", str(project))
    assert compiled.returncode == 0, compiled.stderr
    inputs = tmp_path / "inputs.npz"
    np.savez(inputs, input=np.zeros((1, 1, 50, 10, 1), np.float32))
    # Every tool but QEMU: link make and the Arm compiler driver with its own programs.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("make", "arm-none-eabi-gcc", "arm-none-eabi-as", "arm-none-eabi-ld"):
        found = subprocess.run(["which", tool], capture_output=True, text=True).stdout.strip()
        if found:
            (bin_dir / tool).symlink_to(found)
    env = dict(os.environ, PATH=str(bin_dir))

    result = run_edgec("run", str(project), "--input", str(inputs), "--output",
                       str(tmp_path / "out.npz"), env=env)

    assert_clean_error(result, "qemu-system-arm", "apt-get install qemu-system-arm")
    assert "gcc-arm-none-eabi" not in result.stderr


def test_run_on_folder_that_is_not_edgec_output(tmp_path):
    inputs = tmp_path / "inputs.npz"
    np.savez(inputs, input=np.zeros((1, 4), np.float32))

    result = run_edgec("run", str(tmp_path), "--input", str(inputs), "--output",
                       str(tmp_path / "out.npz"))

    assert_clean_error(result, "edgec.json")


def _compiled_project(models, tmp_path, target="host") -> Path:
    project = tmp_path / "project"
    result = run_edgec("compile", str(models / "tflite" / "keyword_spotting_int8.tflite"),
                       "--target", target, "--output", str(project))
    assert result.returncode == 0, result.stderr
    return project


def test_recompile_keeps_user_files(models, tmp_path):
    project = _compiled_project(models, tmp_path)
    notes = project / "NOTES.txt"
    notes.write_text("my notes\n")

    result = run_edgec("compile", str(models / "tflite" / "keyword_spotting_int8.tflite"),
                       "--target", "host", "--output", str(project))

    assert_clean_error(result, "NOTES.txt", "did not write")
    assert notes.read_text() == "my notes\n"
    assert (project / "model.c").is_file()


def test_recompile_replaces_own_files(models, tmp_path):
    project = _compiled_project(models, tmp_path)
    (project / "model.c").write_text("stale\n")

    result = run_edgec("compile", str(models / "tflite" / "keyword_spotting_int8.tflite"),
                       "--target", "host", "--output", str(project))

    assert result.returncode == 0, result.stderr
    assert "model_invoke" in (project / "model.c").read_text()


def test_output_is_current_folder(models, tmp_path):
    project = _compiled_project(models, tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "edgec.cli", "compile",
         str(models / "tflite" / "keyword_spotting_int8.tflite"), "--target", "host",
         "--output", "."],
        capture_output=True, text=True, cwd=project, timeout=600,
    )

    assert_clean_error(result, "current folder")
    assert (project / "model.c").is_file()


def test_run_rejects_nan_input(models, tmp_path):
    project = _compiled_project(models, tmp_path)
    inputs = tmp_path / "nan.npz"
    np.savez(inputs, input=np.full((2, 50, 10, 1), np.nan, np.float32))

    result = run_edgec("run", str(project), "--input", str(inputs), "--output",
                       str(tmp_path / "out.npz"))

    assert_clean_error(result, "'input_1'", "NaN")
    assert not (tmp_path / "out.npz").exists()


def test_run_rejects_empty_input(models, tmp_path):
    project = _compiled_project(models, tmp_path)
    inputs = tmp_path / "empty.npz"
    np.savez(inputs, input=np.zeros((0, 50, 10, 1), np.float32))

    result = run_edgec("run", str(project), "--input", str(inputs), "--output",
                       str(tmp_path / "out.npz"))

    assert_clean_error(result, "no samples")


def test_run_output_folder_missing(models, tmp_path):
    project = _compiled_project(models, tmp_path)

    result = run_edgec("run", str(project), "--input",
                       str(models / "data" / "eval" / "keyword_spotting.npz"),
                       "--output", str(tmp_path / "missing" / "out.npz"))

    assert_clean_error(result, "does not exist")


def test_run_writes_exact_output_path(models, tmp_path):
    project = _compiled_project(models, tmp_path)
    output = tmp_path / "result.data"

    result = run_edgec("run", str(project), "--input",
                       str(models / "data" / "eval" / "keyword_spotting.npz"),
                       "--output", str(output))

    assert result.returncode == 0, result.stderr
    assert str(output) in result.stdout
    with np.load(output) as data:
        assert data["Identity"].shape == (10, 12)


def test_text_file_as_input_archive(models, tmp_path):
    project = _compiled_project(models, tmp_path)
    text = tmp_path / "notes.txt"
    text.write_text("not an archive\n")

    result = run_edgec("run", str(project), "--input", str(text), "--output",
                       str(tmp_path / "out.npz"))

    assert_clean_error(result, "not an .npz archive")


def test_verify_without_samples(models):
    result = run_edgec("verify", str(models / "tflite" / "keyword_spotting_int8.tflite"),
                       "--target", "host", "--random", "0")

    assert_clean_error(result, "nothing to verify")


def test_inspect_folder(models):
    result = run_edgec("inspect", str(models / "onnx"))

    assert_clean_error(result, "is a folder")
