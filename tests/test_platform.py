"""Tests of the platform layer: targets, toolchain checks, Makefile, harness, emulator runs.

Each run test builds a small hand-written C project (a model_io.h/.c pair in place of
generated code, plus the rendered harness and Makefile) with the real compiler of each
target and runs it natively, under qemu-aarch64 or under qemu-system-arm. The last tests
compile and run the real keyword-spotting model on every Cortex-M target with the `edgec`
command.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgec.emulator import run_binary
from edgec.errors import BuildError, TargetError, ToolchainError
from edgec.pipeline import load_quantized
from edgec.reference.interpreter import run_samples
from edgec.resources import runtime_dir
from edgec.targets import Target, list_targets, load_target
from edgec.toolchain import (
    build,
    check_toolchain,
    copy_platform_files,
    render_harness,
    render_makefile,
)
from edgec.verify import match_inputs

CORTEX_M_TARGETS = [
    "cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55",
]
TARGET_NAMES = ["host", *CORTEX_M_TARGETS, "cortex-a53", "cortex-a72"]
EMULATED = [pytest.mark.qemu, pytest.mark.cross]
CORTEX_M_PARAMS = [pytest.param(name, id=name, marks=EMULATED) for name in CORTEX_M_TARGETS]
TARGET_PARAMS = [
    pytest.param("host", id="host"),
    *CORTEX_M_PARAMS,
    pytest.param("cortex-a53", id="cortex-a53", marks=EMULATED),
    pytest.param("cortex-a72", id="cortex-a72", marks=EMULATED),
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


def test_list_targets_returns_every_target():
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


# Board, compiler flags and kernel ISA extensions of the Cortex-M targets other than cortex-m4
# (test_cortex_m4_target_fields checks that one): QEMU machine, -mcpu, float ABI,
# [kernels] isa, SysTick clock in Hz, linker script.
CORTEX_M_BOARDS = {
    "cortex-m0plus": ("mps2-an385", "cortex-m0plus", "soft", [], 25_000_000, "mps2_an385.ld"),
    "cortex-m3": ("mps2-an385", "cortex-m3", "soft", [], 25_000_000, "mps2_an385.ld"),
    "cortex-m7": ("mps2-an500", "cortex-m7", "soft", ["dsp"], 25_000_000, "mps2_an500.ld"),
    "cortex-m33": ("mps2-an505", "cortex-m33", "soft", ["dsp"], 20_000_000, "mps2_an505.ld"),
    "cortex-m55": (
        "mps3-an547", "cortex-m55", "hard", ["dsp", "mve"], 32_000_000, "mps3_an547.ld"
    ),
}


@pytest.mark.parametrize("name", sorted(CORTEX_M_BOARDS))
def test_cortex_m_board_fields(name):
    machine, cpu, float_abi, isas, clock_hz, linker_script = CORTEX_M_BOARDS[name]
    target = load_target(name)

    assert target.kind == "cortex-m"
    assert target.cc == "arm-none-eabi-gcc"
    assert f"-mcpu={cpu}" in target.cflags
    assert f"-mfloat-abi={float_abi}" in target.cflags
    assert "-mthumb" in target.cflags
    assert target.emulator[:3] == ["qemu-system-arm", "-M", machine]
    assert "shift=0" in target.emulator
    assert target.cpu_clock_hz == clock_hz
    assert target.kernel_isas == isas
    assert target.linker_script == f"platform/cortex_m/{linker_script}"
    assert (runtime_dir() / target.linker_script).is_file()
    for source in target.platform_sources + target.bench_sources:
        assert (runtime_dir() / source).is_file(), source
    assert target.flash_bytes > 0
    assert target.ram_bytes > 0


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


# Per QEMU machine, an address that the board does not map: a read from it is a bus fault,
# escalated to HardFault. 0x30000000 is mapped on mps2-an505 and mps3-an547 (Secure SRAM
# aliases), so those two use 0xF0000000.
FAULT_ADDRESSES = {"mps2-an385": "0x30000000u", "mps2-an500": "0x30000000u",
                   "mps2-an505": "0xF0000000u", "mps3-an547": "0xF0000000u"}


@pytest.mark.qemu
@pytest.mark.cross
@pytest.mark.parametrize("name", sorted(CORTEX_M_BOARDS))
def test_cortex_m_board_hardfault_exits_nonzero(tmp_path, name):
    machine = CORTEX_M_BOARDS[name][0]
    address = FAULT_ADDRESSES[machine]
    source = FAULTING_SOURCE.replace("0x30000000u", address)

    with pytest.raises(BuildError) as error:
        build_and_run(tmp_path, name, source, SAMPLES[0])

    message = str(error.value)
    assert "exit status 3" in message
    assert "HardFault exception=0x00000003" in message
    if name == "cortex-m0plus":
        # Armv6-M has no fault status registers, so the report leaves them out.
        assert "cfsr=" not in message
    else:
        assert f"bfar=0x{address.removesuffix('u')[2:].lower()}" in message


# The add-one model computed with MVE (Helium) intrinsics, plus a signed dot product of the
# input with fixed weights (vmladavq_s8), stored little-endian after the add-one bytes.
MVE_OUTPUT_BYTES = INPUT_BYTES + 4
MVE_WEIGHTS = [3, -7, 11, -13, 17, -19, 23, -29, 31, -37, 41, -43, 47, -53, 59, -61]
MVE_SOURCE = """\
#include <arm_mve.h>
#include <stdint.h>

