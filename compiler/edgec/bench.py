"""``edgec bench``: instructions, flash and RAM of one inference of a generated project.

Sits after ``edgec compile``. The project contains a benchmark program (bench.c, rendered
from templates/bench.c.j2) that ``make bench`` links with the model, kernel and platform
objects and the target's bench sources (edgec/bench_measure.h). ``bench_project`` builds
it, runs it natively or under the target's emulator, parses its one ``edgec-bench:`` line,
and measures sizes with the binutils ``size`` that matches the target's compiler.

What the figures mean:

- ``instructions``: per ``<prefix>_invoke`` call on integer I/O (no float conversion). On
  Cortex-M the program counts SysTick ticks of the processor clock. Under QEMU with
  ``-icount shift=N`` every instruction advances virtual time by 2**N ns, so instructions =
  ticks × 1e9 / (cpu_clock_hz × 2**N): × 40 on mps2-an386 (25 MHz) with shift=0. The count
  is deterministic, but the 24-bit SysTick and the timer reads give a resolution of one
  tick. None on Linux targets, where QEMU user mode has no instruction count.
- ``wall_time_s``: per inference, the shortest of ``timed_runs(target)`` runs, on Linux
  targets (host time, also under qemu-aarch64). None on Cortex-M.
- ``stack_bytes``: peak stack of the call, measured by painting the free stack before it
  and finding the lowest overwritten word after it, in a separate run with the timer
  stopped. None when the platform cannot paint.
- ``flash_bytes``: .text*, .rodata* and .data* sections of the model and runtime objects
  (``model_objects``).
- ``ram_bytes``: their .data* and .bss* sections plus ``stack_bytes``. The arena is in
  ``<prefix>.o``'s .bss, so it is counted once.
- ``elf_flash_bytes``: the whole linked bench.elf (the function ``elf_flash_bytes`` lists
  the sections).
- ``arena_bytes``, ``macs``: from the compile report's totals.

``bench_layers`` builds the same program with ``-DEDGEC_LAYER_PROFILE`` (make goal
``bench-layers``): the model calls a hook after every kernel call, and the program prints
each layer's ticks, converted here like the total. A layer's figure includes one timer
read and the hook call (about 20 instructions on Cortex-M), so the layers add up to a little
more than ``instructions``.

To support another timer, give its C implementation a new tick unit name and add a
converter to ``_TICK_CONVERTERS``.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from edgec import emulator, toolchain
from edgec.errors import BuildError, EdgecError, TargetError
from edgec.runner import read_metadata
from edgec.targets import Target, load_target

REPORT_FILE = "report.json"
DEFAULT_TIMEOUT_S = 600.0

# Timed runs per benchmark program, of which the shortest is reported. Under QEMU -icount
# every run on the same input takes the same number of instructions, so one is enough.
TIMED_RUNS = {"cortex-m": 1, "cortex-a": 5, "host": 20}

# The line the benchmark program prints (templates/bench.c.j2).
_BENCH_LINE = re.compile(
    r"^edgec-bench: runs=(?P<runs>\d+) ticks=(?P<ticks>\d+) tick_unit=(?P<unit>\w+) "
    r"stack_bytes=(?P<stack>\d+|unknown)\s*$",
    re.MULTILINE,
)

# The per-layer lines of the benchmark program built with -DEDGEC_LAYER_PROFILE.
_LAYER_LINE = re.compile(r"^edgec-bench-layer: index=(?P<index>\d+) ticks=(?P<ticks>\d+)\s*$",
                         re.MULTILINE)

# Section name prefixes that ``size -A`` lists for an object file.
_FLASH_SECTIONS = (".text", ".rodata", ".data")
_RAM_SECTIONS = (".data", ".bss")

NANOSECONDS_PER_SECOND = 1_000_000_000


def timed_runs(target: Target) -> int:
    """Return how many timed runs the benchmark program for ``target`` makes."""
    return TIMED_RUNS[target.kind]


def bench_project(project_dir: Path, timeout_s: float = DEFAULT_TIMEOUT_S) -> dict:
    """Build and run the benchmark program of ``project_dir``; return its figures.

    The result has the keys ``target``, ``instructions``, ``wall_time_s``,
    ``flash_bytes``, ``elf_flash_bytes``, ``ram_bytes``, ``arena_bytes``, ``stack_bytes``
    and ``macs``, described in the module docstring. A figure that the target cannot
    measure is None.
    Raises EdgecError (exit status 2) when ``project_dir`` is not an edgec output folder or
    has no benchmark program. Raises TargetError when its target can neither run natively
    nor in an emulator, and ToolchainError for a missing tool. Raises BuildError when the
    build or the run fails, or the program's output cannot be parsed.
    """
    project_dir = Path(project_dir)
    metadata = read_metadata(project_dir)
    target = load_target(metadata["target"])
    _check_bench_support(target)
    _check_bench_program(project_dir)
    totals = _read_totals(project_dir)
    toolchain.check_toolchain(target)
    size = toolchain.size_command(target)

    binary = toolchain.build(project_dir, target, goal="bench")
    with tempfile.TemporaryDirectory(prefix="edgec-bench-") as workdir:
        work = Path(workdir)
        # run_binary expects an input.bin, but the benchmark program reads no file: its
        # input is all zeros.
        (work / emulator.INPUT_FILE).write_bytes(b"")
        stdout = emulator.run_binary(target, binary.resolve(), work, timeout_s)
    ticks, unit, stack_bytes = parse_bench_line(stdout, binary)
    instructions, wall_time_s = _convert_ticks(ticks, unit, target)

    prefix = metadata.get("prefix", "model")
    objects = model_objects(project_dir, metadata.get("files", []), prefix)
    flash_bytes, ram_data_bytes = _object_sizes(size, objects)
    return {
        "target": target.name,
        "instructions": instructions,
        "wall_time_s": wall_time_s,
        "flash_bytes": flash_bytes,
        "elf_flash_bytes": elf_flash_bytes(size, binary),
        "ram_bytes": ram_data_bytes + (stack_bytes or 0),
        "arena_bytes": totals["arena_bytes"],
        "stack_bytes": stack_bytes,
        "macs": totals["macs"],
    }


def bench_layers(project_dir: Path, timeout_s: float = DEFAULT_TIMEOUT_S) -> list[dict]:
    """Build and run the per-layer benchmark program; return one dict per layer.

    Each dict has the report's ``name``, ``op``, ``kernel``, ``variant`` and ``macs`` of the
    layer and its ``instructions`` (None off QEMU -icount) and ``wall_time_s`` per run.
    Raises the errors of ``bench_project``.
    """
    project_dir = Path(project_dir)
    metadata = read_metadata(project_dir)
    target = load_target(metadata["target"])
    _check_bench_support(target)
    _check_bench_program(project_dir)
    layers = _read_layers(project_dir)
    toolchain.check_toolchain(target)
    binary = toolchain.build(project_dir, target, goal="bench-layers")
    with tempfile.TemporaryDirectory(prefix="edgec-bench-") as workdir:
        work = Path(workdir)
        (work / emulator.INPUT_FILE).write_bytes(b"")
        stdout = emulator.run_binary(target, binary.resolve(), work, timeout_s)
    runs = int(_BENCH_LINE.search(stdout).group("runs")) if _BENCH_LINE.search(stdout) else 1
    ticks = {int(m.group("index")): int(m.group("ticks")) for m in _LAYER_LINE.finditer(stdout)}
    if len(ticks) < len(layers):
        raise BuildError(
            f"{binary.name} printed {len(ticks)} 'edgec-bench-layer:' lines for "
            f"{len(layers)} layers; output ends with:\n{toolchain.output_tail(stdout)}"
        )
    unit = parse_bench_line(stdout, binary)[1]
    result = []
    for index, layer in enumerate(layers):
        instructions, wall_time_s = _convert_ticks(ticks[index], unit, target)
        result.append({
            **{key: layer.get(key) for key in ("name", "op", "kernel", "variant", "macs")},
            "instructions": None if instructions is None else round(instructions / runs),
            "wall_time_s": None if wall_time_s is None else wall_time_s / runs,
        })
    return result


def _read_layers(project_dir: Path) -> list[dict]:
    path = project_dir / REPORT_FILE
    try:
        return list(json.loads(path.read_text())["layers"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise EdgecError(
            f"{path} is missing or damaged ({error}): compile the model again with "
            "`edgec compile`"
        ) from error


def format_layers(layers: list[dict]) -> str:
    """Format ``bench_layers``' result as a table, one row per layer: instructions under
    QEMU -icount, else seconds."""
    counted = all(layer["instructions"] is not None for layer in layers)
    unit = "instructions" if counted else "seconds"
    lines = [f"  {'#':>3} {unit:>12} {'MACs':>10} {'instr/MAC':>9}  kernel  layer"]
    for index, layer in enumerate(layers):
        count = layer["instructions"]
        per_mac = f"{count / layer['macs']:.2f}" if count and layer["macs"] else ""
        text = f"{count:,}" if count is not None else f"{layer['wall_time_s']:.3g}"
        lines.append(
            f"  {index:>3} {text:>12} {layer['macs']:>10,} {per_mac:>9}  "
            f"{layer['kernel'] or '(view)'}  {layer['name']}"
        )
    return "\n".join(lines)


def _check_bench_support(target: Target) -> None:
    if target.kind != "host" and not target.emulator:
        raise TargetError(
            f"target {target.name} runs neither natively nor in an emulator: add an "
            f"[emulator] command to targets/{target.name}.toml to benchmark it"
        )
    if not target.bench_sources:
        raise TargetError(
            f"target {target.name} has no benchmark timer: add [platform] bench_sources "
            f"(an implementation of edgec/bench_measure.h) to targets/{target.name}.toml"
        )


def _check_bench_program(project_dir: Path) -> None:
    if not (project_dir / toolchain.BENCH_SOURCE).is_file():
        raise EdgecError(
            f"{project_dir} has no {toolchain.BENCH_SOURCE} (an older edgec generated it): "
            "compile the model again with `edgec compile`"
        )


def _read_totals(project_dir: Path) -> dict:
    """Return the MACs and arena bytes from the project's report.json."""
    path = project_dir / REPORT_FILE
    try:
        totals = json.loads(path.read_text())["totals"]
        return {"macs": int(totals["macs"]), "arena_bytes": int(totals["arena_bytes"])}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise EdgecError(
            f"{path} is missing or damaged ({error}): compile the model again with "
            "`edgec compile`"
        ) from error


