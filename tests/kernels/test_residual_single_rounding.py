"""The residual-stream C kernels (fully_connected with an int16 output, int16 add) built with
-DEDGEC_SINGLE_ROUNDING=1 (as a project for an ONNX QDQ model is) match the reference
interpreter run with ``Graph.requantize_rounding = "single"``, on the host and the emulated
targets.

The cases are those of ``tests.kernels.residual_cases``; only the expected outputs change.
The harness is in ``tests.kernels.single_rounding``.
"""

from __future__ import annotations

import pytest

from tests.kernels.residual_cases import PROGRAMS
from tests.kernels.single_rounding import (
    TARGETS,
    rounding_changes,
    single_rounding_failures,
    single_rounding_programs,
)


@pytest.fixture(scope="module")
def programs():
    """(name, sources, double-rounding cases, single-rounding cases) per program."""
    return single_rounding_programs(PROGRAMS)


def test_single_rounding_changes_expected_outputs(programs):
    for name, changed in rounding_changes(programs).items():
        assert len(changed) >= 3, f"only {changed} of {name} differ between the roundings"


@pytest.mark.parametrize("target_name", TARGETS)
def test_residual_kernels_match_single_rounding(target_name, programs, tmp_path):
    failures = single_rounding_failures(target_name, programs, tmp_path)

    assert not failures, f"{len(failures)} failures on {target_name}:\n" + "\n".join(failures)
