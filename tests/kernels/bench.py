"""Kernel test bench: renders, builds and runs one C test program per kernel and reads back
the outputs.

A program contains many ``KernelCase`` objects. Each case embeds its inputs and parameters as
``static const`` arrays and calls one kernel through a macro of ``kernel_calls.c.j2``. The
program writes one record per case to output.bin: the kernel's status (int32), a guard flag
(1 byte: 1 when the bytes around the output buffer kept their fill value) and the output
size and bytes. ``run_program`` builds it with the target's real compiler and flags
(``edgec.toolchain``) and runs it natively or under QEMU (``edgec.emulator``).

To test a new kernel: add a macro to kernel_calls.c.j2, a call builder to
``tests.kernels.calls`` and a program with its cases to ``tests.kernels.cases``.
"""

from __future__ import annotations

import math
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import numpy as np

from edgec import emulator, toolchain
from edgec.errors import EdgecError
from edgec.resources import runtime_dir
from edgec.targets import Target

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
PROGRAM_SOURCE = "kernel_test.c"
KERNEL_DIR = "kernels/ref"
INCLUDE_DIR = "include"

# Bytes of fill value on both sides of the output buffer; the program reports whether they
# changed. Status-error cases expect the whole buffer to keep this value.
GUARD_BYTES = 16
GUARD_VALUE = 0xA5

CTYPES = {
    np.dtype(np.int8): "int8_t",
    np.dtype(np.uint8): "uint8_t",
    np.dtype(np.int16): "int16_t",
    np.dtype(np.int32): "int32_t",
    np.dtype(np.int64): "int64_t",
    np.dtype(np.uint32): "uint32_t",
    np.dtype(np.float32): "float",
}
VALUES_PER_LINE = 12


@dataclass
class KernelCase:
    """One kernel call with its inputs and expected result.

    ``macro`` names the call macro in kernel_calls.c.j2, ``fields`` contains the scalars and
    struct values that macro prints, and ``arrays`` the constant arrays by role (``input``,
    ``filter``, ...). ``expected`` is the exact output (``output_size`` bytes). A case with
    ``expected_status`` other than 0 expects the kernel to reject its arguments and leave the
    output untouched.
    """

    name: str
    macro: str
    fields: dict
    arrays: dict[str, np.ndarray]
    expected: bytes
    expected_status: int = 0
    symbols: dict[str, str] = field(default_factory=dict)
    # The one-node graph and feeds the case was built from (None for hand-made cases);
    # kernel variant cases are derived from them.
    graph: object = field(default=None, repr=False, compare=False)
    feeds: dict | None = field(default=None, repr=False, compare=False)

    @property
    def output_size(self) -> int:
        return len(self.expected)


@dataclass
class CaseResult:
    """What the C program reported for one case."""

    status: int
    guard_intact: bool
    output: bytes


@dataclass
class ProgramRun:
    """Outcome of building and running one program: results per case, or the error."""

    results: list[CaseResult] | None = None
    error: str | None = None


def untouched_output(size: int) -> bytes:
    """Return the output bytes of a case whose kernel must not write: the fill value."""
    return bytes([GUARD_VALUE]) * size


def c_literal(value, ctype: str) -> str:
    """Return a C literal of ``value`` that is exact for ``ctype``."""
    if ctype == "float":
        number = float(value)
        if math.isnan(number):
            return "NAN"
        if math.isinf(number):
            return "INFINITY" if number > 0 else "-INFINITY"
        return number.hex() + "f"
    number = int(value)
    if ctype == "int32_t" and number == -(2**31):
        return "(-2147483647 - 1)"
    if ctype == "int64_t" and number == -(2**63):
        return "(-9223372036854775807 - 1)"
    if ctype == "uint32_t":
        return f"{number}u"
    return str(number)


def _array_body(values: np.ndarray, ctype: str) -> str:
    literals = [c_literal(v, ctype) for v in values.ravel()]
    lines = [
        "    " + ", ".join(literals[i : i + VALUES_PER_LINE])
        for i in range(0, len(literals), VALUES_PER_LINE)
    ]
    return ",\n".join(lines)


