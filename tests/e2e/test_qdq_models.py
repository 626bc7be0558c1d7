"""End to end: QDQ models from onnxruntime's quantize_static, compiled without calibration.

onnxruntime quantizes the float MLPerf Tiny models (QDQ, per-channel int8 weights, int8 or
uint8 activations). ``edgec verify``'s function then runs them on the host and on the
emulated Cortex-M4. The target's output must equal the reference interpreter's bit for bit,
on the real eval data and on random inputs.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgec.verify import verify_model
from tests.frontend.test_onnx_qdq import build_qdq_model, eval_feeds

CASES = [
    ("keyword_spotting", "QInt8"),
    ("keyword_spotting", "QUInt8"),
    ("image_classification", "QInt8"),
    ("image_classification", "QUInt8"),
]


@pytest.fixture(scope="module")
def qdq_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("qdq_e2e")
    return {case: build_qdq_model(folder, *case) for case in CASES}


def check_bit_exact(result, samples: int) -> None:
    assert result.ok, result.mismatches
    assert result.samples == samples
    assert any("target == reference interpreter, bit-exact" in line for line in result.lines)


@pytest.mark.parametrize("case", CASES, ids=["-".join(case) for case in CASES])
def test_qdq_model_verifies_on_host(qdq_models, case):
    feeds = eval_feeds(case[0])
    result = verify_model(qdq_models[case], "host", input_arrays=feeds, random_count=4)

    check_bit_exact(result, len(feeds["input"]) + 4)
    assert set(result.target_outputs) == {"output"}
    assert result.target_outputs["output"].dtype == np.float32


@pytest.mark.qemu
@pytest.mark.parametrize("case", [CASES[1], CASES[2]], ids=["-".join(CASES[1]), "-".join(CASES[2])])
def test_qdq_model_verifies_on_cortex_m4(qdq_models, case):
    feeds = {name: values[:5] for name, values in eval_feeds(case[0]).items()}
    result = verify_model(qdq_models[case], "cortex-m4", input_arrays=feeds, random_count=3)

    check_bit_exact(result, 8)
