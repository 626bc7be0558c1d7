"""The batch_matmul and masked_mean C kernels built with -DEDGEC_SINGLE_ROUNDING=1 (as a
project for an ONNX QDQ model is) match the reference interpreter run with
``Graph.requantize_rounding = "single"``, on the host and the emulated targets.

The cases are those of ``tests.kernels.matmul_cases``; only the expected outputs change.
The harness is in ``tests.kernels.single_rounding``.
"""

from __future__ import annotations

import pytest

from tests.kernels.matmul_cases import PROGRAMS
from tests.kernels.single_rounding import (
    TARGETS,
    rounding_changes,
    single_rounding_failures,
    single_rounding_programs,
)

# The programs whose kernels requantize (gather only copies).
REQUANTIZING = ("batch_matmul", "batch_matmul_s16", "masked_mean")


@pytest.fixture(scope="module")
def programs():
    """(name, sources, double-rounding cases, single-rounding cases) per program."""
    return single_rounding_programs(PROGRAMS, REQUANTIZING)


def test_single_rounding_changes_expected_outputs(programs):
    for name, changed in rounding_changes(programs).items():
        assert changed, f"no case of {name} differs between the roundings"


@pytest.mark.parametrize("target_name", TARGETS)
def test_matmul_kernels_match_single_rounding(target_name, programs, tmp_path):
    failures = single_rounding_failures(target_name, programs, tmp_path)

    assert not failures, f"{len(failures)} failures on {target_name}:\n" + "\n".join(failures)