def _c_arrays(case: KernelCase, index: int) -> list[dict]:
    """Name the case's arrays (``case<i>_<role>``) and format their values."""
    arrays = []
    for role, values in case.arrays.items():
        values = np.asarray(values)
        ctype = CTYPES[values.dtype]
        symbol = f"case{index}_{role}"
        case.symbols[role] = symbol
        arrays.append(
            {
                "ctype": ctype,
                "symbol": symbol,
                # C forbids zero-length arrays, so an empty array becomes one unused element.
                "length": max(values.size, 1),
                "body": _array_body(values, ctype) if values.size else "    0",
            }
        )
    case.symbols.setdefault("bias", "NULL")
    case.symbols.setdefault("group_multipliers", "NULL")
    return arrays


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render_program(program: str, cases: list[KernelCase]) -> str:
    """Render the C source of the test program that runs ``cases`` in order."""
    for case in cases:
        if "*/" in case.name:
            raise ValueError(f"case name {case.name!r} would end a C comment")
    rendered_cases = [
        {"case": case, "arrays": _c_arrays(case, index)} for index, case in enumerate(cases)
    ]
    capacity = max([case.output_size for case in cases] + [1])
    return _environment().get_template("kernel_test.c.j2").render(
        program=program,
        cases=rendered_cases,
        capacity=capacity,
        guard_bytes=GUARD_BYTES,
        guard_value=GUARD_VALUE,
    )


def parse_records(data: bytes, count: int) -> list[CaseResult]:
    """Split output.bin into ``count`` case records; raise ValueError when it is malformed."""
    results = []
    offset = 0
    header = struct.Struct("<iBI")
    for index in range(count):
        if offset + header.size > len(data):
            raise ValueError(f"output.bin ends before the record of case {index}")
        status, guard, size = header.unpack_from(data, offset)
        offset += header.size
        if offset + size > len(data):
            raise ValueError(f"output.bin ends inside the output of case {index}")
        results.append(CaseResult(status, guard == 1, data[offset : offset + size]))
        offset += size
    if offset != len(data):
        raise ValueError(f"output.bin has {len(data) - offset} bytes after the last record")
    return results


def write_project(project_dir: Path, target: Target, program: str, cases: list[KernelCase],
                  kernel_sources: list[str], defines: tuple[str, ...] = ()) -> None:
    """Write the program, the runtime files it needs and the target's Makefile."""
    project_dir.mkdir(parents=True, exist_ok=True)
    (project_dir / PROGRAM_SOURCE).write_text(render_program(program, cases), encoding="utf-8")

    shutil.copytree(runtime_dir() / INCLUDE_DIR, project_dir / INCLUDE_DIR, dirs_exist_ok=True)
    sources = [PROGRAM_SOURCE]
    for name in kernel_sources:
        # A bare file name is a reference kernel; a path is relative to runtime_c/.
        relative = name if "/" in name else f"{KERNEL_DIR}/{name}"
        (project_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(runtime_dir() / relative, project_dir / relative)
        sources.append(relative)
    sources += toolchain.copy_platform_files(target, project_dir)

    makefile = toolchain.render_makefile(target, sources, [INCLUDE_DIR], defines)
    (project_dir / "Makefile").write_text(makefile, encoding="utf-8")


def run_program(project_dir: Path, target: Target, program: str, cases: list[KernelCase],
                kernel_sources: list[str], defines: tuple[str, ...] = ()) -> ProgramRun:
    """Build and run one program for ``target`` with preprocessor ``defines``; build and
    run failures become ``error``."""
    try:
        write_project(project_dir, target, program, cases, kernel_sources, defines)
        binary = toolchain.build(project_dir, target)
        # The emulator module expects an input file; these programs read none.
        (project_dir / emulator.INPUT_FILE).write_bytes(b"")
        emulator.run_binary(target, binary, project_dir, timeout_s=120)
        data = (project_dir / emulator.OUTPUT_FILE).read_bytes()
        return ProgramRun(results=parse_records(data, len(cases)))
    except (EdgecError, OSError, ValueError) as error:
        return ProgramRun(error=f"{type(error).__name__}: {error}")


def describe_mismatches(cases: list[KernelCase], results: list[CaseResult]) -> list[str]:
    """Return one line per case whose status, guard bytes or output differ from expected."""
    lines = []
    for case, result in zip(cases, results, strict=True):
        if result.status != case.expected_status:
            lines.append(
                f"{case.name}: status {result.status}, expected {case.expected_status}"
            )
        elif not result.guard_intact:
            lines.append(f"{case.name}: the kernel wrote outside its output buffer")
        elif result.output != case.expected:
            lines.append(f"{case.name}: {_first_difference(case.expected, result.output)}")
    return lines


def _first_difference(expected: bytes, actual: bytes) -> str:
    if len(expected) != len(actual):
        return f"{len(actual)} output bytes, expected {len(expected)}"
    differing = [i for i, (a, b) in enumerate(zip(expected, actual, strict=True)) if a != b]
    first = differing[0]
    return (
        f"{len(differing)} of {len(expected)} output bytes differ; first at byte {first}: "
        f"0x{actual[first]:02x}, expected 0x{expected[first]:02x}"
    )
