"""Shared harness of the single-rounding kernel tests (test_matmul_single_rounding.py and
test_residual_single_rounding.py).

A program is a ``(name, sources, build_cases)`` entry of a ``*_cases.PROGRAMS`` table. Its
single-rounding cases are its cases with the expected outputs of the reference interpreter
run with ``Graph.requantize_rounding = "single"``, and its kernels are built with
-DEDGEC_SINGLE_ROUNDING=1, as a project for an ONNX QDQ model is.
"""

from __future__ import annotations

import pytest

from edgec.errors import ToolchainError
from edgec.targets import load_target
from edgec.toolchain import check_toolchain
from tests.kernels.bench import describe_mismatches, run_program
from tests.kernels.variant_cases import SINGLE_ROUNDING_DEFINE, single_rounding_case

EMULATED = [pytest.mark.qemu, pytest.mark.cross]
TARGETS = [
    pytest.param("host", id="host"),
    pytest.param("cortex-a53", id="cortex-a53", marks=EMULATED),
    pytest.param("cortex-m4", id="cortex-m4", marks=EMULATED),
]


def single_rounding_programs(programs, names=None) -> list:
    """Build (name, sources, double-rounding cases, single-rounding cases) for each program,
    or for those named in ``names`` when it is given."""
    built = []
    for name, sources, build_cases in programs:
        if names is None or name in names:
            cases = build_cases()
            built.append((name, sources, cases, [single_rounding_case(c) for c in cases]))
    return built


def single_rounding_failures(target_name: str, programs: list, tmp_path) -> list[str]:
    """Run each program's single-rounding cases on the target, built with
    -DEDGEC_SINGLE_ROUNDING=1, and return one line per build error or mismatch. Skips the
    test when the target's toolchain is missing."""
    target = load_target(target_name)
    try:
        check_toolchain(target)
    except ToolchainError as error:
        pytest.skip(f"target {target_name}: {error}")

    failures = []
    for name, sources, _, cases in programs:
        run = run_program(tmp_path / name, target, name, cases, list(sources),
                          (SINGLE_ROUNDING_DEFINE,))
        if run.error is not None:
            failures.append(f"{name}: {run.error}")
            continue
        failures += [f"{name}: {line}" for line in describe_mismatches(cases, run.results)]
    return failures


def rounding_changes(programs: list) -> dict[str, list[str]]:
    """Return, per program name, the names of the cases whose expected outputs differ
    between double and single rounding."""
    return {
        name: [d.name for d, s in zip(double, single, strict=True) if d.expected != s.expected]
        for name, _, double, single in programs
    }
