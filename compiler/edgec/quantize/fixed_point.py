"""Fixed-point arithmetic of the integer-only spec, in numpy (vectorised, exact).

These functions define the rounding that every C kernel reproduces. They follow TFLite's
double-rounding requantization (the default build of TFLite and TFLite Micro), which is
gemmlowp's arithmetic:

- ``saturating_rounding_doubling_high_mul(a, b)``: the high 32 bits of ``2 * a * b``, rounded
  to nearest with ties toward +infinity (a product of -2**30 gives 0). The single overflow
  case ``a == b == INT32_MIN`` saturates to ``INT32_MAX``, as Arm's VQRDMULH does.
- ``rounding_divide_by_pot(x, e)``: ``x / 2**e`` rounded half away from zero.
- ``multiply_by_quantized_multiplier(x, m, shift)``: ``x * m * 2**(shift - 31)``, computed as
  a left shift (when ``shift > 0``), the doubling high multiply, then a rounding right shift.

All inputs are integer numpy arrays (or scalars) with values in int32 range; computation is
in int64 and results are int64 arrays with int32 values.

``requantize_rounding("single")`` switches ``multiply_by_quantized_multiplier`` to single
rounding for the code inside it: ``(x * m + 2**(t - 1)) >> t`` with ``t = 31 - shift``,
computed in int64 and saturated to int32, like TFLite built with TFLITE_SINGLE_ROUNDING.
A shift above 30 counts as 30 and one below -31 as -31. The reference interpreter uses it
for graphs whose ``requantize_rounding`` is "single" (ONNX QDQ models, whose own runtime
rounds once); the C kernels get the same arithmetic from ``-DEDGEC_SINGLE_ROUNDING=1``.

The 16x8 layers (int16 activations, int8 weights) requantize an int64 accumulator with
``multiply_by_quantized_multiplier_int64``, TFLite's int64 MultiplyByQuantizedMultiplier: the
Q31 multiplier is rounded to 16 bits, and the product is shifted right once with rounding
half up. Its result is an int64 array.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterator

import numpy as np

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """Return ``(multiplier, shift)`` with real = multiplier * 2**(shift - 31).

    ``multiplier`` is a Q31 int32 in [2**30, 2**31) (or 0); ``shift`` is positive for a
    left shift. Matches TFLite's QuantizeMultiplier: frexp, round half away from zero, carry
    when the mantissa rounds to 2**31, and flush multipliers below 2**-31 to zero.
    """
    if real_multiplier == 0.0:
        return 0, 0
    if real_multiplier < 0 or not math.isfinite(real_multiplier):
        raise ValueError(f"multiplier must be finite and positive, got {real_multiplier}")
    mantissa, shift = math.frexp(real_multiplier)
    q = round_half_away(mantissa * (1 << 31))
    if q == 1 << 31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return int(q), int(shift)


def round_half_away(value: float) -> int:
    """Round to the nearest integer, halves away from zero (C's ``round``)."""
    return int(math.floor(abs(value) + 0.5)) * (1 if value >= 0 else -1)


def wrap_int32(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap of int64 values into int32 range (C's int32 overflow on Arm)."""
    x = np.asarray(x, dtype=np.int64)
    return ((x + 2**31) & 0xFFFFFFFF) - 2**31


def saturating_rounding_doubling_high_mul(a, b) -> np.ndarray:
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    product = a * b
    nudge = np.where(product >= 0, 1 << 30, 1 - (1 << 30))
    total = product + nudge
    # C integer division truncates toward zero; numpy's >> floors, so handle the sign.
    high = np.where(total >= 0, total >> 31, -((-total) >> 31))
    overflow = (a == INT32_MIN) & (b == INT32_MIN)
    return np.where(overflow, INT32_MAX, high)


def rounding_divide_by_pot(x, exponent) -> np.ndarray:
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


ROUNDING_MODES = ("double", "single")
_ROUNDING: contextvars.ContextVar[str] = contextvars.ContextVar("rounding", default="double")


@contextlib.contextmanager
def requantize_rounding(mode: str) -> Iterator[None]:
    """Use ``mode`` ("double" or "single") for requantization inside the ``with`` block."""
    if mode not in ROUNDING_MODES:
        raise ValueError(f"rounding mode {mode!r} is not one of {ROUNDING_MODES}")
    token = _ROUNDING.set(mode)
    try:
        yield
    finally:
        _ROUNDING.reset(token)


def _single_rounding(x, multiplier, shift) -> np.ndarray:
    total_shift = np.clip(31 - np.asarray(shift, dtype=np.int64), 1, 62)
    # x is an int32 accumulator: wrapped as the C kernels' bias addition wraps it.
    product = wrap_int32(np.asarray(x, dtype=np.int64)) * np.asarray(multiplier, dtype=np.int64)
    result = (product + (np.int64(1) << (total_shift - 1))) >> total_shift
    return np.clip(result, INT32_MIN, INT32_MAX)


def multiply_by_quantized_multiplier(x, multiplier, shift) -> np.ndarray:
    if _ROUNDING.get() == "single":
        return _single_rounding(x, multiplier, shift)
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    shifted = wrap_int32(np.asarray(x, dtype=np.int64) << left)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), right)


INT64_MULTIPLIER_SHIFT_MIN = -31
INT64_MULTIPLIER_SHIFT_MAX = 7


def multiply_by_quantized_multiplier_int64(x, multiplier, shift) -> np.ndarray:
    """Return ``x * multiplier * 2**(shift - 31)`` for int64 ``x``, as TFLite's 16x8 kernels do.

    TFLite's int64 MultiplyByQuantizedMultiplier (tensorflow/lite/kernels/internal/common.cc,
    double-rounding build): ``reduced = (multiplier + 2**15) >> 16`` (``2**15 - 1`` when
    ``multiplier >= 0x7FFF0000``), then ``(x * reduced + 2**(14 - shift)) >> (15 - shift)``
    with a floor shift, so ties round toward +infinity. Valid for ``multiplier >= 0`` and
    ``shift`` in [-31, 7], TFLite's range. The product and sum wrap modulo 2**64, as the C
    helper computes them in uint64; TFLite requires ``|x| < 2**47``, where nothing wraps.
    The result is not narrowed to int32: the kernels clamp it to the activation range.
    """
    x = np.asarray(x, dtype=np.int64)
    multiplier = np.asarray(multiplier, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    if (multiplier < 0).any() or (shift < INT64_MULTIPLIER_SHIFT_MIN).any() or (
        shift > INT64_MULTIPLIER_SHIFT_MAX
    ).any():
        raise ValueError(
            "multiply_by_quantized_multiplier_int64 needs multipliers >= 0 and shifts in "
            f"[{INT64_MULTIPLIER_SHIFT_MIN}, {INT64_MULTIPLIER_SHIFT_MAX}]"
        )
    reduced = np.where(multiplier < 0x7FFF0000, (multiplier + (1 << 15)) >> 16, 0x7FFF)
    total_shift = 15 - shift
    # Integer arrays wrap on overflow without a warning; 0-d inputs are made 1-d so that
    # numpy does not treat them as scalars, which warn.
    product = np.atleast_1d(x) * np.atleast_1d(reduced)
    rounded = product + (np.int64(1) << (np.atleast_1d(total_shift) - 1))
    return (rounded >> np.atleast_1d(total_shift)).reshape(np.broadcast(x, reduced, shift).shape)


def saturating_left_shift(x, exponent: int) -> np.ndarray:
    """gemmlowp's SaturatingRoundingMultiplyByPOT for a positive exponent."""
    x = np.asarray(x, dtype=np.int64)
    threshold = (1 << (31 - exponent)) - 1
    result = wrap_int32(x << exponent)
    result = np.where(x > threshold, INT32_MAX, result)
    return np.where(x < -threshold, INT32_MIN, result)


# --- gemmlowp-style fixed-point exp and reciprocal, used by the int8 softmax -------------
#
# A value with ``k`` integer bits is stored as int32 raw = real * 2**(31 - k). Multiplying
# two such values is a doubling high multiply and adds their integer bits.

# exp(-2**e) in Q0.31 for e = -2 .. 4: the barrel shifter of exp_on_negative_values.
EXP_BARREL_MULTIPLIERS = (
    (-2, 1672461947),
    (-1, 1302514674),
    (0, 790015084),
    (1, 290630308),
    (2, 39332535),
    (3, 720401),
    (4, 242),
)


def _exp_on_interval_minus_quarter_to_zero(a: np.ndarray) -> np.ndarray:
    """exp(a) for a in [-1/4, 0), a and result in Q0.31: Taylor series around -1/8."""
    constant_term = 1895147668  # exp(-1/8)
    one_third = 715827883
    x = a + (1 << 28)  # a + 1/8
    x2 = saturating_rounding_doubling_high_mul(x, x)
    x3 = saturating_rounding_doubling_high_mul(x2, x)
    x4 = saturating_rounding_doubling_high_mul(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    poly = rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(x4_over_4 + x3, one_third) + x2, 1
    )
    return constant_term + saturating_rounding_doubling_high_mul(constant_term, x + poly)


def exp_on_negative_values(a, integer_bits: int) -> np.ndarray:
    """exp(a) for a <= 0 given with ``integer_bits`` integer bits; result in Q0.31."""
    a = np.asarray(a, dtype=np.int64)
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    a_mod_quarter_minus_quarter = (a & (one_quarter - 1)) - one_quarter
    result = _exp_on_interval_minus_quarter_to_zero(
        saturating_left_shift(a_mod_quarter_minus_quarter, integer_bits)
    )
    remainder = a_mod_quarter_minus_quarter - a
    for exponent, multiplier in EXP_BARREL_MULTIPLIERS:
        if integer_bits > exponent:
            bit = 1 << (fractional_bits + exponent)
            result = np.where(
                (remainder & bit) != 0,
                saturating_rounding_doubling_high_mul(result, multiplier),
                result,
            )
    if integer_bits > 5:
        clamp = -(1 << (36 - integer_bits))
        result = np.where(a < clamp, 0, result)
    return np.where(a == 0, INT32_MAX, result)


def _rounding_half_sum(a: np.ndarray, b: int) -> np.ndarray:
    total = a + b
    sign = np.where(total >= 0, 1, -1)
    summed = total + sign
    return np.where(summed >= 0, summed // 2, -((-summed) // 2))


def one_over_one_plus_x(a) -> np.ndarray:
    """1 / (1 + a) for a in [0, 1) in Q0.31, returned in Q0.31 (Newton-Raphson, 3 steps)."""
    a = np.asarray(a, dtype=np.int64)
    half_denominator = _rounding_half_sum(a, INT32_MAX)
    constant_48_over_17 = 1515870810  # Q2.29
    constant_neg_32_over_17 = -1010580540  # Q2.29
    one_q2 = 1 << 29
    x = constant_48_over_17 + saturating_rounding_doubling_high_mul(
        half_denominator, constant_neg_32_over_17
    )
    for _ in range(3):
        half_denominator_times_x = saturating_rounding_doubling_high_mul(half_denominator, x)
        one_minus = one_q2 - half_denominator_times_x
        x = x + saturating_left_shift(saturating_rounding_doubling_high_mul(x, one_minus), 2)
    return saturating_left_shift(x, 1)


def count_leading_zeros32(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.int64) & 0xFFFFFFFF
    zeros = np.full(x.shape, 32, dtype=np.int64)
    for bit in range(32):
        zeros = np.where((x >> bit) & 1 == 1, 31 - bit, zeros)
    return zeros


def reciprocal(x, integer_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(scale, bits_over_unit)``: scale in Q0.31 ~ 2**bits_over_unit / x (x > 0)."""
    x = np.asarray(x, dtype=np.int64)
    headroom_plus_one = count_leading_zeros32(x)
    bits_over_unit = integer_bits - headroom_plus_one
    shifted_minus_one = wrap_int32(((x << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31))
    return one_over_one_plus_x(shifted_minus_one), bits_over_unit
