"""Tests of the platform layer: targets, toolchain checks, Makefile, harness, emulator runs.

Each run test builds a small hand-written C project (a model_io.h/.c pair in place of
generated code, plus the rendered harness and Makefile) with the real compiler of each
target and runs it natively, under qemu-aarch64 or under qemu-system-arm.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from edgec.emulator import run_binary
from edgec.errors import BuildError, TargetError, ToolchainError
from edgec.targets import Target, list_targets, load_target
from edgec.toolchain import (
    build,
    check_toolchain,
    copy_platform_files,
    render_harness,
    render_makefile,
)

TARGET_NAMES = ["host", "cortex-m4", "cortex-a53"]
EMULATED = [pytest.mark.qemu, pytest.mark.cross]
TARGET_PARAMS = [
    pytest.param("host", id="host"),
    pytest.param("cortex-m4", id="cortex-m4", marks=EMULATED),
    pytest.param("cortex-a53", id="cortex-a53", marks=EMULATED),
]

INPUT_BYTES = 12
OUTPUT_BYTES = INPUT_BYTES + 1

IO_HEADER = """\
#ifndef {upper}_IO_H
#define {upper}_IO_H
#define {upper}_IO_INPUT_BYTES {input_bytes}
#define {upper}_IO_OUTPUT_BYTES {output_bytes}
int {prefix}_invoke_io(const void *input, void *output);
#endif
"""

# Output: every input byte plus 1, then the byte sum of the sample (both modulo 256).
ADD_ONE_SOURCE = """\
#include "{prefix}_io.h"

int {prefix}_invoke_io(const void *input, void *output)
{{
    const unsigned char *in = input;
    unsigned char *out = output;
    unsigned sum = 0;
    int i;

    for (i = 0; i < {upper}_IO_INPUT_BYTES; i++) {{
        out[i] = (unsigned char)(in[i] + 1);
        sum += in[i];
    }}
    out[{upper}_IO_INPUT_BYTES] = (unsigned char)sum;
    return 0;
}}
"""

FAILING_SOURCE = """\
#include "{prefix}_io.h"

int {prefix}_invoke_io(const void *input, void *output)
{{
    (void)input;
    (void)output;
    return 7;
}}
"""

HANGING_SOURCE = """\
#include "{prefix}_io.h"

int {prefix}_invoke_io(const void *input, void *output)
{{
    volatile int spin = 1;

    (void)input;
    (void)output;
    while (spin) {{
    }}
    return 0;
}}
"""

# Reads from 0x30000000, which is unmapped on mps2-an386: a bus fault, escalated to HardFault.
FAULTING_SOURCE = """\
#include "{prefix}_io.h"

