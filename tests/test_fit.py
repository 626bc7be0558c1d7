"""The board fit check of `edgec compile`: --flash / --ram parsing, the target's board
limits, and models that do not fit, rejected with one line, exit status 2 and no output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgec import fit
from edgec.errors import MemoryPlanError, TargetError
from edgec.fit import (
    CALL_SITE_BYTES,
    IO_FLOAT_CODE_BYTES,
    KERNEL_CODE_BYTES,
    board_limits,
    parse_byte_size,
)
from edgec.pipeline import compile_model
from edgec.resources import runtime_dir
from edgec.targets import load_target

STM32F412 = "STM32F412 (1 MB flash, 256 KB SRAM)"
# The cortex-m4 target's own flags, without the warning options.
CORTEX_M4_FLAGS = [f for f in load_target("cortex-m4").cflags if not f.startswith("-W")]
# The wide layer's output: 72 channels of 64 x 64 int8 values.
WIDE_BYTES = 72 * 64 * 64


def run_edgec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edgec.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def compile_for_cortex_m4(model, out, *options: str) -> subprocess.CompletedProcess:
    return run_edgec("compile", str(model), "--target", "cortex-m4", "--output", str(out), *options)


def assert_rejected(result: subprocess.CompletedProcess, lines: int = 1) -> str:
    """Check exit status 2, no traceback and ``lines`` error lines; return the first line."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    error_lines = result.stderr.strip().splitlines()
    assert len(error_lines) == lines, result.stderr
    assert error_lines[0].startswith("edgec: error: ")
    return error_lines[0]


def assert_nothing_written(folder: Path, expected: set[str]) -> None:
    """Check that ``folder`` contains exactly ``expected``: no output folder, no staging folder."""
    assert {path.name for path in folder.iterdir()} == expected


def wide_conv_model(path: Path) -> None:
    """A float ONNX model whose one wide Conv writes 294,912 bytes into the arena."""
    rng = np.random.default_rng(0)
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 64, 64])
    mask = helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, 64, 64])
    nodes = [
        helper.make_node(
            "Conv", ["image", "w1", "b1"], ["wide"], pads=[1, 1, 1, 1], name="wide_conv"
        ),
        helper.make_node("Relu", ["wide"], ["wide_relu"], name="wide_relu"),
        helper.make_node("Conv", ["wide_relu", "w2"], ["mask"], name="project"),
    ]
    initializers = [
        numpy_helper.from_array(
            (rng.standard_normal((72, 3, 3, 3)) * 0.3).astype(np.float32), "w1"
        ),
        numpy_helper.from_array(np.zeros(72, np.float32), "b1"),
        numpy_helper.from_array(
            (rng.standard_normal((1, 72, 1, 1)) * 0.1).astype(np.float32), "w2"
        ),
    ]
    graph = helper.make_graph(nodes, "wide", [image], [mask], initializers)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("262144", 262144),
        ("256K", 262144),
        ("256kb", 262144),
        ("8 KB", 8192),
        ("1M", 1048576),
        ("2mb", 2097152),
        (" 64K ", 65536),
    ],
)
def test_parse_byte_size_accepts(text, expected):
    assert parse_byte_size(text, "--ram") == expected


@pytest.mark.parametrize("text", ["12Q", "", "K", "-5", "1.5M", "0", "1G", "256KiB"])
def test_parse_byte_size_rejects(text):
    with pytest.raises(TargetError) as raised:
        parse_byte_size(text, "--flash")

    assert f"--flash '{text}'" in str(raised.value)


def test_board_limits_from_target_board():
    limits = board_limits(load_target("cortex-m4"))

    assert limits.name == STM32F412
    assert limits.flash_bytes == 1_048_576
    assert limits.ram_bytes == 262_144
    assert not limits.flash_from_option
    assert not limits.ram_from_option


def test_board_limits_option_overrides_board():
    limits = board_limits(load_target("cortex-m4"), ram_bytes=8192)

    assert limits.ram_bytes == 8192
    assert limits.ram_from_option
    assert limits.flash_bytes == 1_048_576
    assert not limits.flash_from_option


def test_board_limits_cortex_a53_has_no_flash():
    limits = board_limits(load_target("cortex-a53"))

    assert limits.flash_bytes is None
    assert limits.ram_bytes == 1_073_741_824