def parse_bench_line(stdout: str, binary: Path) -> tuple[int, str, int | None]:
    """Return (ticks, tick unit, stack bytes or None) from the benchmark program's output."""
    matches = list(_BENCH_LINE.finditer(stdout))
    if not matches:
        raise BuildError(
            f"{binary.name} printed no 'edgec-bench:' line; output ends with:\n"
            f"{toolchain.output_tail(stdout)}"
        )
    line = matches[-1]
    stack = line.group("stack")
    return int(line.group("ticks")), line.group("unit"), None if stack == "unknown" else int(stack)


def _convert_ticks(ticks: int, unit: str, target: Target) -> tuple[int | None, float | None]:
    """Return (instructions, wall_time_s) for ``ticks`` of ``unit`` on ``target``."""
    converter = _TICK_CONVERTERS.get(unit)
    if converter is None:
        raise BuildError(
            f"the benchmark program reports ticks in unknown unit '{unit}'; expected one of "
            f"{', '.join(sorted(_TICK_CONVERTERS))}"
        )
    return converter(ticks, target)


def _from_cpu_clock(ticks: int, target: Target) -> tuple[int | None, float | None]:
    """Convert processor clock ticks under QEMU -icount into instructions."""
    if target.cpu_clock_hz is None:
        raise TargetError(
            f"target {target.name} has no [emulator] cpu_clock_hz, which converts its "
            f"SysTick ticks into instructions: add it to targets/{target.name}.toml"
        )
    shift = icount_shift(target.emulator)
    if shift is None:
        # Without -icount, QEMU's virtual clock follows the host's: the ticks give the
        # emulation's wall time, not an instruction count.
        return None, ticks / target.cpu_clock_hz
    nanoseconds = ticks * NANOSECONDS_PER_SECOND / target.cpu_clock_hz
    return round(nanoseconds / 2**shift), None


