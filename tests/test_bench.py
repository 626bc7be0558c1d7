"""Tests of `edgec bench`: the timer and stack methods, the figures on a real model, errors.

The method tests build small C programs with the benchmark's own measurement code
(runtime_c/platform/*/bench_measure.c) and run them natively or under qemu-system-arm with
each Cortex-M target's command (-icount shift=0). The model tests run the real `edgec`
command on the MLPerf Tiny keyword-spotting model.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from edgec.emulator import emulator_command
from edgec.resources import runtime_dir, targets_dir
from edgec.targets import load_target
from edgec.toolchain import build, copy_platform_files, render_bench, render_makefile

EMULATED = [pytest.mark.qemu, pytest.mark.cross]
CORTEX_M_TARGETS = [
    "cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55",
]
CORTEX_M_PARAMS = [pytest.param(name, id=name, marks=EMULATED) for name in CORTEX_M_TARGETS]
KWS_MODEL = Path("tflite") / "keyword_spotting_int8.tflite"
BENCH_KEYS = {
    "instructions", "flash_bytes", "elf_flash_bytes", "ram_bytes", "arena_bytes",
    "stack_bytes", "macs",
}

# A loop of exactly 2 instructions per iteration (subs, bne), timed twice with the
# benchmark's tick counter. The first time SysTick has its full 24-bit period. The second
# time the period is 1024 ticks, so the counter wraps about 50 times inside the loop (about
# 60 times at 32 MHz). On Armv6-M, subs needs a low register (the "l" constraint) and unified
# syntax, which GCC's inline assembly does not select there by default.
LOOP_ITERATIONS = 1_000_000
LOOP_PROGRAM = """\
#include <stdint.h>
#include <stdio.h>

#include "edgec/bench_measure.h"

static uint64_t time_loop(uint32_t iterations)
{
    uint64_t start = edgec_bench_timer_read();

    __asm__ volatile(".syntax unified\\n\\t"
                     "1:\\n\\t"
                     "subs %0, %0, #1\\n\\t"
                     "bne 1b\\n\\t"
                     : "+l"(iterations)
                     :
                     : "cc");
    return edgec_bench_timer_read() - start;
}

int main(void)
{
    unsigned long full_period;
    unsigned long short_period;

    edgec_bench_timer_start();
    full_period = (unsigned long)time_loop(ITERATIONS);
    edgec_bench_systick_start(1023u);
    short_period = (unsigned long)time_loop(ITERATIONS);
    edgec_bench_timer_stop();
    printf("full_period=%lu short_period=%lu\\n", full_period, short_period);
    return 0;
}
"""

# Two functions whose frames differ by FRAME_DIFFERENCE bytes of local array. Both arrays
# are larger than the few unpainted bytes right below the caller (the paint function's own
# frame, and on x86-64 the 128-byte red zone), which a shallower call would stay inside.
FRAME_DIFFERENCE = 1000
STACK_PROGRAM = """\
#include <stdint.h>
#include <stdio.h>

#include "edgec/bench_measure.h"

#define SMALL_BYTES 256
#define LARGE_BYTES (SMALL_BYTES + FRAME_DIFFERENCE)

static __attribute__((noinline)) uint32_t fill_small(uint32_t seed)
{
    volatile uint8_t buffer[SMALL_BYTES];
    uint32_t sum = 0;
    int i;

    for (i = 0; i < SMALL_BYTES; i++) {
        buffer[i] = (uint8_t)(seed + (uint32_t)i);
    }
    for (i = 0; i < SMALL_BYTES; i++) {
        sum += buffer[i];
    }
    return sum;
}

static __attribute__((noinline)) uint32_t fill_large(uint32_t seed)
{
    volatile uint8_t buffer[LARGE_BYTES];
    uint32_t sum = 0;
    int i;

    for (i = 0; i < LARGE_BYTES; i++) {
        buffer[i] = (uint8_t)(seed + (uint32_t)i);
    }
    for (i = 0; i < LARGE_BYTES; i++) {
        sum += buffer[i];
    }
    return sum;
}

