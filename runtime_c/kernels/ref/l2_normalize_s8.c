/*
 * edgec reference kernel: L2 normalization over the last axis of an int8 tensor, with the
 * arithmetic of TFLite's int8 L2Normalization (the reference interpreter's
 * l2_normalize_rows in compiler/edgec/reference/int_norm.py):
 *   1. acc = sum of (x + input_offset)^2 over the row, in int32;
 *   2. 1 / sqrt(acc) as a Q31 multiplier and shift (inverse_sqrt_multiplier below);
 *   3. output = (x + input_offset) * multiplier * 2^(shift + 7 - 31), rounded by
 *      edgec_multiply_by_quantized_multiplier and clamped to [-128, 127]: steps of 1/128.
 * An all-zero row has acc = 0 and gives zeros.
 *
 * Error bound against float l2_normalize of the dequantized input, clamped to the output
 * range [-1, 127/128]: at most 0.75 + 2^-10 output steps with double rounding, measured
 * 0.74998 by tests/reference/test_norm_error_bounds.py. The two roundings of the last
 * multiply cost up to 0.75 steps, and the inverse square root's relative error is below
 * 1.3e-6.
 */
#include "edgec/fixed_point.h"
#include "edgec/kernels.h"

/* 1.5 in Q3.28 and sqrt(2) / 2 in Q0.31. */
#define THREE_HALVES_Q3 ((1 << 28) + (1 << 27))
#define HALF_SQRT2_Q0 1518500250
/* The output is in steps of 1/128: 2^7 times the unit vector. */
#define L2_OUTPUT_SHIFT 7

/*
 * Sets *multiplier and *shift so that 1 / sqrt(value) ~ multiplier * 2^(*shift - 31), for
 * value >= 0, as TFLite's GetInvSqrtQuantizedMultiplierExp does with reverse_shift -1.
 * Even shifts bring value into [2^27, 2^29), read as a Q3.28 number a in [1/4, 1). Five
 * Newton-Raphson steps x = 1.5 x - (a / 2) x^3 from x = 1 give 1 / sqrt(a), and a factor
 * sqrt(2) / 2 undoes the halving of a. Values 0 and 1 give (2^31 - 1, 0).
 */
static void inverse_sqrt_multiplier(int32_t value, int32_t *multiplier, int32_t *shift)
{
    int32_t exponent = 11;
    int32_t left_pairs;
    int32_t half_input;
    int32_t x = 1 << 28;
    int step;

    if (value <= 1) {
        *multiplier = INT32_MAX;
        *shift = 0;
        return;
    }
    if (value >= (1 << 29)) {
        value /= 4;
        exponent++;
    }
    left_pairs = (edgec_count_leading_zeros32((uint32_t)value) - 1) / 2 - 1;
    exponent -= left_pairs;
    value = edgec_shift_left_wrap(value, 2 * left_pairs);

    half_input = edgec_rounding_divide_by_pot(value >> 1, 1);
    for (step = 0; step < 5; step++) {
        const int32_t cube = edgec_saturating_left_shift(
            edgec_saturating_rounding_doubling_high_mul(
                edgec_saturating_rounding_doubling_high_mul(x, x), x),
            6);

        x = edgec_saturating_left_shift(
            edgec_subtract_wrap(edgec_saturating_rounding_doubling_high_mul(THREE_HALVES_Q3, x),
                                edgec_saturating_rounding_doubling_high_mul(half_input, cube)),
            3);
    }
    x = edgec_saturating_rounding_doubling_high_mul(x, HALF_SQRT2_Q0);
    if (exponent < 0) {
        x = edgec_shift_left_wrap(x, -exponent);
        exponent = 0;
    }
    *multiplier = x;
    *shift = -exponent;
}

edgec_status edgec_l2_normalize_s8(int32_t input_offset, int32_t rows, int32_t depth,
                                   const int8_t *input, int8_t *output)
{
    int32_t row;

    if (rows < 0 || depth < 1 || depth > EDGEC_L2_NORMALIZE_MAX_DEPTH || input_offset < -127 ||
        input_offset > 128) {
        return EDGEC_ERROR_ARGUMENT;
    }

    for (row = 0; row < rows; row++) {
        const int8_t *x = input + (size_t)row * (size_t)depth;
        int8_t *y = output + (size_t)row * (size_t)depth;
        /* Each square is at most 255^2, so 33025 of them stay below 2^31. */
        int32_t acc = 0;
        int32_t multiplier;
        int32_t shift;
        int32_t c;

        for (c = 0; c < depth; c++) {
            const int32_t value = x[c] + input_offset;

            acc += value * value;
        }
        inverse_sqrt_multiplier(acc, &multiplier, &shift);
        for (c = 0; c < depth; c++) {
            const int32_t scaled = edgec_multiply_by_quantized_multiplier(
                x[c] + input_offset, multiplier, shift + L2_OUTPUT_SHIFT);

            y[c] = (int8_t)edgec_clamp(scaled, -128, 127);
        }
    }
    return EDGEC_OK;
}