def _from_nanoseconds(ticks: int, target: Target) -> tuple[int | None, float | None]:
    return None, ticks / NANOSECONDS_PER_SECOND


_TICK_CONVERTERS: dict[str, Callable[[int, Target], tuple[int | None, float | None]]] = {
    "cpu_clock": _from_cpu_clock,
    "ns": _from_nanoseconds,
}


def icount_shift(command: list[str]) -> int | None:
    """Return N of ``-icount shift=N`` (or ``-icount N``) in a QEMU command, else None.

    ``shift=auto`` gives None too: QEMU then adapts the rate to the host's speed, so the
    count is not deterministic.
    """
    for option, value in itertools.pairwise(command):
        if option != "-icount":
            continue
        for part in value.split(","):
            number = part.removeprefix("shift=")
            if number.isdigit():
                return int(number)
    return None


def model_objects(project_dir: Path, files: list[str], prefix: str) -> list[Path]:
    """Return the object files of the model and the edgec runtime in ``project_dir``.

    They are the objects of the generated ``<prefix>.c`` and ``<prefix>_*.c`` files at the
    top of the project and of the kernels under ``kernels/``, as edgec.json's ``files``
    lists them. The harness, the benchmark program and the platform files are left out.
    The Makefile puts the object of ``a/b.c`` at ``build/obj/a/b.o``.
    """
    objects = []
    for name in files:
        path = PurePosixPath(name)
        if path.suffix != ".c":
            continue
        generated = len(path.parts) == 1 and (
            path.stem == prefix or path.stem.startswith(f"{prefix}_")
        )
        if generated or path.parts[0] == "kernels":
            objects.append(project_dir / "build" / "obj" / path.with_suffix(".o"))
    missing = [str(path) for path in objects if not path.is_file()]
    if missing:
        raise BuildError(f"make bench left no object file {missing[0]}; check the Makefile")
    return objects


