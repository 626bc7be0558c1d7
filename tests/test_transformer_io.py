"""Token-id and mask inputs at the command line: `edgec verify` and `edgec run` on the
transformer block of tests/transformer_block.py (an int64 mask input), and the checks of
integer inputs against the embedding table."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest

from edgec.errors import CalibrationError
from edgec.runner import check_input
from tests.transformer_block import block_inputs, transformer_block

TOKEN_PORT = {"name": "input_ids", "dtype": "int32", "shape": [1, 4], "range": [-10, 9]}


def run_edgec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgec", *args], capture_output=True,
                          text=True, timeout=600, check=False)


def test_token_ids_outside_the_table_rejected():
    arrays = {"input_ids": np.array([[[1, 2, 10, 3]]], dtype=np.int64)}

    with pytest.raises(CalibrationError, match=r"outside \[-10, 9\], the rows of the embedding"):
        check_input(arrays, TOKEN_PORT)


def test_float_token_ids_get_integer_advice():
    arrays = {"input_ids": np.array([[[1.0, 2.0, 3.0, 4.0]]])}

    with pytest.raises(CalibrationError, match="pass token ids and masks as integers"):
        check_input(arrays, TOKEN_PORT)


def test_verify_block_with_int64_mask(tmp_path):
    model = tmp_path / "block.onnx"
    onnx.save(transformer_block(), model)
    np.savez(tmp_path / "calib.npz", **block_inputs(8, seed=2))

    result = run_edgec("verify", str(model), "--target", "host", "--calibration",
                       str(tmp_path / "calib.npz"), "--random", "2")

    assert result.returncode == 0, result.stderr
    assert "bit-exact" in result.stdout
