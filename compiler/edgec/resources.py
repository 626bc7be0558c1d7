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

# An installed wheel carries copies under edgec/data/ (setup.py's build step); a checkout,
# including an editable install, reads the folders at the repository root.
_INSTALLED_DATA = Path(__file__).resolve().parent / "data"
_REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def _data_root() -> Path:
    return _INSTALLED_DATA if (_INSTALLED_DATA / "runtime_c").is_dir() else _REPOSITORY_ROOT


def runtime_dir() -> Path:
    """Return the C runtime folder (headers, kernels, platform/ startup and linker files)."""
    return _data_root() / "runtime_c"


def templates_dir() -> Path:
    """Return the folder of Jinja2 templates (model code, harness, Makefile)."""
    return _data_root() / "templates"


def targets_dir() -> Path:
    """Return the folder with one ``<name>.toml`` file per target."""
    return _data_root() / "targets"
