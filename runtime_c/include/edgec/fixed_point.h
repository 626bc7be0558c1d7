/*
 * edgec runtime: Q31 fixed-point helpers of the integer kernels.
 *
 * These are the C forms of compiler/edgec/quantize/fixed_point.py and return the same
 * value for every argument in the documented range (the kernel tests check this on
 * host, Cortex-M4 and AArch64). The arithmetic is TFLite's default double-rounding
 * requantization, which is gemmlowp's fixedpoint arithmetic.
 *
 * No signed overflow anywhere: products are taken in int64, and wrapping shifts and sums
 * are done in uint32 and converted back with edgec_wrap_int32 (uint64 and edgec_wrap_int64
 * in the int64 helpers of the 16x8 kernels). Right shifts of negative values use a form
 * that is an arithmetic shift on every compiler.
 *
 * A value with k integer bits is stored as an int32 raw = real * 2^(31 - k) ("Qk.(31-k)").
 * The product of two such values is a doubling high multiply, and the integer bits add up.
 */
#ifndef EDGEC_FIXED_POINT_H
#define EDGEC_FIXED_POINT_H

#include <stdint.h>

/* Two's-complement wrap of value into int32: value - 2^32 when value >= 2^31. */
static inline int32_t edgec_wrap_int32(uint32_t value)
{
    if (value <= (uint32_t)INT32_MAX) {
        return (int32_t)value;
    }
    return (int32_t)(value - 2147483648u) + INT32_MIN;
}

/* a + b modulo 2^32 (wraps like numpy's wrap_int32 of the int64 sum). */
static inline int32_t edgec_add_wrap(int32_t a, int32_t b)
{
    return edgec_wrap_int32((uint32_t)a + (uint32_t)b);
}

/* a - b modulo 2^32. */
static inline int32_t edgec_subtract_wrap(int32_t a, int32_t b)
{
    return edgec_wrap_int32((uint32_t)a - (uint32_t)b);
}

/* floor(x / 2^exponent) for exponent in [0, 31]: an arithmetic right shift (ASR). */
static inline int32_t edgec_shift_right_floor(int32_t x, int32_t exponent)
{
    return x >= 0 ? x >> exponent : ~(~x >> exponent);
}

/* x * 2^exponent modulo 2^32 for exponent >= 0 (LSL): 0 when exponent >= 32. */
static inline int32_t edgec_shift_left_wrap(int32_t x, int32_t exponent)
{
    if (exponent >= 32) {
        return 0;
    }
    return edgec_wrap_int32((uint32_t)x << exponent);
}

/* Clamps value to [min, max]. */
static inline int32_t edgec_clamp(int32_t value, int32_t min, int32_t max)
{
    if (value < min) {
        return min;
    }
    return value > max ? max : value;
}

/*
 * round(a * b / 2^31), ties rounded up (toward +infinity); the one overflow case
 * a == b == INT32_MIN saturates to INT32_MAX. gemmlowp's
 * SaturatingRoundingDoublingHighMul; the same as the Arm VQRDMULH instruction.
 */
static inline int32_t edgec_saturating_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    int64_t product;
    int64_t nudge;

    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    product = (int64_t)a * (int64_t)b;
    nudge = product >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    /* C division truncates toward zero; with the nudge above this rounds ties up. */
    return (int32_t)((product + nudge) / ((int64_t)1 << 31));
}

/*
 * round(x / 2^exponent), ties rounded away from zero, for exponent >= 0. gemmlowp's
 * RoundingDivideByPOT. The Arm rounding shifts (SRSHR, VRSHR) round ties up instead, so
 * they differ on negative ties. For exponent >= 32 the quotient is at most 1/2 in
 * magnitude: only INT32_MIN / 2^32 = -1/2 rounds to -1, everything else to 0.
 */
static inline int32_t edgec_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    int32_t mask;
    int32_t remainder;
    int32_t threshold;

    if (exponent >= 32) {
        return (exponent == 32 && x == INT32_MIN) ? -1 : 0;
    }
    mask = (int32_t)(((uint32_t)1 << exponent) - 1u);
    remainder = x & mask;
    threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return edgec_shift_right_floor(x, exponent) + (remainder > threshold ? 1 : 0);
}

