"""End to end: the four MLPerf Tiny int8 TFLite models on every target, against TFLite Micro.

Each model is compiled, built and run on the target (under QEMU for every target but host).
On host, cortex-m4 and cortex-a53 it runs on all its real eval inputs plus 10 random inputs.
On the other Cortex-M targets it runs on the first 2 eval inputs plus 2 random inputs, which
keeps the suite short. The target's output must equal both edgec's reference interpreter and
TFLite Micro's interpreter bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgec.verify import verify_model
from tests.conftest import MLPERF_TINY

TARGETS = ["host", "cortex-m4", "cortex-a53"]
# Cortex-M targets checked on a few samples each.
FEW_SAMPLE_TARGETS = ["cortex-m0plus", "cortex-m3", "cortex-m7", "cortex-m33", "cortex-m55"]
FEW_EVAL_SAMPLES = 2
FEW_RANDOM_SAMPLES = 2


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


@pytest.mark.qemu
@pytest.mark.cross
@pytest.mark.parametrize("target", FEW_SAMPLE_TARGETS)
@pytest.mark.parametrize("model_name", MLPERF_TINY)
def test_tflite_model_bit_exact_on_few_samples(models, model_name, target):
    model = models / "tflite" / f"{model_name}_int8.tflite"
    eval_data = np.load(models / "data" / "eval" / f"{model_name}.npz")
    eval_inputs = {name: eval_data[name][:FEW_EVAL_SAMPLES] for name in eval_data.files}

    result = verify_model(model, target, input_arrays=eval_inputs,
                          random_count=FEW_RANDOM_SAMPLES)

    assert result.samples == FEW_EVAL_SAMPLES + FEW_RANDOM_SAMPLES
    assert result.mismatches == []
    assert any("TFLite Micro, bit-exact" in line for line in result.lines), result.lines
    assert any("reference interpreter, bit-exact" in line for line in result.lines), result.lines
