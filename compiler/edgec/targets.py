"""Compilation targets: one TOML file per target in the ``targets/`` folder.

A ``Target`` contains what the build and run steps need. That is the C compiler and its
flags, the platform files (startup code, linker script) copied from ``runtime_c/`` into a
generated project, the emulator command, and the Debian packages that provide them. It also
gives the flash and RAM of a typical board, for fit checks in the compile report.

Adding a target means adding ``targets/<name>.toml``; no Python changes unless it needs a new
``kind`` (which ``edgec.emulator`` and the Makefile template must then handle). The loader
rejects unknown keys and wrong types, so a typo in a target file is an error, not a default.

TOML layout (see targets/cortex-m4.toml for a full example)::

    name, description, kind          top level
    [compiler]  command, package, cflags, ldflags, files, code_size_factor
    [platform]  sources, linker_script, bench_sources
    [emulator]  command, package, cpu_clock_hz
    [board]     name, flash_bytes, ram_bytes
    [kernels]   isa: the instruction set extensions the optimized kernels may use
                ("dsp": Armv7E-M/Armv8-M DSP, "mve": Helium); absent means portable C only
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgec.errors import TargetError
from edgec.resources import targets_dir

KINDS = ("host", "cortex-m", "cortex-a")

# Placeholder in an emulator command that edgec.emulator replaces with the binary's path.
BINARY_PLACEHOLDER = "{binary}"


@dataclass
class Target:
    """One compilation target, as read from ``targets/<name>.toml``.

    Paths in ``platform_sources`` and ``linker_script`` are relative to ``runtime_c/``; a
    generated project contains copies at the same relative paths.
    """

    name: str
    description: str
    kind: str
    cc: str
    compiler_package: str
    cflags: list[str]
    ldflags: list[str] = field(default_factory=list)
    # Files the compiler must find (``cc -print-file-name``), mapped to the Debian package
    # that provides each: C library, startup files, newlib specs.
    compiler_files: dict[str, str] = field(default_factory=dict)
    platform_sources: list[str] = field(default_factory=list)
    linker_script: str | None = None
    # Platform sources that only the benchmark program links (``make bench``): the tick
    # counter and stack painting of edgec/bench_measure.h.
    bench_sources: list[str] = field(default_factory=list)
    # Command that runs the binary, with BINARY_PLACEHOLDER for its path; empty for host.
    emulator: list[str] = field(default_factory=list)
    emulator_package: str | None = None
    # Emulated CPU clock that SysTick counts, in Hz (Cortex-M only).
    cpu_clock_hz: int | None = None
    board: str | None = None
    flash_bytes: int | None = None
    ram_bytes: int | None = None
    # Instruction set extensions the optimized kernel variants may use (edgec.lower.variants).
    kernel_isas: list[str] = field(default_factory=list)
    # Ratio of this target's kernel code size to Cortex-M4's, for the code estimate of
    # edgec.fit, whose tables are Cortex-M4 sizes.
    code_size_factor: float = 1.0


@dataclass(frozen=True)
class _Key:
    """One TOML key: where it sits, which Target field it fills, its type, and whether required."""

    section: str | None
    key: str
    field_name: str
    kind: type
    required: bool = False


# Every key a target file may contain. A key not listed here is rejected.
_SCHEMA = (
    _Key(None, "name", "name", str, required=True),
    _Key(None, "description", "description", str, required=True),
    _Key(None, "kind", "kind", str, required=True),
    _Key("compiler", "command", "cc", str, required=True),
    _Key("compiler", "package", "compiler_package", str, required=True),
    _Key("compiler", "cflags", "cflags", list, required=True),
    _Key("compiler", "ldflags", "ldflags", list),
    _Key("compiler", "files", "compiler_files", dict),
    _Key("compiler", "code_size_factor", "code_size_factor", float),
    _Key("platform", "sources", "platform_sources", list),
    _Key("platform", "linker_script", "linker_script", str),
    _Key("platform", "bench_sources", "bench_sources", list),
    _Key("emulator", "command", "emulator", list),
    _Key("emulator", "package", "emulator_package", str),
    _Key("emulator", "cpu_clock_hz", "cpu_clock_hz", int),
    _Key("board", "name", "board", str),
    _Key("board", "flash_bytes", "flash_bytes", int),
    _Key("board", "ram_bytes", "ram_bytes", int),
    _Key("kernels", "isa", "kernel_isas", list),
)

# Instruction set extensions a target may list in [kernels] isa.
KERNEL_ISAS = ("dsp", "mve")


_TOML_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    bool: "a boolean",
    float: "a float",
    list: "an array",
    dict: "a table",
}


def target_names() -> list[str]:
    """Return the names of all targets in the targets folder, sorted."""
    return sorted(path.stem for path in targets_dir().glob("*.toml"))


def load_target(name: str) -> Target:
    """Read and validate ``targets/<name>.toml``.

    Raises TargetError for an unknown name (the message lists the known targets) and for an
    invalid file (unknown key, missing key, wrong type).
    """
    known = target_names()
    if name not in known:
        raise TargetError(
            f"unknown target '{name}': known targets are {', '.join(known) or 'none'}"
        )
    path = targets_dir() / f"{name}.toml"

    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except tomllib.TOMLDecodeError as error:
        raise TargetError(f"invalid target file {path}: {error}") from error

    target = Target(**_fields_from_document(document, path))
    _check_target(target, path)
    return target


def list_targets() -> list[Target]:
    """Load every target in the targets folder, sorted by name."""
    return [load_target(name) for name in target_names()]


def _fields_from_document(document: dict[str, Any], path: Path) -> dict[str, Any]:
    """Map the TOML document to Target keyword arguments, checking keys and types."""
    _reject_unknown_keys(document, path)

    fields: dict[str, Any] = {}
    for spec in _SCHEMA:
        table = document if spec.section is None else document.get(spec.section, {})
        if spec.key not in table:
            if spec.required:
                raise TargetError(f"invalid target file {path}: missing key {_key_name(spec)}")
            continue

        value = table[spec.key]
        # bool is a subclass of int, but `flash_bytes = true` is a mistake.
        if not isinstance(value, spec.kind) or isinstance(value, bool):
            expected = _TOML_TYPE_NAMES[spec.kind]
            actual = _TOML_TYPE_NAMES.get(type(value), type(value).__name__)
            raise TargetError(
                f"invalid target file {path}: {_key_name(spec)} must be {expected}, got {actual}"
            )
        if not _items_are_strings(value):
            raise TargetError(
                f"invalid target file {path}: every item of {_key_name(spec)} must be a string"
            )
        fields[spec.field_name] = value
    return fields


def _reject_unknown_keys(document: dict[str, Any], path: Path) -> None:
    sections = {spec.section for spec in _SCHEMA if spec.section is not None}
    for key, value in document.items():
        if key in sections:
            if not isinstance(value, dict):
                raise TargetError(f"invalid target file {path}: [{key}] must be a table")
            known = {spec.key for spec in _SCHEMA if spec.section == key}
            unknown = sorted(set(value) - known)
        else:
            known = {spec.key for spec in _SCHEMA if spec.section is None}
            unknown = [] if key in known else [key]
        if unknown:
            section = f"[{key}] " if key in sections else ""
            raise TargetError(
                f"invalid target file {path}: unknown key {section}{', '.join(unknown)}; "
                f"valid keys are {', '.join(sorted(known))}"
            )


def _check_target(target: Target, path: Path) -> None:
    """Check the values that the TOML types alone do not constrain."""
    if target.name != path.stem:
        raise TargetError(
            f"invalid target file {path}: name is '{target.name}' but the file is named "
            f"'{path.stem}.toml'; make them equal"
        )
    if target.kind not in KINDS:
        raise TargetError(
            f"invalid target file {path}: kind '{target.kind}' is not one of {', '.join(KINDS)}"
        )
    if target.kind == "host":
        if target.emulator:
            raise TargetError(f"invalid target file {path}: a host target has no emulator")
    elif BINARY_PLACEHOLDER not in target.emulator:
        raise TargetError(
            f"invalid target file {path}: [emulator] command must contain "
            f"'{BINARY_PLACEHOLDER}' where the binary's path goes"
        )
    unknown_isas = sorted(set(target.kernel_isas) - set(KERNEL_ISAS))
    if unknown_isas:
        raise TargetError(
            f"invalid target file {path}: [kernels] isa lists {', '.join(unknown_isas)}; "
            f"known extensions are {', '.join(KERNEL_ISAS)}"
        )
    if target.emulator and not target.emulator_package:
        raise TargetError(f"invalid target file {path}: [emulator] package is missing")


def _items_are_strings(value: Any) -> bool:
    if isinstance(value, list):
        return all(isinstance(item, str) for item in value)
    if isinstance(value, dict):
        return all(isinstance(item, str) for item in value.values())
    return True


def _key_name(spec: _Key) -> str:
    return spec.key if spec.section is None else f"[{spec.section}] {spec.key}"