/*
 * x * multiplier * 2^(shift - 31) with multiplier a Q31 value and shift > 0 a left shift:
 * TFLite's MultiplyByQuantizedMultiplier with double rounding. Steps: wrapping left shift
 * by max(shift, 0), doubling high multiply (VQRDMULH), rounding right shift by
 * max(-shift, 0) with ties away from zero. Defined for every int32 argument, and equal to
 * the Python reference for shift >= -63. A left shift of 32 or more gives 0 there too (the
 * wrap of x * 2^shift).
 */
#ifndef EDGEC_SINGLE_ROUNDING
#define EDGEC_SINGLE_ROUNDING 0
#endif

#if EDGEC_SINGLE_ROUNDING
/*
 * Single rounding (a project generated for a model that needs it, such as an ONNX QDQ
 * model, builds with -DEDGEC_SINGLE_ROUNDING=1): (x * multiplier + 2^(t-1)) >> t with
 * t = 31 - shift, in int64, saturated to int32. A shift above 30 counts as 30 and one
 * below -31 as -31, as in the reference interpreter (quantize/fixed_point.py).
 */
static inline int32_t edgec_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier,
                                                             int32_t shift)
{
    const int32_t total_shift = shift > 30 ? 1 : (shift < -31 ? 62 : 31 - shift);
    const int64_t sum = (int64_t)x * (int64_t)multiplier + ((int64_t)1 << (total_shift - 1));
    /* Floor division by 2^total_shift, without a right shift of a negative value. */
    const int64_t quotient =
        sum >= 0 ? sum >> total_shift : -(((-sum) - 1) >> total_shift) - 1;

    if (quotient > INT32_MAX) {
        return INT32_MAX;
    }
    return quotient < INT32_MIN ? INT32_MIN : (int32_t)quotient;
}
#else
static inline int32_t edgec_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier,
                                                             int32_t shift)
{
    const int32_t left_shift = shift > 0 ? shift : 0;
    /* Limited to 63 so that -shift cannot overflow. The result is 0 from 33 on anyway. */
    const int32_t right_shift = shift >= 0 ? 0 : (shift < -63 ? 63 : -shift);
    const int32_t high = edgec_saturating_rounding_doubling_high_mul(
        edgec_shift_left_wrap(x, left_shift), multiplier);

    return edgec_rounding_divide_by_pot(high, right_shift);
}
#endif /* EDGEC_SINGLE_ROUNDING */

/*
 * Adds the output offset to a requantized value and clamps to [activation_min,
 * activation_max], without int32 overflow for any offset. The last step of every
 * requantizing kernel.
 */
static inline int32_t edgec_offset_and_clamp(int32_t value, int32_t offset,
                                             int32_t activation_min, int32_t activation_max)
{
    const int64_t shifted = (int64_t)value + (int64_t)offset;

    if (shifted < (int64_t)activation_min) {
        return activation_min;
    }
    if (shifted > (int64_t)activation_max) {
        return activation_max;
    }
    return (int32_t)shifted;
}

/* Two's-complement wrap of value into int64: value - 2^64 when value >= 2^63. */
static inline int64_t edgec_wrap_int64(uint64_t value)
{
    if (value <= (uint64_t)INT64_MAX) {
        return (int64_t)value;
    }
    return (int64_t)(value - ((uint64_t)INT64_MAX + 1u)) + INT64_MIN;
}

/* a + b modulo 2^64 (the int64 bias add of the 16x8 kernels). */
static inline int64_t edgec_add_wrap64(int64_t a, int64_t b)
{
    return edgec_wrap_int64((uint64_t)a + (uint64_t)b);
}

/* floor(x / 2^exponent) for exponent in [0, 63]: an arithmetic right shift. */
static inline int64_t edgec_shift_right_floor64(int64_t x, int32_t exponent)
{
    return x >= 0 ? x >> exponent : ~(~x >> exponent);
}

