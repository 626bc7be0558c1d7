"""Run a built binary on its target: natively, under qemu-aarch64, or under qemu-system-arm.

Sits after ``edgec.toolchain.build``. The binary is the program built from the test harness
(templates/harness.c.j2): it reads ``input.bin`` from its current directory and writes
``output.bin`` there. On Cortex-M the program reaches those host files through Arm
semihosting, and the startup code exits through semihosting with main's return value, so
QEMU's exit status is the program's.

Every failure (non-zero exit status, signal, time-out, missing output.bin) raises
BuildError with the tail of the program's output. The target file's ``[emulator] command``
starts the binary, so a new target needs no change here.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from edgec.errors import BuildError
from edgec.targets import BINARY_PLACEHOLDER, Target
from edgec.toolchain import check_toolchain, output_tail

INPUT_FILE = "input.bin"
OUTPUT_FILE = "output.bin"


def emulator_command(target: Target, binary: Path) -> list[str]:
    """Return the command that runs ``binary`` for ``target`` (the binary alone for host)."""
    binary_path = str(Path(binary).resolve())
    if not target.emulator:
        return [binary_path]
    return [binary_path if word == BINARY_PLACEHOLDER else word for word in target.emulator]


def run_binary(target: Target, binary: Path, workdir: Path, timeout_s: float = 600) -> str:
    """Run ``binary`` in ``workdir`` and return its standard output.

    ``workdir`` must contain input.bin; a stale output.bin is removed first. Raises
    ToolchainError when the emulator is missing, and BuildError when the program exits with
    a non-zero status, runs longer than ``timeout_s`` seconds, or leaves no output.bin.
    """
    workdir = Path(workdir)
    binary = Path(binary)
    check_toolchain(target, compiler=False)
    if not binary.is_file():
        raise BuildError(f"{binary} not found: build the project first")
    if not (workdir / INPUT_FILE).is_file():
        raise BuildError(f"{workdir / INPUT_FILE} not found: write the input samples first")
    (workdir / OUTPUT_FILE).unlink(missing_ok=True)

    command = emulator_command(target, binary)
    where = _describe_run(target, binary)
    try:
        # subprocess.run kills the process when the time-out expires.
        result = subprocess.run(
            command,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise BuildError(
            f"{where} timed out after {timeout_s:g} s and was stopped; output ends with:\n"
            f"{_combined_tail(error.stdout, error.stderr)}"
        ) from error

    if result.returncode != 0:
        raise BuildError(
            f"{where} failed with {_describe_status(result.returncode)}; output ends with:\n"
            f"{_combined_tail(result.stdout, result.stderr)}"
        )
    if not (workdir / OUTPUT_FILE).is_file():
        raise BuildError(
            f"{where} exited with status 0 but wrote no {OUTPUT_FILE} in {workdir}; "
            f"output ends with:\n{_combined_tail(result.stdout, result.stderr)}"
        )
    return result.stdout.decode("utf-8", errors="replace")


def _describe_run(target: Target, binary: Path) -> str:
    if target.emulator:
        return f"{binary.name} for target {target.name} under {target.emulator[0]}"
    return f"{binary.name} for target {target.name}"


def _describe_status(returncode: int) -> str:
    """Describe an exit status. subprocess reports death by signal N as -N."""
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit status {returncode}"


def _combined_tail(stdout: bytes | None, stderr: bytes | None) -> str:
    """Return the tails of standard output and standard error, stderr last."""
    parts = []
    if stdout:
        parts.append(output_tail(stdout))
    if stderr:
        parts.append(output_tail(stderr))
    return "\n".join(parts) if parts else "(no output)"