int {prefix}_invoke_io(const void *input, void *output)
{{
    (void)input;
    (void)output;
    return (int)*(volatile unsigned *)0x30000000u;
}}
"""

SAMPLES = [
    bytes(range(INPUT_BYTES)),
    bytes([255] * INPUT_BYTES),
    bytes([7, 200, 13, 0, 99, 128, 127, 1, 254, 42, 64, 3]),
]


def expected_output(samples: list[bytes]) -> bytes:
    result = bytearray()
    for sample in samples:
        result += bytes((value + 1) % 256 for value in sample)
        result.append(sum(sample) % 256)
    return bytes(result)


def write_project(
    project_dir: Path, target: Target, model_source: str, prefix: str = "model"
) -> None:
    """Write a buildable project: stand-in model, harness, platform files, Makefile."""
    names = {"prefix": prefix, "upper": prefix.upper()}
    model_dir = project_dir / "model"
    model_dir.mkdir(parents=True)
    (model_dir / f"{prefix}_io.h").write_text(
        IO_HEADER.format(input_bytes=INPUT_BYTES, output_bytes=OUTPUT_BYTES, **names)
    )
    (model_dir / f"{prefix}_io.c").write_text(model_source.format(**names))
    (project_dir / "harness.c").write_text(render_harness(prefix))

    sources = ["harness.c", f"model/{prefix}_io.c", *copy_platform_files(target, project_dir)]
    (project_dir / "Makefile").write_text(render_makefile(target, sources, ["model"]))


def build_and_run(
    tmp_path: Path, target_name: str, model_source: str, input_data: bytes, **run_options
) -> tuple[Path, str]:
    """Build a project for the target, run it on ``input_data``; return (workdir, stdout)."""
    target = load_target(target_name)
    project_dir = tmp_path / "project"
    write_project(project_dir, target, model_source)
    binary = build(project_dir, target)

    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "input.bin").write_bytes(input_data)
    return workdir, run_binary(target, binary, workdir, **run_options)


# Targets


def test_list_targets_returns_all_three():
    names = [target.name for target in list_targets()]
    assert names == sorted(TARGET_NAMES)


@pytest.mark.parametrize("name", TARGET_NAMES)
def test_target_cflags_are_strict_c99(name):
    cflags = load_target(name).cflags
    for flag in ["-O2", "-std=c99", "-Wall", "-Wextra", "-Werror"]:
        assert flag in cflags


def test_cortex_m4_target_fields():
    target = load_target("cortex-m4")
    assert target.kind == "cortex-m"
    assert target.cc == "arm-none-eabi-gcc"
    assert "-mfloat-abi=soft" in target.cflags
    assert target.emulator[:3] == ["qemu-system-arm", "-M", "mps2-an386"]
    assert "shift=0" in target.emulator
    assert target.flash_bytes == 1024 * 1024
    assert target.ram_bytes == 256 * 1024
    assert target.linker_script == "platform/cortex_m/mps2_an386.ld"


def test_host_target_has_no_emulator():
    target = load_target("host")
    assert target.kind == "host"
    assert target.emulator == []
    assert target.flash_bytes is None


def test_unknown_target_lists_known_targets():
    with pytest.raises(TargetError) as error:
        load_target("cortex-m99")
    message = str(error.value)
    assert "cortex-m99" in message
    for name in TARGET_NAMES:
        assert name in message


def test_target_name_with_path_is_unknown():
    with pytest.raises(TargetError, match="unknown target"):
        load_target("../targets/host")


VALID_TARGET_FILE = """\
name = "custom"
description = "test target"
kind = "host"

[compiler]
command = "gcc"
package = "gcc"
cflags = ["-O2"]
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('colour = "blue"\n' + VALID_TARGET_FILE, "unknown key colour"),
        (VALID_TARGET_FILE + 'colour = "blue"\n', "unknown key [compiler] colour"),
        (
            VALID_TARGET_FILE.replace('cflags = ["-O2"]', 'cflags = "-O2"'),
            "must be an array, got a string",
        ),
        (VALID_TARGET_FILE.replace('cflags = ["-O2"]', "cflags = [2]"), "must be a string"),
        (VALID_TARGET_FILE.replace('package = "gcc"\n', ""), "missing key [compiler] package"),
        (VALID_TARGET_FILE.replace('"custom"', '"other"'), "name is 'other'"),
        (VALID_TARGET_FILE.replace('kind = "host"', 'kind = "riscv"'), "kind 'riscv'"),
        (VALID_TARGET_FILE + "[board]\nram_bytes = true\n", "must be an integer, got a boolean"),
        (
            VALID_TARGET_FILE.replace('kind = "host"', 'kind = "cortex-a"')
            + '[emulator]\ncommand = ["qemu-aarch64"]\npackage = "qemu-user"\n',
            "{binary}",
        ),
    ],
    ids=[
        "unknown-key",
        "unknown-section-key",
        "list-type",
        "item-type",
        "missing-key",
        "name-mismatch",
        "bad-kind",
        "bool-for-int",
        "no-binary-placeholder",
    ],
)
def test_invalid_target_file_rejected(tmp_path, monkeypatch, text, expected):
    (tmp_path / "custom.toml").write_text(text)
    monkeypatch.setattr("edgec.targets.targets_dir", lambda: tmp_path)
    with pytest.raises(TargetError) as error:
        load_target("custom")
    assert expected in str(error.value)


def test_valid_custom_target_file_loads(tmp_path, monkeypatch):
    (tmp_path / "custom.toml").write_text(VALID_TARGET_FILE)
    monkeypatch.setattr("edgec.targets.targets_dir", lambda: tmp_path)
    target = load_target("custom")
    assert target.cflags == ["-O2"]
    assert target.ldflags == []