/*
 * x * multiplier * 2^(shift - 31) for an int64 x: TFLite's int64
 * MultiplyByQuantizedMultiplier (double-rounding build), used by its 16x8 kernels. The Q31
 * multiplier is rounded to 16 bits, reduced = (multiplier + 2^15) >> 16 (2^15 - 1 from
 * multiplier 0x7FFF0000 on), then (x * reduced + 2^(14 - shift)) >> (15 - shift) with a
 * floor shift, so ties round toward +infinity. Defined for multiplier >= 0 and shift in
 * [-31, 7], TFLite's range (the 16x8 kernels reject other values). The product and the
 * rounding term are summed modulo 2^64 and TFLite requires |x| < 2^47, where nothing wraps.
 * The result is not narrowed to int32: the caller clamps it (edgec_clamp64).
 */
static inline int64_t edgec_multiply_by_quantized_multiplier_int64(int64_t x,
                                                                   int32_t multiplier,
                                                                   int32_t shift)
{
    const int64_t reduced = multiplier < 0x7FFF0000 ? (multiplier + (1 << 15)) >> 16 : 0x7FFF;
    const int32_t total_shift = 15 - shift;
    const uint64_t rounded =
        (uint64_t)x * (uint64_t)reduced + ((uint64_t)1 << (total_shift - 1));

    return edgec_shift_right_floor64(edgec_wrap_int64(rounded), total_shift);
}

/* Clamps an int64 value to [min, max]. */
static inline int32_t edgec_clamp64(int64_t value, int32_t min, int32_t max)
{
    if (value < (int64_t)min) {
        return min;
    }
    return value > (int64_t)max ? max : (int32_t)value;
}

/*
 * x * 2^exponent saturated to [INT32_MIN, INT32_MAX], for exponent in [0, 31]. gemmlowp's
 * SaturatingRoundingMultiplyByPOT for a non-negative exponent (the Arm VQSHL instruction
 * computes the same).
 */
static inline int32_t edgec_saturating_left_shift(int32_t x, int32_t exponent)
{
    const int32_t threshold = (int32_t)(((uint32_t)1 << (31 - exponent)) - 1u);

    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return edgec_shift_left_wrap(x, exponent);
}

/*
 * exp(a) for a in [-1/4, 0); a and the result in Q0.31. gemmlowp's
 * exp_on_interval_between_negative_one_quarter_and_0_excl: the Taylor series of exp
 * around -1/8 up to the fourth power, with x = a + 1/8 in [-1/8, 1/8).
 */
static inline int32_t edgec_exp_on_interval_minus_quarter_to_zero(int32_t a)
{
    const int32_t constant_term = 1895147668; /* exp(-1/8) in Q0.31 */
    const int32_t one_third = 715827883;      /* 1/3 in Q0.31 */
    const int32_t x = a + (1 << 28);
    const int32_t x2 = edgec_saturating_rounding_doubling_high_mul(x, x);
    const int32_t x3 = edgec_saturating_rounding_doubling_high_mul(x2, x);
    const int32_t x4 = edgec_saturating_rounding_doubling_high_mul(x2, x2);
    const int32_t x4_over_4 = edgec_rounding_divide_by_pot(x4, 2);
    /* x^4/24 + x^3/6 + x^2/2 */
    const int32_t polynomial = edgec_rounding_divide_by_pot(
        edgec_saturating_rounding_doubling_high_mul(x4_over_4 + x3, one_third) + x2, 1);

    return constant_term + edgec_saturating_rounding_doubling_high_mul(constant_term,
                                                                      x + polynomial);
}

/*
 * exp(a) for a <= 0 given with integer_bits integer bits (integer_bits in [0, 29]);
 * result in Q0.31. gemmlowp's exp_on_negative_values: exp of the remainder of a modulo
 * 1/4 from the series above, then one multiplication by exp(-2^k) for each bit k of the
 * rest (k = -2 .. 4), and 0 below -32 when integer_bits > 5. exp(0) gives INT32_MAX.
 */
