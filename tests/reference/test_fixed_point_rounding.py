"""Single-rounding requantization against exact integer arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from edgec.quantize.fixed_point import multiply_by_quantized_multiplier, requantize_rounding


def _exact_single(x: int, multiplier: int, shift: int) -> int:
    total = min(max(31 - shift, 1), 62)
    value = (x * multiplier + (1 << (total - 1))) >> total  # Python ints: exact floor
    return min(max(value, -(2**31)), 2**31 - 1)


def test_single_rounding_matches_exact_arithmetic():
    rng = np.random.default_rng(7)
    x = rng.integers(-(2**31), 2**31, size=4000)
    multiplier = rng.integers(2**30, 2**31, size=4000)
    shift = rng.integers(-35, 33, size=4000)

    with requantize_rounding("single"):
        got = multiply_by_quantized_multiplier(x, multiplier, shift)

    want = [_exact_single(int(a), int(m), int(s)) for a, m, s in zip(x, multiplier, shift)]
    np.testing.assert_array_equal(got, want)


def test_single_double_rounding_one_apart():
    rng = np.random.default_rng(11)
    x = rng.integers(-(2**24), 2**24, size=20000)
    multiplier = rng.integers(2**30, 2**31, size=20000)
    shift = rng.integers(-20, 0, size=20000)

    with requantize_rounding("single"):
        single = multiply_by_quantized_multiplier(x, multiplier, shift)
    double = multiply_by_quantized_multiplier(x, multiplier, shift)

    assert np.max(np.abs(single - double)) == 1  # they differ, and never by more than 1
    assert 0 < np.mean(single != double) < 0.05


def test_rounding_mode_is_checked_and_restored():
    with pytest.raises(ValueError, match="rounding mode 'triple'"):
        with requantize_rounding("triple"):
            pass
    with requantize_rounding("single"):
        pass
    assert multiply_by_quantized_multiplier(3, 1 << 30, 0) == 2
