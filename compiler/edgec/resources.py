"""Locations of the data folders edgec ships with: C runtime, Jinja2 templates, targets.

The code generator copies files from ``runtime_dir()`` into a generated project and renders
templates from ``templates_dir()``; ``edgec.targets`` reads one TOML file per target from
``targets_dir()``. In a repository checkout these are ``runtime_c/``, ``templates/`` and
``targets/`` at the repository root, two levels above this package (compiler/edgec/).

Every other module finds these folders through this one, so a change of layout (for example
an installed wheel) touches only this file.
"""

from __future__ import annotations

from pathlib import Path

# TODO: the wheel does not carry runtime_c/, templates/ and targets/ yet. Packaging must
# install them (for example as package data under edgec/data/), and this module must look
# there before it falls back to the checkout.
_REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def runtime_dir() -> Path:
    """Return the C runtime folder (headers, kernels, platform/ startup and linker files)."""
    return _REPOSITORY_ROOT / "runtime_c"


def templates_dir() -> Path:
    """Return the folder of Jinja2 templates (model code, harness, Makefile)."""
    return _REPOSITORY_ROOT / "templates"


def targets_dir() -> Path:
    """Return the folder with one ``<name>.toml`` file per target."""
    return _REPOSITORY_ROOT / "targets"