#include "{prefix}_io.h"

#if !defined(__ARM_FEATURE_MVE)
#error "the target's flags must enable MVE"
#endif

static const int8_t weights[16] = {{WEIGHT_LIST}};

int {prefix}_invoke_io(const void *input, void *output)
{{
    const uint8_t *in = input;
    uint8_t *out = output;
    /* The input has 12 bytes: the tail predicate keeps lanes 12-15 out of every load,
     * sum and store. */
    mve_pred16_t lanes = vctp8q({upper}_IO_INPUT_BYTES);
    uint8x16_t values = vldrbq_z_u8(in, lanes);
    int32_t dot = vmladavq_s8(vreinterpretq_s8_u8(values), vldrbq_s8(weights));
    uint32_t bits = (uint32_t)dot;
    int i;

    vstrbq_p_u8(out, vaddq_n_u8(values, 1), lanes);
    for (i = 0; i < 4; i++) {{
        out[{upper}_IO_INPUT_BYTES + i] = (uint8_t)(bits >> (8 * i));
    }}
    return 0;
}}
""".replace("WEIGHT_LIST", ", ".join(str(weight) for weight in MVE_WEIGHTS))


def mve_expected_output(samples: list[bytes]) -> bytes:
    result = bytearray()
    for sample in samples:
        result += bytes((value + 1) % 256 for value in sample)
        signed = [value - 256 if value > 127 else value for value in sample]
        dot = sum(value * weight for value, weight in zip(signed, MVE_WEIGHTS))
        result += (dot % 2**32).to_bytes(4, "little")
    return bytes(result)


@pytest.mark.qemu
@pytest.mark.cross
def test_mve_intrinsics_run_on_cortex_m55(tmp_path):
    target = load_target("cortex-m55")
    project_dir = tmp_path / "project"
    write_project(project_dir, target, MVE_SOURCE)
    header = project_dir / "model" / "model_io.h"
    header.write_text(header.read_text().replace(
        f"MODEL_IO_OUTPUT_BYTES {OUTPUT_BYTES}", f"MODEL_IO_OUTPUT_BYTES {MVE_OUTPUT_BYTES}"
    ))
    binary = build(project_dir, target)
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "input.bin").write_bytes(b"".join(SAMPLES))

    stdout = run_binary(target, binary, workdir)

    assert "edgec: 3 inferences" in stdout
    assert (workdir / "output.bin").read_bytes() == mve_expected_output(SAMPLES)
    # The program ran MVE instructions, not a scalar fallback. objdump needs the
    # architecture to decode MVE; it prints vmladavq_s8 as vmlav.s8 (an alias of VMLADAV).
    object_file = project_dir / "build" / "obj" / "model" / "model_io.o"
    disassembly = subprocess.run(
        ["arm-none-eabi-objdump", "-d", "-m", "armv8.1-m.main", str(object_file)],
        capture_output=True, text=True, check=True,
    ).stdout
    assert "vmlav.s8" in disassembly
    assert "vctp.8" in disassembly


@pytest.mark.cross
def test_cortex_m0plus_binary_is_armv6m(tmp_path):
    """The linked program, C library included, contains only Armv6-M code.

    The linker merges the build attributes of every object, so one Armv7-M object would
    raise the program's Tag_CPU_arch to v7.
    """
    target = load_target("cortex-m0plus")
    write_project(tmp_path, target, ADD_ONE_SOURCE)
    binary = build(tmp_path, target)

    attributes = subprocess.run(["arm-none-eabi-readelf", "-A", str(binary)],
                                capture_output=True, text=True, check=True).stdout

    assert "Tag_CPU_arch: v6S-M" in attributes
    assert "Tag_CPU_arch_profile: Microcontroller" in attributes


@pytest.mark.cross
@pytest.mark.parametrize("name", ["cortex-m0plus", "cortex-m55"])
def test_reference_kernels_compile_for_target(tmp_path, name):
    """Every reference kernel compiles with -Werror under the target's flags.

    cortex-m0plus has the smallest instruction set (Armv6-M: no DSP, no divide, no 64-bit
    multiply instruction), cortex-m55 the hard-float ABI with MVE.
    """
    target = load_target(name)
    sources = sorted((runtime_dir() / "kernels" / "ref").glob("*.c"))
    assert sources

    result = subprocess.run(
        [target.cc, *target.cflags, "-I", str(runtime_dir() / "include"), "-c",
         *[str(source) for source in sources]],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )

    assert result.returncode == 0, result.stderr
    assert len(list(tmp_path.glob("*.o"))) == len(sources)


# A real model through the command line: `edgec compile`, then `edgec run`.

KWS_MODEL = Path("tflite") / "keyword_spotting_int8.tflite"
KWS_SAMPLES = 3


def run_edgec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgec.cli", *args],
                          capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.qemu
@pytest.mark.cross
@pytest.mark.parametrize("name", CORTEX_M_TARGETS)
def test_kws_model_bit_exact_on_cortex_m(models, tmp_path, name):
    model = models / KWS_MODEL
    eval_data = np.load(models / "data" / "eval" / "keyword_spotting.npz")
    arrays = {key: eval_data[key][:KWS_SAMPLES] for key in eval_data.files}
    np.savez(tmp_path / "input.npz", **arrays)
    project = tmp_path / "kws"

    compiled = run_edgec("compile", str(model), "--target", name, "--output", str(project))
    assert compiled.returncode == 0, compiled.stderr
    ran = run_edgec("run", str(project), "--input", str(tmp_path / "input.npz"),
                    "--output", str(tmp_path / "output.npz"))
    assert ran.returncode == 0, ran.stderr

    graph = load_quantized(model, None, quiet=True)
    feeds, _ = match_inputs(graph, arrays)
    reference = run_samples(graph, feeds)
    board = np.load(tmp_path / "output.npz")
    assert sorted(board.files) == sorted(graph.outputs)
    for output in graph.outputs:
        got = board[output]
        assert len(got) == KWS_SAMPLES
        want = np.asarray(reference[output]).reshape(got.shape).astype(got.dtype)
        assert np.array_equal(got, want), output
