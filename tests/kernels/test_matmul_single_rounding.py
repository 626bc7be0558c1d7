"""The batch_matmul and masked_mean C kernels built with -DEDGEC_SINGLE_ROUNDING=1 (as a
project for an ONNX QDQ model is) match the reference interpreter run with
``Graph.requantize_rounding = "single"``, on the host and the emulated targets.

The cases are those of ``tests.kernels.matmul_cases``; only the expected outputs change.
"""

from __future__ import annotations

import pytest

from edgec.errors import ToolchainError
from edgec.targets import load_target
from edgec.toolchain import check_toolchain
from tests.kernels.bench import describe_mismatches, run_program
from tests.kernels.matmul_cases import PROGRAMS
from tests.kernels.variant_cases import SINGLE_ROUNDING_DEFINE, single_rounding_case

# The programs whose kernels requantize (gather only copies).
REQUANTIZING = ("batch_matmul", "batch_matmul_s16", "masked_mean")
EMULATED = [pytest.mark.qemu, pytest.mark.cross]
TARGETS = [
    pytest.param("host", id="host"),
    pytest.param("cortex-a53", id="cortex-a53", marks=EMULATED),
    pytest.param("cortex-m4", id="cortex-m4", marks=EMULATED),
]


@pytest.fixture(scope="module")
def single_rounding_programs():
    """(name, sources, double-rounding cases, single-rounding cases) per program."""
    programs = []
    for name, sources, build_cases in PROGRAMS:
        if name in REQUANTIZING:
            cases = build_cases()
            programs.append((name, sources, cases, [single_rounding_case(c) for c in cases]))
    return programs


def test_single_rounding_changes_expected_outputs(single_rounding_programs):
    for name, _, double, single in single_rounding_programs:
        changed = [d.name for d, s in zip(double, single, strict=True) if d.expected != s.expected]

        assert changed, f"no case of {name} differs between the roundings"


@pytest.mark.parametrize("target_name", TARGETS)
def test_matmul_kernels_match_single_rounding(target_name, single_rounding_programs, tmp_path):
    target = load_target(target_name)
    try:
        check_toolchain(target)
    except ToolchainError as error:
        pytest.skip(f"target {target_name}: {error}")

    failures = []
    for name, sources, _, cases in single_rounding_programs:
        run = run_program(tmp_path / name, target, name, cases, list(sources),
                          (SINGLE_ROUNDING_DEFINE,))
        if run.error is not None:
            failures.append(f"{name}: {run.error}")
            continue
        failures += [f"{name}: {line}" for line in describe_mismatches(cases, run.results)]

    assert not failures, f"{len(failures)} failures on {target_name}:\n" + "\n".join(failures)
