"""The C reference kernels (runtime_c/kernels/ref) match the reference interpreter bit for
bit, natively, under AddressSanitizer and UndefinedBehaviorSanitizer, under qemu-aarch64
(Cortex-A53) and under qemu-system-arm (Cortex-M4, mps2-an386).

Every program contains the cases of one kernel (``tests.kernels.cases``). A test fails with
one line per differing case.
"""

from __future__ import annotations

import dataclasses
import subprocess

import numpy as np
import pytest

from edgec.resources import runtime_dir
from tests.kernels.bench import describe_mismatches
from tests.kernels.cases import PROGRAMS, conv2d_cases, softmax_cases

EMULATED = [pytest.mark.qemu, pytest.mark.cross]
TARGETS = [
    pytest.param("host", id="host"),
    pytest.param("host-sanitized", id="host-sanitized"),
    pytest.param("cortex-a53", id="cortex-a53", marks=EMULATED),
    pytest.param("cortex-m4", id="cortex-m4", marks=EMULATED),
]

REF_DIR = runtime_dir() / "kernels" / "ref"
STRICT_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", "-c"]
COMPILERS = [
    pytest.param(["gcc"], id="gcc"),
    pytest.param(["aarch64-linux-gnu-gcc"], id="aarch64", marks=pytest.mark.cross),
    pytest.param(
        ["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=soft"],
        id="cortex-m4",
        marks=pytest.mark.cross,
    ),
]


@pytest.mark.parametrize("target_name", TARGETS)
@pytest.mark.parametrize("program_name", list(PROGRAMS))
def test_ref_kernel_matches_interpreter(program_name, target_name, kernel_runs, program_cases):
    run = kernel_runs(target_name)[program_name]
    assert run.error is None, f"program {program_name} on {target_name}: {run.error}"

    cases = program_cases[program_name]
    assert len(run.results) == len(cases)
    mismatches = describe_mismatches(cases, run.results)
    assert not mismatches, (
        f"{len(mismatches)} of {len(cases)} cases of {program_name} differ on {target_name}:\n"
        + "\n".join(mismatches)
    )


def test_bench_reports_corrupted_expectation(kernel_runs, program_cases):
    run = kernel_runs("host")["clip"]
    cases = [dataclasses.replace(case) for case in program_cases["clip"]]
    corrupted = bytearray(cases[0].expected)
    corrupted[3] ^= 0x01
    cases[0].expected = bytes(corrupted)

    mismatches = describe_mismatches(cases, run.results)

    assert len(mismatches) == 1
    assert mismatches[0].startswith(cases[0].name)
    assert "first at byte 3" in mismatches[0]


def test_extreme_multipliers_cover_range():
    (case,) = [c for c in conv2d_cases() if c.name.startswith("extreme multipliers")]
    multipliers = case.arrays["multipliers"].astype(np.int64)
    shifts = case.arrays["shifts"].astype(np.int64)

    assert 0 in multipliers
    assert 2**31 - 1 in multipliers
    assert shifts.min() == -31
    assert shifts.max() >= 24
    assert (shifts > 0).sum() >= 3


def test_softmax_cases_cover_diff_min_extremes():
    diff_mins = {c.fields["params"]["diff_min"] for c in softmax_cases() if c.expected_status == 0}

    assert 0 in diff_mins
    assert -15 in diff_mins
    assert min(diff_mins) < -(2**29)


@pytest.mark.parametrize("compiler", COMPILERS)
def test_ref_kernels_compile_pedantic_c99(compiler, tmp_path):
    include = runtime_dir() / "include"
    for source in sorted(REF_DIR.glob("*.c")):
        command = [*compiler, *STRICT_FLAGS, f"-I{include}", str(source),
                   "-o", str(tmp_path / f"{source.stem}.o")]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{' '.join(command)}\n{result.stderr}"


@pytest.mark.cross
def test_ref_kernels_use_no_floating_point(tmp_path):
    """Soft-float Cortex-M4 objects call __aeabi_f*/__aeabi_d* helpers for any float or
    double arithmetic; only io_float.c may."""
    include = runtime_dir() / "include"
    compiler = ["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=soft"]
    offenders = []
    for source in sorted(REF_DIR.glob("*.c")):
        if source.name == "io_float.c":
            continue
        obj = tmp_path / f"{source.stem}.o"
        subprocess.run([*compiler, *STRICT_FLAGS, f"-I{include}", str(source), "-o", str(obj)],
                       check=True)
        symbols = subprocess.run(["arm-none-eabi-nm", "-u", str(obj)], capture_output=True,
                                 text=True, check=True).stdout
        floating = [line.split()[-1] for line in symbols.splitlines()
                    if line.split()[-1].startswith(("__aeabi_f", "__aeabi_d", "__aeabi_l2f",
                                                    "__aeabi_i2f", "__aeabi_ui2f"))]
        if floating:
            offenders.append(f"{source.name}: {', '.join(floating)}")

    assert not offenders, "\n".join(offenders)
