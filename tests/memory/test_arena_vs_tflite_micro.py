"""Acceptance: edgec's arena for the MLPerf Tiny int8 models against TFLite Micro's.

TFLite Micro's ``total`` (arena_used_bytes) counts its tensors (``head``, model input and
output included) and its interpreter structures (``tail``, from a 64-bit host build).
edgec's arena keeps the intermediate tensors only; the caller owns the I/O buffers. The
target is 0.8x or less, checked three ways, from the loosest to the strictest comparison.
"""

from __future__ import annotations

import pytest

from edgec.codegen.generator import build_model_code
from edgec.oracles import tflite_micro_arena_bytes
from edgec.pipeline import load_quantized
from tests.conftest import MLPERF_TINY

TARGET_RATIO = 0.8


@pytest.mark.parametrize("name", MLPERF_TINY)
def test_arena_at_most_0_8x_tflite_micro(models, name):
    model = models / "tflite" / f"{name}_int8.tflite"
    code = build_model_code(load_quantized(model, quiet=True), "model", model)
    tflm = tflite_micro_arena_bytes(model)
    io_bytes = sum(p.size for p in code.boundary.inputs + code.boundary.outputs)
    arena = code.plan.arena_bytes

    assert arena <= TARGET_RATIO * tflm["total"], (arena, tflm)
    assert arena + io_bytes <= TARGET_RATIO * tflm["total"], (arena, io_bytes, tflm)
    # Tensors only on both sides: TFLite Micro's head stores the model input and output too.
    assert arena + io_bytes <= TARGET_RATIO * tflm["head"], (arena, io_bytes, tflm)