# Toolchain checks


@pytest.mark.parametrize("name", TARGET_NAMES)
def test_installed_toolchain_passes_check(name):
    check_toolchain(load_target(name))


def test_missing_compiler_names_debian_package():
    target = dataclasses.replace(load_target("cortex-m4"), cc="edgec-no-such-gcc")
    with pytest.raises(ToolchainError) as error:
        check_toolchain(target)
    message = str(error.value)
    assert "edgec-no-such-gcc not found" in message
    assert "install the Debian package gcc-arm-none-eabi" in message
    assert "apt-get install gcc-arm-none-eabi" in message


def test_missing_compiler_file_names_debian_package():
    target = dataclasses.replace(
        load_target("host"), compiler_files={"libedgec-missing.a": "libedgec-missing-dev"}
    )
    with pytest.raises(ToolchainError) as error:
        check_toolchain(target)
    message = str(error.value)
    assert "gcc cannot find libedgec-missing.a" in message
    assert "apt-get install libedgec-missing-dev" in message


def test_missing_emulator_names_debian_package():
    target = load_target("cortex-a53")
    emulator = ["edgec-no-such-qemu", *target.emulator[1:]]
    target = dataclasses.replace(target, emulator=emulator)
    with pytest.raises(ToolchainError) as error:
        check_toolchain(target)
    message = str(error.value)
    assert "edgec-no-such-qemu not found" in message
    assert "apt-get install qemu-user" in message


def test_missing_tools_listed_together():
    target = dataclasses.replace(
        load_target("cortex-m4"),
        cc="edgec-no-such-gcc",
        emulator=["edgec-no-such-qemu", "{binary}"],
    )
    with pytest.raises(ToolchainError) as error:
        check_toolchain(target)
    assert "apt-get install gcc-arm-none-eabi qemu-system-arm" in str(error.value)


def test_build_missing_compiler_raises(tmp_path):
    target = load_target("host")
    write_project(tmp_path, target, ADD_ONE_SOURCE)
    with pytest.raises(ToolchainError, match="edgec-no-such-gcc not found"):
        build(tmp_path, dataclasses.replace(target, cc="edgec-no-such-gcc"))


# Makefile and harness rendering


def test_render_makefile_rejects_parent_path():
    with pytest.raises(ValueError, match="'..'"):
        render_makefile(load_target("host"), ["../outside.c"], [])


def test_render_makefile_rejects_white_space():
    with pytest.raises(ValueError, match="white space"):
        render_makefile(load_target("host"), ["my model.c"], [])


def test_render_harness_uses_prefix():
    text = render_harness("kws")
    assert '#include "kws_io.h"' in text
    assert "kws_invoke_io(input_sample, output_sample)" in text
    assert "KWS_IO_INPUT_BYTES" in text
    assert "MODEL_IO" not in text
    assert "malloc" not in text.replace("no malloc", "")


def test_render_harness_rejects_invalid_prefix():
    with pytest.raises(ValueError, match="not a valid C identifier"):
        render_harness("my-model")