def test_board_limits_host_unchecked_without_options():
    assert board_limits(load_target("host")) is None


def test_board_limits_host_with_option():
    limits = board_limits(load_target("host"), flash_bytes=4096)

    assert limits.name == "target host"
    assert limits.flash_bytes == 4096
    assert limits.ram_bytes is None


def test_ram_limit_rejects_keyword_spotting(models, tmp_path):
    out = tmp_path / "out"

    result = compile_for_cortex_m4(
        str(models / "tflite" / "keyword_spotting_int8.tflite"), str(out), "--ram", "8K"
    )

    line = assert_rejected(result)
    assert "model does not fit the limits: RAM " in line
    assert "bytes needed (arena " in line
    # I/O: the caller's float32 buffers, a 50x10 input and 12 scores. Stack: the base plus
    # the frame of the deepest kernel, conv2d_s8_dsp (the first convolution), beyond the
    # frame the base allows for.
    stack = (fit.STACK_BASE_BYTES + fit.KERNEL_STACK_BYTES["edgec_conv2d_s8_dsp"]
             - fit.BASE_KERNEL_FRAME_BYTES)
    assert f"+ I/O {(50 * 10 + 12) * 4:,} + stack estimate {stack:,})" in line
    assert "limit 8,192 (set by --ram)" in line
    assert "largest tensors: 'model/activation" in line
    assert "8,000 bytes" in line
    assert "or pass --ram BYTES" in line
    assert_nothing_written(tmp_path, set())


def test_wide_onnx_model_exceeds_board_ram(tmp_path):
    model = tmp_path / "wide.onnx"
    wide_conv_model(model)
    out = tmp_path / "out"

    result = compile_for_cortex_m4(str(model), str(out), "--calibration", "random")

    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if not line.startswith("edgec: warn")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"edgec: error: model does not fit {STM32F412}: RAM ")
    assert "limit 262,144;" in errors[0]
    assert f"'wide_relu' {WIDE_BYTES:,} bytes at layer 'wide_conv'" in errors[0]
    assert "Traceback" not in result.stderr
    assert_nothing_written(tmp_path, {"wide.onnx"})


def test_wide_onnx_model_fits_with_ram_option(tmp_path):
    model = tmp_path / "wide.onnx"
    wide_conv_model(model)

    report = compile_model(
        model, "cortex-m4", tmp_path / "out", "random", quiet=True, ram_bytes=1024 * 1024
    )

    assert report["board"]["ram_bytes"] == 1024 * 1024
    assert report["board"]["ram_from_option"] is True
    assert report["totals"]["arena_bytes"] >= WIDE_BYTES
    assert (tmp_path / "out" / "memory.svg").is_file()


def test_wide_onnx_model_unchecked_on_host(tmp_path):
    model = tmp_path / "wide.onnx"
    wide_conv_model(model)

    report = compile_model(model, "host", tmp_path / "out", "random", quiet=True)

    assert report["board"] is None
    assert report["totals"]["ram_bytes_estimate"] > 262_144
    assert "No board limits" in (tmp_path / "out" / "report.md").read_text()


def test_flash_limit_rejects_anomaly_detection(models, tmp_path):
    out = tmp_path / "out"

    # The reference kernels keep the weight figure independent of the DSP variants' layouts
    # (which pad the depth of each filter row).
    result = compile_for_cortex_m4(
        str(models / "tflite" / "anomaly_detection_int8.tflite"), str(out), "--flash", "64K",
        "--kernels", "ref",
    )

    line = assert_rejected(result)
    assert "model does not fit the limits: flash " in line
    assert "(weights 284,256 + parameters " in line
    assert "limit 65,536 (set by --flash)" in line
    assert "largest layers by weight bytes: " in line
    assert "or pass --flash BYTES" in line
    assert_nothing_written(tmp_path, set())


def test_both_limits_exceeded_gives_two_lines(models, tmp_path):
    result = compile_for_cortex_m4(
        str(models / "tflite" / "keyword_spotting_int8.tflite"),
        str(tmp_path / "out"),
        "--ram",
        "8K",
        "--flash",
        "16K",
    )

    first = assert_rejected(result, lines=2)
    second = result.stderr.strip().splitlines()[1]
    assert ": RAM " in first
    assert second.startswith("  flash ")
    assert "limit 16,384 (set by --flash)" in second
    assert_nothing_written(tmp_path, set())