def _object_sizes(size: str, objects: list[Path]) -> tuple[int, int]:
    """Return (flash bytes, RAM bytes without stack) of ``objects``, summed."""
    flash_bytes = 0
    ram_bytes = 0
    for path in objects:
        for name, section_bytes in _section_sizes(size, path):
            if name.startswith(_FLASH_SECTIONS):
                flash_bytes += section_bytes
            if name.startswith(_RAM_SECTIONS):
                ram_bytes += section_bytes
    return flash_bytes, ram_bytes


def _section_sizes(size: str, path: Path) -> list[tuple[str, int]]:
    """Return (section name, bytes) for every section ``size -A`` lists for ``path``."""
    sections = []
    for line in _run_size(size, ["-A", str(path)]).splitlines():
        columns = line.split()
        if len(columns) == 3 and columns[0].startswith(".") and columns[1].isdigit():
            sections.append((columns[0], int(columns[1])))
    return sections


def elf_flash_bytes(size: str, binary: Path) -> int:
    """Return the flash bytes of the linked ``binary``: text + data of ``size -B``.

    In the Berkeley format, text is every allocated read-only section and data every
    allocated writable section with contents. On Cortex-M these are .isr_vector, .text,
    .rodata, .ARM.extab, .ARM.exidx and the load image of .data. On Linux targets they
    also include the ELF's loader and unwinding sections (.interp, .dynsym, .eh_frame,
    .init_array, .got and others).
    """
    lines = _run_size(size, ["-B", str(binary)]).splitlines()
    try:
        text, data = (int(column) for column in lines[1].split()[:2])
    except (IndexError, ValueError) as error:
        raise BuildError(
            f"cannot read the output of {size} -B {binary}: {lines[:2]}"
        ) from error
    return text + data


def _run_size(size: str, arguments: list[str]) -> str:
    result = subprocess.run(
        [size, *arguments], capture_output=True, text=True, check=False, timeout=60
    )
    if result.returncode != 0:
        raise BuildError(
            f"{size} {' '.join(arguments)} failed with exit status {result.returncode}: "
            f"{toolchain.output_tail(result.stderr, 3)}"
        )
    return result.stdout


# Rows of the readable table: result key, label, note for a value, note for None.
_TABLE_ROWS = (
    ("instructions", "instructions", "per inference, QEMU -icount",
     "counted only under QEMU -icount (Cortex-M targets)"),
    ("wall_time_s", "wall time (s)", "per inference, best of several runs",
     "measured only on Linux targets"),
    ("flash_bytes", "flash bytes", "model code, weights and kernels", ""),
    ("elf_flash_bytes", "ELF flash bytes", "whole bench.elf", ""),
    ("ram_bytes", "RAM bytes", "model and kernel .data/.bss + stack", ""),
    ("arena_bytes", "arena bytes", "part of RAM bytes", ""),
    ("stack_bytes", "stack bytes", "peak, measured by stack painting",
     "the platform cannot paint its stack"),
    ("macs", "MACs", "from report.json", ""),
)


def format_bench(result: dict, project_dir: Path) -> str:
    """Format a ``bench_project`` result as a short table for the terminal."""
    lines = [f"edgec: bench of {project_dir} on {result['target']} (integer I/O, zero input)"]
    for key, label, note, missing_note in _TABLE_ROWS:
        value = result[key]
        text = "n/a" if value is None else _format_value(value)
        lines.append(f"  {label:16} {text:>14}  {missing_note if value is None else note}")
    return "\n".join(lines)


def _format_value(value: float) -> str:
    if isinstance(value, float):
        return f"{value:.6f}"
    return f"{value:,}"
