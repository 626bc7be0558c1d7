"""Fixtures of the kernel tests: the cases of every program, and their runs per target.

Each target builds and runs all programs once per session, in parallel, the first time a
test requests it. Targets are the repository's target files plus ``host-sanitized``: the
host target with AddressSanitizer and UndefinedBehaviorSanitizer, which turns any signed
overflow, invalid shift or out-of-bounds access in a kernel into a failed run.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from edgec.errors import ToolchainError
from edgec.targets import Target, load_target
from edgec.toolchain import check_toolchain
from tests.kernels.bench import KernelCase, ProgramRun, run_program
from tests.kernels.cases import PROGRAMS

SANITIZER_FLAGS = [
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
]


def kernel_target(name: str) -> Target:
    """Load target ``name``; ``host-sanitized`` is the host target with sanitizers."""
    if name == "host-sanitized":
        host = load_target("host")
        return dataclasses.replace(host, cflags=host.cflags + SANITIZER_FLAGS)
    return load_target(name)


@pytest.fixture(scope="session")
def program_cases() -> dict[str, list[KernelCase]]:
    return {name: program.build_cases() for name, program in PROGRAMS.items()}


@pytest.fixture(scope="session")
def kernel_runs(tmp_path_factory, program_cases):
    """Return a function that gives ``{program: ProgramRun}`` for a target name, building
    and running every program on the first call for that target. Skips the test when the
    target's compiler or emulator is not installed."""
    runs: dict[str, dict[str, ProgramRun]] = {}

    def runs_for(target_name: str) -> dict[str, ProgramRun]:
        if target_name not in runs:
            target = kernel_target(target_name)
            try:
                check_toolchain(target)
            except ToolchainError as error:
                pytest.skip(f"target {target_name}: {error}")
            base = tmp_path_factory.mktemp(target_name)
            with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
                futures = {
                    name: pool.submit(run_program, base / name, target, name,
                                      program_cases[name], list(program.sources))
                    for name, program in PROGRAMS.items()
                }
                runs[target_name] = {name: future.result() for name, future in futures.items()}
        return runs[target_name]

    return runs_for