def test_bad_ram_value_names_it(models, tmp_path):
    out = tmp_path / "out"

    result = compile_for_cortex_m4(
        str(models / "tflite" / "keyword_spotting_int8.tflite"), str(out), "--ram", "12Q"
    )

    line = assert_rejected(result)
    assert "--ram '12Q' is not a valid byte count" in line
    assert "K, KB, M or MB" in line
    assert_nothing_written(tmp_path, set())


def test_failed_fit_keeps_earlier_output(models, tmp_path):
    model = models / "tflite" / "keyword_spotting_int8.tflite"
    out = tmp_path / "out"
    compile_model(model, "cortex-m4", out)
    before = sorted(path.name for path in out.iterdir())

    with pytest.raises(MemoryPlanError):
        compile_model(model, "cortex-m4", out, ram_bytes=8192)

    assert sorted(path.name for path in out.iterdir()) == before
    assert_nothing_written(tmp_path, {"out"})


def test_limit_equal_to_estimate_fits(models, tmp_path):
    model = models / "tflite" / "keyword_spotting_int8.tflite"
    first = compile_model(model, "cortex-m4", tmp_path / "first")
    totals = first["totals"]

    report = compile_model(
        model,
        "cortex-m4",
        tmp_path / "second",
        flash_bytes=totals["flash_bytes_estimate"],
        ram_bytes=totals["ram_bytes_estimate"],
    )

    assert report["board"]["flash_used_percent"] == 100.0
    assert report["board"]["ram_used_percent"] == 100.0


def _arm_text_bytes(source: Path, tmp_path: Path, flags=CORTEX_M4_FLAGS) -> int:
    obj = tmp_path / f"{source.stem}.o"
    subprocess.run(
        [
            "arm-none-eabi-gcc",
            *flags,
            "-I",
            str(runtime_dir() / "include"),
            "-c",
            str(source),
            "-o",
            str(obj),
        ],
        check=True,
    )
    sizes = (
        subprocess.run(["arm-none-eabi-size", str(obj)], check=True, capture_output=True, text=True)
        .stdout.splitlines()[1]
        .split()
    )
    text, data, bss = (int(value) for value in sizes[:3])
    return text + data + bss


@pytest.mark.cross
def test_kernel_code_table_not_below_measured(tmp_path):
    sources = sorted((runtime_dir() / "kernels" / "ref").glob("*.c"))

    assert sources
    for source in sources:
        measured = _arm_text_bytes(source, tmp_path)
        if source.stem == "io_float":
            assert measured <= IO_FLOAT_CODE_BYTES
            continue
        function = f"edgec_{source.stem}"
        assert function in KERNEL_CODE_BYTES, f"{function} has no row in KERNEL_CODE_BYTES"
        assert function in CALL_SITE_BYTES, f"{function} has no row in CALL_SITE_BYTES"
        assert measured <= KERNEL_CODE_BYTES[function], f"{function}: measured {measured}"


# The flags each extension's variants are measured with: cortex-m4's for DSP and
# cortex-m55's for Helium (the optimization and warning flags of both target files).
ISA_TARGETS = {"dsp": "cortex-m4", "mve": "cortex-m55"}


@pytest.mark.cross
def test_variant_code_table_not_below_measured(tmp_path):
    from edgec.lower.variants import VARIANTS
    from edgec.targets import load_target

    assert VARIANTS
    for variant in VARIANTS:
        flags = [f for f in load_target(ISA_TARGETS[variant.isa]).cflags if not f.startswith("-W")]
        measured = _arm_text_bytes(runtime_dir() / variant.source, tmp_path, flags)
        function = variant.function
        assert function in KERNEL_CODE_BYTES, f"{function} has no row in KERNEL_CODE_BYTES"
        assert function in CALL_SITE_BYTES, f"{function} has no row in CALL_SITE_BYTES"
        assert measured <= KERNEL_CODE_BYTES[function], f"{function}: measured {measured}"