static inline int32_t edgec_exp_on_negative_values(int32_t a, int32_t integer_bits)
{
    /* exp(-2^k) in Q0.31 for k = -2 .. 4: the barrel shifter of gemmlowp. */
    static const int32_t barrel_multipliers[7] = {
        1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242
    };
    const int32_t fractional_bits = 31 - integer_bits;
    const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
    const int32_t a_mod_quarter_minus_quarter = (a & (one_quarter - 1)) - one_quarter;
    const int32_t remainder = edgec_subtract_wrap(a_mod_quarter_minus_quarter, a);
    int32_t result = edgec_exp_on_interval_minus_quarter_to_zero(
        edgec_saturating_left_shift(a_mod_quarter_minus_quarter, integer_bits));
    int32_t exponent;

    for (exponent = -2; exponent <= 4; exponent++) {
        if (integer_bits > exponent) {
            const int32_t bit = (int32_t)1 << (fractional_bits + exponent);

            if ((remainder & bit) != 0) {
                result = edgec_saturating_rounding_doubling_high_mul(
                    result, barrel_multipliers[exponent + 2]);
            }
        }
    }
    if (integer_bits > 5 && a < -((int32_t)1 << (36 - integer_bits))) {
        result = 0;
    }
    return a == 0 ? INT32_MAX : result;
}

/*
 * 1 / (1 + a) for a in [0, 1); a and the result in Q0.31. gemmlowp's
 * one_over_one_plus_x_for_x_in_0_1: three Newton-Raphson steps on the half denominator
 * (1 + a) / 2, starting from 48/17 - 32/17 * d, in Q2.29.
 */
static inline int32_t edgec_one_over_one_plus_x(int32_t a)
{
    const int32_t constant_48_over_17 = 1515870810;      /* Q2.29 */
    const int32_t constant_neg_32_over_17 = -1010580540; /* Q2.29 */
    const int32_t one_q2_29 = (int32_t)1 << 29;
    /* (a + 1) / 2 rounded half away from zero, in int64 as gemmlowp's RoundingHalfSum. */
    const int64_t sum = (int64_t)a + INT32_MAX;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    int32_t x = edgec_add_wrap(constant_48_over_17,
                               edgec_saturating_rounding_doubling_high_mul(
                                   half_denominator, constant_neg_32_over_17));
    int step;

    for (step = 0; step < 3; step++) {
        const int32_t half_denominator_times_x =
            edgec_saturating_rounding_doubling_high_mul(half_denominator, x);
        const int32_t one_minus_half_denominator_times_x =
            edgec_subtract_wrap(one_q2_29, half_denominator_times_x);

        x = edgec_add_wrap(x, edgec_saturating_left_shift(
                                  edgec_saturating_rounding_doubling_high_mul(
                                      x, one_minus_half_denominator_times_x),
                                  2));
    }
    return edgec_saturating_left_shift(x, 1);
}

/* Number of leading zero bits of x; 32 for x == 0 (the Arm CLZ instruction). */
static inline int32_t edgec_count_leading_zeros32(uint32_t x)
{
    int32_t zeros = 0;

    if (x == 0) {
        return 32;
    }
    while ((x & 0x80000000u) == 0) {
        x <<= 1;
        zeros++;
    }
    return zeros;
}

/*
 * Reciprocal of x > 0 given with integer_bits integer bits, as gemmlowp's GetReciprocal:
 * returns scale in Q0.31 and sets *bits_over_unit so that 1 / x ~ scale * 2^*bits_over_unit
 * in x's units. x is normalised to [1, 2) by its leading zeros, then inverted with
 * edgec_one_over_one_plus_x. x is taken as uint32 so that sums up to 2^32 - 1 work.
 */
static inline int32_t edgec_reciprocal(uint32_t x, int32_t integer_bits,
                                       int32_t *bits_over_unit)
{
    const int32_t headroom_plus_one = edgec_count_leading_zeros32(x);
    const uint32_t normalised = headroom_plus_one < 32 ? x << headroom_plus_one : 0u;

    *bits_over_unit = integer_bits - headroom_plus_one;
    return edgec_one_over_one_plus_x(edgec_wrap_int32(normalised - 2147483648u));
}

#endif /* EDGEC_FIXED_POINT_H */