def test_makefile_builds_when_run_by_hand(tmp_path):
    target = load_target("host")
    write_project(tmp_path, target, ADD_ONE_SOURCE)
    result = subprocess.run(["make"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "build" / "model.elf").is_file()
    assert (tmp_path / "build" / "model.map").is_file()

    subprocess.run(["make", "clean"], cwd=tmp_path, check=True, capture_output=True)
    assert not (tmp_path / "build").exists()


def test_build_rejects_project_of_other_target(tmp_path):
    write_project(tmp_path, load_target("host"), ADD_ONE_SOURCE)
    with pytest.raises(BuildError, match="generated for target host, not cortex-a53"):
        build(tmp_path, load_target("cortex-a53"))


def test_build_error_shows_compiler_output(tmp_path):
    broken = ADD_ONE_SOURCE.replace("return 0;", "return undeclared_name;")
    target = load_target("host")
    write_project(tmp_path, target, broken)
    with pytest.raises(BuildError) as error:
        build(tmp_path, target)
    message = str(error.value)
    assert "make exit status" in message
    assert "undeclared_name" in message


@pytest.mark.parametrize("name", TARGET_PARAMS)
def test_platform_sources_compile_with_werror(tmp_path, name):
    """-Wall -Wextra -Werror passes on the harness, platform code and stand-in model."""
    target = load_target(name)
    write_project(tmp_path, target, ADD_ONE_SOURCE)
    build(tmp_path, target)
    makefile = (tmp_path / "Makefile").read_text()
    assert "-Wall -Wextra -Werror" in makefile
    for source in target.platform_sources:
        object_file = tmp_path / "build" / "obj" / source.replace(".c", ".o")
        assert object_file.is_file()


# Runs on every target


@pytest.mark.parametrize("name", TARGET_PARAMS)
def test_add_one_model_runs_bit_exact(tmp_path, name):
    input_data = b"".join(SAMPLES)
    workdir, stdout = build_and_run(tmp_path, name, ADD_ONE_SOURCE, input_data)
    assert "edgec: 3 inferences" in stdout
    assert (workdir / "output.bin").read_bytes() == expected_output(SAMPLES)


@pytest.mark.parametrize("name", TARGET_PARAMS)
def test_failing_invoke_raises_build_error(tmp_path, name):
    with pytest.raises(BuildError) as error:
        build_and_run(tmp_path, name, FAILING_SOURCE, b"".join(SAMPLES))
    message = str(error.value)
    assert "exit status 1" in message
    assert "model_invoke_io failed with status 7 on sample 0" in message


@pytest.mark.parametrize("name", TARGET_PARAMS)
def test_partial_sample_raises_build_error(tmp_path, name):
    input_data = b"".join(SAMPLES) + bytes(5)
    with pytest.raises(BuildError) as error:
        build_and_run(tmp_path, name, ADD_ONE_SOURCE, input_data)
    message = str(error.value)
    assert "exit status 1" in message
    assert "partial sample: 5 of 12 bytes after 3 complete samples" in message


def test_empty_input_runs_zero_inferences(tmp_path):
    workdir, stdout = build_and_run(tmp_path, "host", ADD_ONE_SOURCE, b"")
    assert "edgec: 0 inferences" in stdout
    assert (workdir / "output.bin").read_bytes() == b""


def test_stale_output_is_replaced(tmp_path):
    target = load_target("host")
    write_project(tmp_path, target, ADD_ONE_SOURCE)
    binary = build(tmp_path, target)
    (tmp_path / "input.bin").write_bytes(SAMPLES[0])
    (tmp_path / "output.bin").write_bytes(b"stale output from an earlier run")
    run_binary(target, binary, tmp_path)
    assert (tmp_path / "output.bin").read_bytes() == expected_output(SAMPLES[:1])


def test_missing_input_raises_build_error(tmp_path):
    target = load_target("host")
    write_project(tmp_path, target, ADD_ONE_SOURCE)
    binary = build(tmp_path, target)
    with pytest.raises(BuildError, match="input.bin not found"):
        run_binary(target, binary, tmp_path)


def test_prefix_kws_project_runs(tmp_path):
    target = load_target("host")
    write_project(tmp_path, target, ADD_ONE_SOURCE, prefix="kws")
    binary = build(tmp_path, target)
    (tmp_path / "input.bin").write_bytes(b"".join(SAMPLES))
    stdout = run_binary(target, binary, tmp_path)
    assert "edgec: 3 inferences" in stdout
    assert (tmp_path / "output.bin").read_bytes() == expected_output(SAMPLES)


@pytest.mark.parametrize(
    "name", [pytest.param("host", id="host"), pytest.param("cortex-m4", marks=EMULATED)]
)
def test_hanging_program_times_out(tmp_path, name):
    with pytest.raises(BuildError, match="timed out after 2 s"):
        build_and_run(tmp_path, name, HANGING_SOURCE, SAMPLES[0], timeout_s=2)


@pytest.mark.qemu
@pytest.mark.cross
def test_cortex_m4_hardfault_exits_nonzero(tmp_path):
    with pytest.raises(BuildError) as error:
        build_and_run(tmp_path, "cortex-m4", FAULTING_SOURCE, SAMPLES[0])
    message = str(error.value)
    assert "exit status 3" in message
    assert "HardFault" in message
    assert "bfar=0x30000000" in message
