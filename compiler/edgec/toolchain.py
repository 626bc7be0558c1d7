"""Toolchain checks, the generated project's build files, and the build step.

Sits after code generation: the code generator writes the model's C files into a project
folder, calls ``copy_platform_files`` for the target's startup code and linker script, and
writes the Makefile from ``render_makefile`` (and, for ``edgec run``, the harness from
``render_harness``; for ``edgec bench``, the benchmark program from ``render_bench``).
``build`` then runs ``make`` in that folder; ``edgec.emulator`` runs the result.

Invariants: a generated project is self-contained (a user can run ``make`` in it by hand);
platform files sit at the same paths relative to the project as they do relative to
``runtime_c/``; ``make`` builds ``build/model.elf`` and ``make bench`` builds
``build/bench.elf`` from the same objects, with the harness replaced by the benchmark
program and the target's bench sources. Every missing tool is reported with the Debian
package that provides it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath

import jinja2

from edgec.errors import BuildError, ToolchainError
from edgec.resources import runtime_dir, templates_dir
from edgec.targets import Target

BINARY_PATH = PurePosixPath("build/model.elf")
BENCH_BINARY_PATH = PurePosixPath("build/bench.elf")
# The benchmark program built with -DEDGEC_LAYER_PROFILE: it also times every layer.
LAYERS_BINARY_PATH = PurePosixPath("build/bench_layers.elf")
# Make goals of a generated project and the binary each one builds.
MAKE_GOALS = {
    "all": BINARY_PATH,
    "bench": BENCH_BINARY_PATH,
    "bench-layers": LAYERS_BINARY_PATH,
}

# The program `edgec run` builds with the model, and the one `edgec bench` builds in its place.
HARNESS_SOURCE = "harness.c"
BENCH_SOURCE = "bench.c"

# Every target builds with make; the Debian package has the same name.
_MAKE_COMMAND = "make"
_MAKE_PACKAGE = "make"

# Lines of compiler or program output that an error message shows.
OUTPUT_TAIL_LINES = 30

_BUILD_TIMEOUT_S = 600

# A gcc command name: an optional target triplet with its trailing '-', then gcc and an
# optional version suffix (gcc-12).
_GCC_NAME = re.compile(r"(?P<triplet>(?:[A-Za-z0-9_.]+-)*)gcc(?:-[0-9.]+)?")


def check_toolchain(target: Target, *, compiler: bool = True, emulator: bool = True) -> None:
    """Check that the target's build tools (``compiler``) and emulator (``emulator``) exist.

    Raises ToolchainError naming every missing command or compiler file and the Debian
    packages to install.
    """
    problems: list[str] = []
    packages: list[str] = []

    def missing(problem: str, package: str) -> None:
        problems.append(problem)
        if package not in packages:
            packages.append(package)

    if compiler:
        if shutil.which(_MAKE_COMMAND) is None:
            missing(f"{_MAKE_COMMAND} not found", _MAKE_PACKAGE)
        if shutil.which(target.cc) is None:
            missing(f"{target.cc} not found", target.compiler_package)
        else:
            for file_name, package in target.compiler_files.items():
                if not _compiler_finds(target, file_name):
                    missing(f"{target.cc} cannot find {file_name}", package)

    if emulator and target.emulator and shutil.which(target.emulator[0]) is None:
        missing(f"{target.emulator[0]} not found", target.emulator_package or target.emulator[0])

    if problems:
        noun = "package" if len(packages) == 1 else "packages"
        names = " ".join(packages)
        raise ToolchainError(
            f"{', '.join(problems)}: install the Debian {noun} {names} (apt-get install {names})"
        )


def size_command(target: Target) -> str:
    """Return the binutils ``size`` command that matches the target's compiler.

    The name comes from the compiler's: ``arm-none-eabi-gcc`` gives ``arm-none-eabi-size``,
    ``aarch64-linux-gnu-gcc`` gives ``aarch64-linux-gnu-size``, ``gcc`` (or ``gcc-12``)
    gives ``size``, in the compiler's folder when its command is a path. Raises
    ToolchainError when the compiler is not a gcc or the tool is missing.
    """
    compiler = PurePosixPath(target.cc)
    match = _GCC_NAME.fullmatch(compiler.name)
    if match is None:
        raise ToolchainError(
            f"cannot derive the size tool from compiler {target.cc} of target {target.name}: "
            "edgec bench expects a gcc (for example arm-none-eabi-gcc)"
        )
    triplet = match.group("triplet")
    command = str(compiler.with_name(f"{triplet}size"))
    if shutil.which(command) is None:
        package = f"binutils-{triplet.rstrip('-')}" if triplet else "binutils"
        raise ToolchainError(
            f"{command} not found: install the Debian package {package} "
            f"(apt-get install {package})"
        )
    return command


def _compiler_finds(target: Target, file_name: str) -> bool:
    """Return whether ``cc -print-file-name`` resolves ``file_name`` for the target's flags.

    gcc prints the bare name back when it finds no such file in its search path.
    """
    result = subprocess.run(
        [target.cc, *target.cflags, f"-print-file-name={file_name}"],
        capture_output=True,
        text=True,
        check=False,
    )
    found = result.stdout.strip()
    return result.returncode == 0 and found != file_name and Path(found).exists()


def copy_platform_files(target: Target, project_dir: Path) -> list[str]:
    """Copy the target's platform sources and linker script into ``project_dir``.

    Files keep their path relative to ``runtime_c/`` (for example
    ``platform/cortex_m/startup_mps2_an386.c``), which is where the Makefile looks for the
    linker script. Returns the C sources to add to the Makefile, relative to the project.
    The target's bench sources are copied too but not returned, because
    ``render_makefile`` adds them to the benchmark program only.
    """
    relative_paths = list(target.platform_sources) + list(target.bench_sources)
    if target.linker_script:
        relative_paths.append(target.linker_script)

    for relative in relative_paths:
        source = runtime_dir() / relative
        destination = project_dir / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
        # Platform sources include their own headers with #include "...", so copy the
        # headers of the same folder too.
        for header in source.parent.glob("*.h"):
            shutil.copyfile(header, destination.parent / header.name)

    return list(target.platform_sources)


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render_makefile(
    target: Target, sources: list[str], include_dirs: list[str], defines: tuple[str, ...] = ()
) -> str:
    """Render the project Makefile that builds ``build/model.elf`` for ``target``.

    ``defines`` are preprocessor definitions (``NAME=VALUE``) for every source.
    ``sources`` and ``include_dirs`` are relative to the project folder, use ``/``, and
    contain no spaces (make cannot quote them) and no ``..`` (objects go under build/obj/).
    The Makefile's ``bench`` goal links ``build/bench.elf`` from ``bench_sources(target,
    sources)``.
    """
    for path in [*sources, *include_dirs, *target.bench_sources]:
        _check_project_path(path)
    for source in sources:
        if not source.endswith(".c"):
            raise ValueError(f"Makefile source {source!r} is not a .c file")
    if not sources:
        raise ValueError("a Makefile needs at least one C source")

    template = _environment().get_template("Makefile.j2")
    return template.render(
        target=target,
        defines=defines,
        sources=sources,
        bench_sources=bench_sources(target, sources),
        include_dirs=include_dirs,
    )


def bench_sources(target: Target, sources: list[str]) -> list[str]:
    """Return the sources of the benchmark program: ``sources`` with the harness replaced.

    The model, kernel and platform objects stay the same as in ``build/model.elf``.
    ``bench.c`` takes the place of ``harness.c``, and the target's bench sources (tick
    counter, stack painting) are added.
    """
    shared = [source for source in sources if source != HARNESS_SOURCE]
    return [*shared, BENCH_SOURCE, *target.bench_sources]


def render_harness(prefix: str = "model") -> str:
    """Render the test harness C file that ``edgec run`` builds with the model.

    ``prefix`` is the model's C prefix: the harness includes ``<prefix>_io.h`` and calls
    ``<prefix>_invoke_io``.
    """
    if not prefix.isidentifier() or not prefix.isascii():
        raise ValueError(f"C prefix {prefix!r} is not a valid C identifier")
    return _environment().get_template("harness.c.j2").render(prefix=prefix)


def render_bench(prefix: str, timed_runs: int, layers: int = 0) -> str:
    """Render the benchmark program that ``edgec bench`` builds with the model.

    The program calls ``<prefix>_invoke`` (integer I/O) ``timed_runs`` times with the tick
    counter read around each call, then once more on painted stack, and prints one line
    ``edgec-bench: runs=R ticks=T tick_unit=U stack_bytes=S``. Built with
    ``-DEDGEC_LAYER_PROFILE`` (make goal ``bench-layers``), it also prints the ticks of
    each of the model's ``layers`` kernel calls, summed over the timed runs.
    """
    if not prefix.isidentifier() or not prefix.isascii():
        raise ValueError(f"C prefix {prefix!r} is not a valid C identifier")
    if timed_runs < 1:
        raise ValueError(f"timed_runs is {timed_runs}; the benchmark needs at least one run")
    template = _environment().get_template("bench.c.j2")
    return template.render(
        prefix=prefix, PREFIX=prefix.upper(), timed_runs=timed_runs, layers=max(layers, 1)
    )


def _check_project_path(path: str) -> None:
    parts = PurePosixPath(path).parts
    if not path or path.startswith("/") or "\\" in path or ".." in parts:
        raise ValueError(f"project path {path!r} must be relative, use '/' and contain no '..'")
    if any(character.isspace() for character in path):
        raise ValueError(f"project path {path!r} contains white space, which make cannot handle")


def build(project_dir: Path, target: Target, goal: str = "all") -> Path:
    """Run ``make goal`` in ``project_dir`` and return the path of the binary it builds.

    ``goal`` is a key of MAKE_GOALS: ``all`` builds ``build/model.elf``, ``bench``
    builds ``build/bench.elf``. Raises ToolchainError when a build tool is missing, and
    BuildError when the project was generated for another target or the build fails (with
    the tail of the compiler output).
    """
    project_dir = Path(project_dir)
    if goal not in MAKE_GOALS:
        raise ValueError(f"unknown make goal {goal!r}; expected one of {', '.join(MAKE_GOALS)}")
    check_toolchain(target, emulator=False)
    _check_project_target(project_dir, target)

    command = [_MAKE_COMMAND, "-C", str(project_dir), f"-j{os.cpu_count() or 1}", goal]
    try:
        result = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=_make_environment(),
            timeout=_BUILD_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise BuildError(
            f"build of {project_dir} for target {target.name} timed out after "
            f"{_BUILD_TIMEOUT_S} s\n{output_tail(error.stdout)}"
        ) from error

    if result.returncode != 0:
        raise BuildError(
            f"build of {project_dir} for target {target.name} failed "
            f"(make exit status {result.returncode}); compiler output ends with:\n"
            f"{output_tail(result.stdout)}"
        )

    binary = project_dir / MAKE_GOALS[goal]
    if not binary.is_file():
        raise BuildError(f"make succeeded but {binary} does not exist; check the Makefile")
    return binary


def _check_project_target(project_dir: Path, target: Target) -> None:
    """Reject a project whose Makefile was rendered for another target."""
    makefile = project_dir / "Makefile"
    if not makefile.is_file():
        raise BuildError(f"{makefile} not found: generate the project with `edgec compile`")

    for line in makefile.read_text(encoding="utf-8").splitlines():
        if line.startswith("EDGEC_TARGET :="):
            project_target = line.split(":=", 1)[1].strip()
            if project_target != target.name:
                raise BuildError(
                    f"{project_dir} was generated for target {project_target}, not "
                    f"{target.name}; compile it again with --target {target.name}"
                )
            return


def _make_environment() -> dict[str, str]:
    """Return the environment for make, without the variables of an enclosing make.

    ``make test`` runs pytest under make; its MAKEFLAGS (job server, -s, -k) must not leak
    into the project build.
    """
    environment = dict(os.environ)
    for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        environment.pop(name, None)
    return environment


def output_tail(output: bytes | str | None, lines: int = OUTPUT_TAIL_LINES) -> str:
    """Return the last ``lines`` lines of a process's output, decoded."""
    if output is None:
        return "(no output)"
    if isinstance(output, bytes):
        output = output.decode("utf-8", errors="replace")
    tail = output.rstrip("\n").splitlines()[-lines:]
    return "\n".join(tail) if tail else "(no output)"
