"""Properties of the generated C: determinism, warnings as errors, no float in model.c."""

from __future__ import annotations

import filecmp
import subprocess

import pytest

from edgec.pipeline import compile_model
from edgec.targets import load_target
from edgec.toolchain import build


def _same_tree(left, right) -> list[str]:
    comparison = filecmp.dircmp(left, right)
    differences = comparison.left_only + comparison.right_only + comparison.diff_files
    for name, sub in comparison.subdirs.items():
        differences += [f"{name}/{d}" for d in _same_tree(sub.left, sub.right)]
    return differences


@pytest.mark.parametrize("filename", ["tflite/visual_wake_words_int8.tflite", "onnx/anomaly_detection.onnx"])
def test_compile_twice_is_byte_identical(models, tmp_path, filename):
    model = models / filename
    calibration = str(models / "data" / "calib" / "anomaly_detection.npz") if model.suffix == ".onnx" else None

    compile_model(model, "cortex-m4", tmp_path / "first", calibration, quiet=True)
    compile_model(model, "cortex-m4", tmp_path / "second", calibration, quiet=True)

    assert _same_tree(tmp_path / "first", tmp_path / "second") == []


@pytest.mark.cross
@pytest.mark.parametrize("target", ["host", "cortex-m4", "cortex-a53"])
def test_generated_code_builds_with_werror(models, tmp_path, target):
    project = tmp_path / "project"
    compile_model(models / "tflite" / "image_classification_int8.tflite", target, project)

    makefile = (project / "Makefile").read_text()
    binary = build(project, load_target(target))

    assert "-Werror" in makefile
    assert "-Wextra" in makefile
    assert binary.is_file()


FLOAT_HELPERS = ("__aeabi_f", "__aeabi_d")


@pytest.mark.cross
@pytest.mark.parametrize("name", ["image_classification", "keyword_spotting"])
def test_model_object_has_no_float_helpers(models, tmp_path, name):
    project = tmp_path / "project"
    compile_model(models / "tflite" / f"{name}_int8.tflite", "cortex-m4", project)
    build(project, load_target("cortex-m4"))

    symbols = subprocess.run(
        ["arm-none-eabi-nm", "--undefined-only", str(project / "build" / "obj" / "model.o")],
        check=True, capture_output=True, text=True,
    ).stdout
    kernel_objects = sorted((project / "build" / "obj" / "kernels").rglob("*.o"))
    kernel_symbols = subprocess.run(
        ["arm-none-eabi-nm", "--undefined-only", *map(str, kernel_objects)],
        check=True, capture_output=True, text=True,
    ).stdout

    assert "edgec_" in symbols  # the check reads the real object
    assert not [line for line in symbols.splitlines() if any(h in line for h in FLOAT_HELPERS)]
    integer_kernels = [
        block for block in kernel_symbols.split("\n\n") if "io_float" not in block
    ]
    for block in integer_kernels:
        assert not any(h in block for h in FLOAT_HELPERS), block
