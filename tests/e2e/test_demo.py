"""The keyword-spotting demo that `make demo` runs, end to end on the emulated Cortex-M4."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPOSITORY


@pytest.mark.qemu
def test_demo_prints_keywords_and_bit_exact(models):
    env = dict(os.environ, EDGEC_MODELS=str(models))
    result = subprocess.run(
        [sys.executable, str(REPOSITORY / "examples" / "kws_demo.py")],
        capture_output=True, text=True, env=env, timeout=600,
    )

    assert result.returncode == 0, result.stderr
    predictions = [line for line in result.stdout.splitlines() if "predicted '" in line]
    assert len(predictions) == 10
    assert "bit-exact with TFLite Micro on all 10 inputs" in result.stdout
