"""The 16x8 and int8 <-> int16 kernel cases cover what they claim to: multipliers and shifts
at the limits of the int64 requantization, accumulators beyond int32 that reach the output,
and outputs saturated at both int16 (or int8) limits. The kernels themselves run in
test_ref_kernels.py like every other program.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.kernels.cases import (
    conv2d_s16_cases,
    depthwise_conv2d_s16_cases,
    fully_connected_s16_cases,
    requantize_s8_s16_cases,
    requantize_s16_s8_cases,
)

CONV_LISTS = {
    "conv2d_s16": conv2d_s16_cases,
    "depthwise_conv2d_s16": depthwise_conv2d_s16_cases,
    "fully_connected_s16": fully_connected_s16_cases,
}


def _case(cases, prefix: str):
    (case,) = [c for c in cases if c.name.startswith(prefix)]
    return case


def _outputs(case, dtype) -> np.ndarray:
    return np.frombuffer(case.expected, dtype=dtype)


@pytest.mark.parametrize("program", list(CONV_LISTS))
def test_int16_extreme_multipliers_cover_range(program):
    case = _case(CONV_LISTS[program](), "extreme multipliers")
    multipliers = case.arrays["multipliers"].astype(np.int64)
    shifts = case.arrays["shifts"].astype(np.int64)

    assert 0 in multipliers
    assert (multipliers >= 0x7FFF0000).any()
    assert shifts.min() == -31
    assert shifts.max() == 7


@pytest.mark.parametrize("program", list(CONV_LISTS))
def test_int16_wide_accumulator_reaches_output(program):
    case = _case(CONV_LISTS[program](), "accumulator beyond int32")
    filters = case.arrays["filter"].astype(np.int64)
    channel_axis = 3 if program == "depthwise_conv2d_s16" else 0
    # Every input is -32768, so channel 0's full window sums to -32768 * its weights.
    channel_0 = -32768 * np.moveaxis(filters, channel_axis, 0)[0].sum()
    outputs = _outputs(case, np.int16).reshape(-1, 4)

    assert channel_0 > 2**31
    assert -32768 < outputs[:, 0].max() < 32767
    assert outputs[:, 2].max() == 32767
    assert outputs[:, 3].min() == -32768


@pytest.mark.parametrize("program", list(CONV_LISTS))
def test_int16_saturation_hits_both_limits(program):
    outputs = _outputs(_case(CONV_LISTS[program](), "inputs at -32768"), np.int16)

    assert outputs.max() == 32767
    assert outputs.min() == -32768


def test_requantize_s8_s16_saturates_both_limits():
    outputs = _outputs(_case(requantize_s8_s16_cases(), "scale ratio 300"), np.int16)

    assert outputs.max() == 32767
    assert outputs.min() == -32768


def test_requantize_s16_s8_saturates_both_limits():
    outputs = _outputs(_case(requantize_s16_s8_cases(), "scale ratio 1 saturates"), np.int8)

    assert outputs.max() == 127
    assert outputs.min() == -128
