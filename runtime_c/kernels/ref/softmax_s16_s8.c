/*
 * edgec reference kernel: softmax over the last axis of an int16 tensor (zero point 0) with
 * an optional mask. The output is int8 with scale 1/256 and zero point -128. The
 * arithmetic is softmax_rows of compiler/edgec/reference/int_attention.py, which applies
 * TFLite's int8 Softmax (gemmlowp's fixed-point exp and reciprocal) to int16 differences
 * and adds the mask.
 *   1. Positions with mask[c] == 0 are left out of the row maximum and of the sum and
 *      output -128. A mask of all zeros makes every row uniform: every position outputs
 *      what a row of depth equal inputs gives.
 *   2. diff = x - max(row), kept only when diff >= diff_min (others output -128);
 *   3. diff * 2^input_left_shift * input_multiplier as a Q5.26 value, then its exp in Q0.31;
 *   4. the sum of the exps in Q12.19, and its reciprocal;
 *   5. output = exp * reciprocal scaled to 1/256 units, minus 128, clamped to int8.
 * The exps are computed twice (once for the sum, once for the output) so that no scratch
 * buffer is needed.
 *
 * Error bound (tests/reference/test_attention_error_bounds.py, input scales 1e-4 .. 0.05,
 * depth 1 .. 64, with and without masks): at most 0.52 output LSB (1/256) from the float64
 * softmax over the kept positions, with the float probability capped at 255/256 (the
 * largest output). So the error reaches 1 LSB only for a probability near 1. Measured:
 * 0.501.
 */
#include "edgec/fixed_point.h"
#include "edgec/kernels.h"

/* Integer bits of the scaled differences (Q5.26) and of the sum of exps (Q12.19), as in
 * TFLite's kScaledDiffIntegerBits and kAccumulationIntegerBits. */
#define SOFTMAX_DIFF_INTEGER_BITS 5
#define SOFTMAX_ACCUMULATION_BITS 12
/* The difference returned for a position that the mask or diff_min leaves out: every used
 * difference is <= 0. */
#define SOFTMAX_UNUSED 1

/* Returns exp(diff * input scale * beta) in Q0.31 for diff <= 0 and diff >= diff_min. */
static int32_t softmax_exp(const edgec_softmax_params *params, int32_t diff)
{
    /* diff >= diff_min keeps |diff| * 2^input_left_shift <= 31 * 2^26 for the compiler's
     * parameters, so the shift cannot wrap. */
    const int32_t scaled_diff = edgec_saturating_rounding_doubling_high_mul(
        edgec_shift_left_wrap(diff, params->input_left_shift), params->input_multiplier);

    return edgec_exp_on_negative_values(scaled_diff, SOFTMAX_DIFF_INTEGER_BITS);
}

/* Returns x[c] - max_value, or SOFTMAX_UNUSED for a position that the mask or diff_min
 * leaves out. */
static int32_t softmax_used_diff(const edgec_softmax_params *params, const int32_t *mask,
                                 const int16_t *x, int32_t c, int32_t max_value)
{
    int32_t diff;

    if (mask != NULL && mask[c] == 0) {
        return SOFTMAX_UNUSED;
    }
    diff = (int32_t)x[c] - max_value;
    return diff >= params->diff_min ? diff : SOFTMAX_UNUSED;
}

/* Returns the int8 output of an exp given the reciprocal of the row's sum of exps. */
static int8_t softmax_output(int32_t exp_value, int32_t scale, int32_t exponent)
{
    const int32_t probability = edgec_rounding_divide_by_pot(
        edgec_saturating_rounding_doubling_high_mul(scale, exp_value), exponent);

    return (int8_t)edgec_clamp(probability - 128, -128, 127);
}

/* Returns the reciprocal scale of a sum of exps in Q12.19 and sets *exponent to the right
 * shift that turns exp * scale (Q0.31) into units of 1/256. */
static int32_t softmax_reciprocal(uint32_t sum_of_exps, int32_t *exponent)
{
    int32_t bits_over_unit;
    const int32_t scale =
        edgec_reciprocal(sum_of_exps, SOFTMAX_ACCUMULATION_BITS, &bits_over_unit);

    /* The exponent exceeds 31 when the sum reaches 512: every probability is then at most
     * 1/512, and rounding to 1/256 units gives 0 (output -128). */
    *exponent = bits_over_unit + 31 - 8;
    return scale;
}

/* Returns whether the mask leaves out every one of the depth positions. */
static int softmax_all_masked(const int32_t *mask, int32_t depth)
{
    int32_t c;

    if (mask == NULL) {
        return 0;
    }
    for (c = 0; c < depth; c++) {
        if (mask[c] != 0) {
            return 0;
        }
    }
    return 1;
}

/* Fills the output with the uniform softmax: exp(0) at each of the depth positions. */
static void softmax_uniform(int32_t size, int32_t depth, int8_t *output)
{
    /* exp(0) is INT32_MAX in Q0.31; depth <= 8191 terms of 2^19 cannot wrap the sum. */
    const uint32_t term = (uint32_t)edgec_rounding_divide_by_pot(INT32_MAX,
                                                                 SOFTMAX_ACCUMULATION_BITS);
    int32_t exponent;
    const int32_t scale = softmax_reciprocal(term * (uint32_t)depth, &exponent);
    const int8_t value = softmax_output(INT32_MAX, scale, exponent);
    int32_t i;

    for (i = 0; i < size; i++) {
        output[i] = value;
    }
}

edgec_status edgec_softmax_s16_s8(const edgec_softmax_params *params, int32_t rows,
                                  int32_t depth, const int16_t *input, const int32_t *mask,
                                  int8_t *output)
{
    int32_t row;

    if (rows < 0 || depth < 1 || depth > EDGEC_SOFTMAX_MAX_MASKED_DEPTH ||
        params->input_left_shift < 0 || params->diff_min > 0) {
        return EDGEC_ERROR_ARGUMENT;
    }
    if (softmax_all_masked(mask, depth)) {
        softmax_uniform(rows * depth, depth, output);
        return EDGEC_OK;
    }

    for (row = 0; row < rows; row++) {
        const int16_t *x = input + row * depth;
        int8_t *y = output + row * depth;
        int32_t max_value = INT32_MIN;
        /* At most 8191 terms of at most 2^19 (1.0 in Q12.19): the sum cannot wrap. */
        uint32_t sum_of_exps = 0;
        int32_t exponent;
        int32_t scale;
        int32_t c;

        for (c = 0; c < depth; c++) {
            if ((mask == NULL || mask[c] != 0) && x[c] > max_value) {
                max_value = x[c];
            }
        }
        for (c = 0; c < depth; c++) {
            const int32_t diff = softmax_used_diff(params, mask, x, c, max_value);

            if (diff != SOFTMAX_UNUSED) {
                /* Q0.31 to Q12.19. */
                sum_of_exps += (uint32_t)edgec_rounding_divide_by_pot(
                    softmax_exp(params, diff), SOFTMAX_ACCUMULATION_BITS);
            }
        }

        scale = softmax_reciprocal(sum_of_exps, &exponent);
        for (c = 0; c < depth; c++) {
            const int32_t diff = softmax_used_diff(params, mask, x, c, max_value);

            y[c] = diff == SOFTMAX_UNUSED ? (int8_t)-128
                                          : softmax_output(softmax_exp(params, diff), scale,
                                                           exponent);
        }
    }
    return EDGEC_OK;
}
