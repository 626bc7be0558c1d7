"""End to end: the four MLPerf Tiny int8 TFLite models on every target, against TFLite Micro.

Each model is compiled, built and run on the target (QEMU for cortex-m4 and cortex-a53) on
its real eval inputs plus 10 random inputs. The target's output must equal both edgec's
reference interpreter and TFLite Micro's interpreter bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgec.verify import verify_model
from tests.conftest import MLPERF_TINY

TARGETS = ["host", "cortex-m4", "cortex-a53"]


@pytest.mark.qemu
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("model_name", MLPERF_TINY)
def test_tflite_model_bit_exact_with_tflite_micro(models, model_name, target):
    model = models / "tflite" / f"{model_name}_int8.tflite"
    eval_inputs = dict(np.load(models / "data" / "eval" / f"{model_name}.npz"))

    result = verify_model(model, target, input_arrays=eval_inputs, random_count=10)

    assert result.samples == len(next(iter(eval_inputs.values()))) + 10
    assert result.mismatches == []
    assert any("TFLite Micro, bit-exact" in line for line in result.lines), result.lines
    assert any("reference interpreter, bit-exact" in line for line in result.lines), result.lines