int main(void)
{
    uintptr_t caller_sp = edgec_bench_stack_pointer();
    uint32_t sum;
    long small;
    long large;

    edgec_bench_stack_paint(caller_sp);
    sum = fill_small(1u);
    small = edgec_bench_stack_peak(caller_sp);

    edgec_bench_stack_paint(caller_sp);
    sum += fill_large(2u);
    large = edgec_bench_stack_peak(caller_sp);

    printf("small=%ld large=%ld sum=%lu\\n", small, large, (unsigned long)sum);
    return 0;
}
"""


def run_edgec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgec.cli", *args],
                          capture_output=True, text=True, timeout=600, check=False)


def run_measure_program(tmp_path: Path, target_name: str, source: str, defines: dict) -> str:
    """Build ``source`` with the target's platform and bench sources; return its output."""
    target = load_target(target_name)
    project = tmp_path / target_name
    header = Path("include") / "edgec" / "bench_measure.h"
    (project / header.parent).mkdir(parents=True)
    (project / header).write_text((runtime_dir() / header).read_text())
    lines = [f"#define {name} {value}" for name, value in defines.items()]
    (project / "program.c").write_text("\n".join(lines) + "\n" + source)
    sources = ["program.c", *copy_platform_files(target, project), *target.bench_sources]
    (project / "Makefile").write_text(render_makefile(target, sources, ["include"]))
    binary = build(project, target)

    result = subprocess.run(emulator_command(target, binary), cwd=project,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def read_figures(output: str) -> dict[str, int]:
    return {name: int(value) for name, value in re.findall(r"(\w+)=(-?\d+)", output)}


# Methods


@pytest.mark.parametrize("target_name", CORTEX_M_PARAMS)
def test_systick_counts_known_loop(tmp_path, target_name):
    """The target's cpu_clock_hz converts SysTick ticks into instructions within 0.01%."""
    target = load_target(target_name)
    # -icount shift=0: one instruction per nanosecond. Exact, as 32 MHz gives 31.25.
    instructions_per_tick = Fraction(1_000_000_000, target.cpu_clock_hz)
    output = run_measure_program(tmp_path, target_name, LOOP_PROGRAM,
                                 {"ITERATIONS": f"{LOOP_ITERATIONS}u"})
    figures = read_figures(output)
    expected = 2 * LOOP_ITERATIONS

    full_period = figures["full_period"] * instructions_per_tick
    # Resolution one tick, plus the few instructions of the timer reads themselves: two
    # ticks are at most 100 instructions (0.005%). A wrong clock is off by far more.
    assert abs(full_period - expected) <= 2 * instructions_per_tick, output
    assert abs(full_period - expected) <= expected // 10_000, output
    # About 50 SysTick exceptions add their handler's instructions; a lost wrap would
    # lose 1024 ticks (2% of the loop).
    short_period = figures["short_period"] * instructions_per_tick
    assert abs(short_period - expected) <= expected // 1000, output


@pytest.mark.parametrize("target_name", ["host", *CORTEX_M_PARAMS])
def test_stack_painting_sees_larger_frame(tmp_path, target_name):
    output = run_measure_program(tmp_path, target_name, STACK_PROGRAM,
                                 {"FRAME_DIFFERENCE": FRAME_DIFFERENCE})
    figures = read_figures(output)

    assert figures["small"] >= 256, output
    assert FRAME_DIFFERENCE <= figures["large"] - figures["small"] <= FRAME_DIFFERENCE + 16, output


# `edgec bench` on the keyword-spotting model


@pytest.fixture(scope="module")
def kws_cortex_m4(models, tmp_path_factory) -> Path:
    from edgec.pipeline import compile_model

    project = tmp_path_factory.mktemp("bench") / "kws-cortex-m4"
    compile_model(models / KWS_MODEL, "cortex-m4", project, quiet=True)
    return project


@pytest.fixture(scope="module")
def kws_host(models, tmp_path_factory) -> Path:
    from edgec.pipeline import compile_model

    project = tmp_path_factory.mktemp("bench") / "kws-host"
    compile_model(models / KWS_MODEL, "host", project, quiet=True)
    return project


def bench_json(project: Path) -> dict:
    result = run_edgec("bench", str(project), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def report_totals(project: Path) -> dict:
    return json.loads((project / "report.json").read_text())["totals"]


def linker_stack_bytes(project: Path, target_name: str = "cortex-m4") -> int:
    """Return the default stack size that the project's linker script reserves."""
    script = (project / load_target(target_name).linker_script).read_text()
    kilobytes = re.search(r"__stack_size = DEFINED\(__stack_size\) \? __stack_size : (\d+)K;",
                          script)
    assert kilobytes is not None
    return int(kilobytes.group(1)) * 1024


@pytest.mark.qemu
@pytest.mark.cross
def test_bench_json_on_cortex_m4_kws(kws_cortex_m4):
    figures = bench_json(kws_cortex_m4)
    totals = report_totals(kws_cortex_m4)

    assert BENCH_KEYS <= set(figures)
    assert figures["target"] == "cortex-m4"
    for key in BENCH_KEYS:
        assert type(figures[key]) is int, key
    assert figures["wall_time_s"] is None
    # The reference kernels take at least one instruction per MAC, and far fewer than 100.
    assert totals["macs"] < figures["instructions"] < 100 * totals["macs"]
    assert figures["macs"] == totals["macs"]
    assert figures["arena_bytes"] == totals["arena_bytes"]
    assert 0 < figures["stack_bytes"] < linker_stack_bytes(kws_cortex_m4)
    assert figures["flash_bytes"] < figures["elf_flash_bytes"]
    assert figures["flash_bytes"] >= totals["weight_bytes"]
    assert figures["ram_bytes"] >= figures["arena_bytes"] + figures["stack_bytes"]
    # The compile report's estimates must not promise less than the measured figures.
    assert totals["stack_bytes_estimate"] >= figures["stack_bytes"]
    assert totals["flash_bytes_estimate"] >= figures["flash_bytes"]
    assert totals["ram_bytes_estimate"] >= figures["ram_bytes"]


@pytest.mark.qemu
@pytest.mark.cross
def test_bench_on_cortex_m4_is_deterministic(kws_cortex_m4):
    first = bench_json(kws_cortex_m4)
    second = bench_json(kws_cortex_m4)

    assert first["instructions"] == second["instructions"]
    assert first["stack_bytes"] == second["stack_bytes"]


@pytest.mark.parametrize(
    "target_name", [param for param in CORTEX_M_PARAMS if param.id != "cortex-m4"]
)
def test_bench_json_on_other_cortex_m_kws(models, tmp_path, target_name):
    from edgec.pipeline import compile_model

    project = tmp_path / f"kws-{target_name}"
    compile_model(models / KWS_MODEL, target_name, project, quiet=True)

    figures = bench_json(project)
    totals = report_totals(project)

    assert figures["target"] == target_name
    for key in BENCH_KEYS:
        assert type(figures[key]) is int, key
    assert figures["wall_time_s"] is None
    # One Helium instruction does at most 16 int8 multiply-accumulates.
    assert totals["macs"] / 16 < figures["instructions"] < 100 * totals["macs"]
    assert 0 < figures["stack_bytes"] < linker_stack_bytes(project, target_name)
    assert figures["flash_bytes"] < figures["elf_flash_bytes"]
    assert figures["flash_bytes"] >= totals["weight_bytes"]
    assert figures["ram_bytes"] >= figures["arena_bytes"] + figures["stack_bytes"]
    # The compile report's estimates must not promise less than the measured figures.
    assert totals["stack_bytes_estimate"] >= figures["stack_bytes"]
    assert totals["ram_bytes_estimate"] >= figures["ram_bytes"]
    assert totals["flash_bytes_estimate"] >= figures["flash_bytes"]


def test_bench_json_on_host_kws(kws_host):
    figures = bench_json(kws_host)

    assert figures["target"] == "host"
    assert figures["instructions"] is None
    assert isinstance(figures["wall_time_s"], float)
    assert figures["wall_time_s"] > 0
    assert figures["stack_bytes"] > 0
    assert figures["ram_bytes"] >= figures["arena_bytes"] + figures["stack_bytes"]
    assert figures["flash_bytes"] < figures["elf_flash_bytes"]


def test_bench_table_on_host_kws(kws_host):
    result = run_edgec("bench", str(kws_host))

    assert result.returncode == 0, result.stderr
    rows = {line.split()[0] for line in result.stdout.splitlines()[1:]}
    assert rows == {"instructions", "wall", "flash", "ELF", "RAM", "arena", "stack", "MACs"}
    assert "instructions                n/a" in result.stdout
    assert "{" not in result.stdout


def test_bench_program_only_in_bench_build(kws_host):
    files = json.loads((kws_host / "edgec.json").read_text())["files"]
    assert "bench.c" in files
    assert "platform/posix/bench_measure.c" in files

    result = subprocess.run(["make", "-C", str(kws_host)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    symbols = subprocess.run(["nm", str(kws_host / "build" / "model.elf")],
                             capture_output=True, text=True, check=True).stdout
    assert "model_invoke_io" in symbols
    assert "edgec_bench_timer_read" not in symbols


def test_bench_timeout_exits_1(kws_host):
    result = run_edgec("bench", str(kws_host), "--timeout", "0.0001")

    assert result.returncode == 1
    assert "timed out after 0.0001 s" in result.stderr
    assert "Traceback" not in result.stderr


# Bad input


def assert_one_line_error(result: subprocess.CompletedProcess, fragment: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("edgec: error: ")
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr


def test_bench_rejects_folder_without_edgec_json(tmp_path):
    result = run_edgec("bench", str(tmp_path), "--json")
    assert_one_line_error(result, "is not an edgec output folder")
    assert result.stdout == ""


def test_bench_rejects_file(tmp_path):
    path = tmp_path / "model.tflite"
    path.write_bytes(b"not a folder")
    assert_one_line_error(run_edgec("bench", str(path)), "is not an edgec output folder")


def test_bench_rejects_project_without_bench_program(kws_host, tmp_path):
    project = tmp_path / "old"
    project.mkdir()
    for name in ("edgec.json", "report.json", "Makefile"):
        (project / name).write_text((kws_host / name).read_text())
    assert_one_line_error(run_edgec("bench", str(project)), "has no bench.c")


def write_metadata(project: Path, target_name: str) -> None:
    project.mkdir()
    metadata = {"target": target_name, "inputs": [], "outputs": [], "files": []}
    (project / "edgec.json").write_text(json.dumps(metadata))


def test_bench_rejects_target_without_bench_sources(tmp_path, monkeypatch, capsys):
    from edgec.cli import main

    targets = tmp_path / "targets"
    targets.mkdir()
    text = (targets_dir() / "host.toml").read_text()
    text = re.sub(r"\[platform\]\n(#.*\n)*bench_sources = .*\n", "", text)
    (targets / "plain.toml").write_text(text.replace('name = "host"', 'name = "plain"'))
    monkeypatch.setattr("edgec.targets.targets_dir", lambda: targets)
    write_metadata(tmp_path / "project", "plain")

    status = main(["bench", str(tmp_path / "project")])

    lines = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(lines) == 1
    assert "target plain has no benchmark timer" in lines[0]


def test_bench_rejects_target_without_emulator(tmp_path, monkeypatch):
    import dataclasses

    from edgec.bench import bench_project
    from edgec.errors import TargetError

    no_emulator = dataclasses.replace(load_target("cortex-a53"), emulator=[])
    monkeypatch.setattr("edgec.bench.load_target", lambda name: no_emulator)
    write_metadata(tmp_path / "project", "cortex-a53")

    with pytest.raises(TargetError, match="runs neither natively nor in an emulator") as error:
        bench_project(tmp_path / "project")
    assert error.value.exit_status == 2


def test_compile_rejects_prefix_bench(models, tmp_path):
    result = run_edgec("compile", str(models / KWS_MODEL), "--target", "host",
                       "--output", str(tmp_path / "out"), "--prefix", "bench")
    assert_one_line_error(result, "--prefix 'bench' would overwrite")
    assert not (tmp_path / "out").exists()


# Parsing


def test_icount_shift_parsed_from_qemu_command():
    from edgec.bench import icount_shift

    assert icount_shift(load_target("cortex-m4").emulator) == 0
    assert icount_shift(["qemu-system-arm", "-icount", "shift=3,align=off"]) == 3
    assert icount_shift(["qemu-system-arm", "-icount", "2"]) == 2
    assert icount_shift(["qemu-system-arm", "-icount", "shift=auto"]) is None
    assert icount_shift(["qemu-aarch64", "{binary}"]) is None


def test_render_bench_calls_integer_invoke():
    text = render_bench("kws", 3)

    assert "kws_invoke(input_sample, output_sample)" in text
    assert "invoke_io" not in text
    assert '#include "kws.h"' in text
    assert "#define BENCH_TIMED_RUNS 3u" in text
    assert "KWS_INPUT_BYTES" in text
