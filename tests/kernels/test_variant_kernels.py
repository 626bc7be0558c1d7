"""Every optimized kernel variant (edgec.lower.variants) matches the reference interpreter
bit for bit on each emulated target whose [kernels] isa lists the variant's extension.

A variant's program holds the reference cases its predicates accept plus the cases of its
own shape space (``tests.kernels.variant_cases``). A test fails with one line per differing
case.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from edgec.errors import ToolchainError
from edgec.lower.variants import VARIANTS
from edgec.targets import list_targets
from edgec.toolchain import check_toolchain
from tests.kernels.bench import describe_mismatches, run_program
from tests.kernels.variant_cases import (
    SINGLE_ROUNDING_DEFINE,
    VARIANT_PROGRAMS,
    single_rounding_case,
)

# Minimum number of cases in a variant's program, so that no variant is tested on a handful.
MIN_CASES = 10

TARGET_PARAMS = [
    pytest.param(target.name, id=target.name, marks=[pytest.mark.qemu, pytest.mark.cross])
    for target in list_targets()
    if target.kernel_isas
]


# Rounding modes of fixed_point.h: the default double rounding (TFLite) and the single
# rounding of ONNX QDQ models; each mode builds every variant program once.
ROUNDINGS = {"double": (), "single": (SINGLE_ROUNDING_DEFINE,)}


@pytest.fixture(scope="session")
def variant_cases():
    """Cases per (rounding, variant)."""
    double = {name: program.build_cases() for name, program in VARIANT_PROGRAMS.items()}
    single = {
        name: [single_rounding_case(case) for case in cases] for name, cases in double.items()
    }
    return {"double": double, "single": single}


@pytest.fixture(scope="session")
def variant_runs(tmp_path_factory, variant_cases):
    """Return a function giving ``{variant: ProgramRun}`` for a target, built on first use."""
    runs = {}

    def runs_for(target_name: str, rounding: str):
        if (target_name, rounding) not in runs:
            target = next(t for t in list_targets() if t.name == target_name)
            try:
                check_toolchain(target)
            except ToolchainError as error:
                pytest.skip(f"target {target_name}: {error}")
            base = tmp_path_factory.mktemp(f"variants-{target_name}-{rounding}")
            programs = {
                name: program for name, program in VARIANT_PROGRAMS.items()
                if next(v for v in VARIANTS if v.name == name).isa in target.kernel_isas
            }
            with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
                futures = {
                    name: pool.submit(run_program, base / name, target, name,
                                      variant_cases[rounding][name], list(program.sources),
                                      ROUNDINGS[rounding])
                    for name, program in programs.items()
                }
                runs[target_name, rounding] = {name: f.result() for name, f in futures.items()}
        return runs[target_name, rounding]

    return runs_for


@pytest.mark.parametrize("rounding", list(ROUNDINGS))
@pytest.mark.parametrize("target_name", TARGET_PARAMS)
def test_variants_match_interpreter(target_name, rounding, variant_runs, variant_cases):
    runs = variant_runs(target_name, rounding)
    failures = []
    for name, run in sorted(runs.items()):
        if run.error is not None:
            failures.append(f"{name}: {run.error}")
            continue
        cases = variant_cases[rounding][name]
        failures += [f"{name}: {line}" for line in describe_mismatches(cases, run.results)]
    assert not failures, (
        f"{len(failures)} failures on {target_name} ({rounding} rounding):\n"
        + "\n".join(failures)
    )


@pytest.mark.parametrize("name", sorted(VARIANT_PROGRAMS))
def test_variant_has_enough_cases(name, variant_cases):
    count = len(variant_cases["double"][name])
    assert count >= MIN_CASES, (
        f"variant {name} has {count} cases; give it at least {MIN_CASES} "
        "with @cases_for in tests/kernels/variant_cases_<isa>.py"
    )
