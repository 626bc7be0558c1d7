/*
 * edgec runtime: the row computation shared by edgec_softmax_masked_s8 (int8 input) and
 * edgec_softmax_s16_s8 (int16 input), declared in kernels_attention.h. Not part of the
 * kernel API. It is softmax_rows of compiler/edgec/reference/int_attention.py: TFLite's int8
 * Softmax (gemmlowp's fixed-point exp and reciprocal) applied to the differences from the
 * row maximum, plus the mask. The output is int8 with scale 1/256 and zero point -128.
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
 * The input element type is passed as its size in bytes (1 for int8, 2 for int16). Each
 * kernel passes a constant, so the compiler inlines edgec_softmax_masked_rows and drops the
 * branch on the size.
 */
#ifndef EDGEC_KERNELS_SOFTMAX_CORE_H
#define EDGEC_KERNELS_SOFTMAX_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "edgec/fixed_point.h"
#include "edgec/kernels.h"

/* Integer bits of the scaled differences (Q5.26) and of the sum of exps (Q12.19), as in
 * TFLite's kScaledDiffIntegerBits and kAccumulationIntegerBits. */
#define EDGEC_SOFTMAX_DIFF_INTEGER_BITS 5
#define EDGEC_SOFTMAX_ACCUMULATION_BITS 12
/* The difference returned for a position that the mask or diff_min leaves out: every used
 * difference is <= 0. */
#define EDGEC_SOFTMAX_UNUSED 1

/* Returns element c of a row of int8 (element_bytes 1) or int16 (element_bytes 2) values,
 * widened to int32. A NULL row is read as a row of zeros. */
static inline int32_t edgec_softmax_input(const void *row, int32_t element_bytes, int32_t c)
{
    if (row == NULL) {
        return 0;
    }
    if (element_bytes == 1) {
        return ((const int8_t *)row)[c];
    }
    return ((const int16_t *)row)[c];
}

/* Returns exp(diff * input scale * beta) in Q0.31 for diff <= 0 and diff >= diff_min. */
static inline int32_t edgec_softmax_exp(const edgec_softmax_params *params, int32_t diff)
{
    /* diff >= diff_min keeps |diff| * 2^input_left_shift <= 31 * 2^26 for the compiler's
     * parameters, so the shift cannot wrap. */
    const int32_t scaled_diff = edgec_saturating_rounding_doubling_high_mul(
        edgec_shift_left_wrap(diff, params->input_left_shift), params->input_multiplier);

    return edgec_exp_on_negative_values(scaled_diff, EDGEC_SOFTMAX_DIFF_INTEGER_BITS);
}

/* Returns value - max_value for position c, or EDGEC_SOFTMAX_UNUSED for a position that the
 * mask or diff_min leaves out. */
static inline int32_t edgec_softmax_used_diff(const edgec_softmax_params *params,
                                              const int32_t *mask, int32_t c, int32_t value,
                                              int32_t max_value)
{
    int32_t diff;

    if (mask != NULL && mask[c] == 0) {
        return EDGEC_SOFTMAX_UNUSED;
    }
    diff = value - max_value;
    return diff >= params->diff_min ? diff : EDGEC_SOFTMAX_UNUSED;
}

/* Returns the int8 output of an exp given the reciprocal of the row's sum of exps. */
static inline int8_t edgec_softmax_output(int32_t exp_value, int32_t scale, int32_t exponent)
{
    const int32_t probability = edgec_rounding_divide_by_pot(
        edgec_saturating_rounding_doubling_high_mul(scale, exp_value), exponent);

    return (int8_t)edgec_clamp(probability - 128, -128, 127);
}

/* Returns the reciprocal scale of a sum of exps in Q12.19 and sets *exponent to the right
 * shift that turns exp * scale (Q0.31) into units of 1/256. */
static inline int32_t edgec_softmax_reciprocal(uint32_t sum_of_exps, int32_t *exponent)
{
    int32_t bits_over_unit;
    const int32_t scale =
        edgec_reciprocal(sum_of_exps, EDGEC_SOFTMAX_ACCUMULATION_BITS, &bits_over_unit);

    /* The exponent exceeds 31 when the sum reaches 512: every probability is then at most
     * 1/512, and rounding to 1/256 units gives 0 (output -128). */
    *exponent = bits_over_unit + 31 - 8;
    return scale;
}

/* Returns whether the mask leaves out every one of the depth positions. */
static inline int edgec_softmax_all_masked(const int32_t *mask, int32_t depth)
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

/* Computes the masked softmax of one row x of depth values into y. */
static inline void edgec_softmax_masked_row(const edgec_softmax_params *params, int32_t depth,
                                            const void *x, int32_t element_bytes,
                                            const int32_t *mask, int8_t *y)
{
    int32_t max_value = INT32_MIN;
    /* At most 8191 terms of at most 2^19 (1.0 in Q12.19): the sum cannot wrap. */
    uint32_t sum_of_exps = 0;
    int32_t exponent;
    int32_t scale;
    int32_t c;

    for (c = 0; c < depth; c++) {
        const int32_t value = edgec_softmax_input(x, element_bytes, c);

        if ((mask == NULL || mask[c] != 0) && value > max_value) {
            max_value = value;
        }
    }
    for (c = 0; c < depth; c++) {
        const int32_t diff = edgec_softmax_used_diff(
            params, mask, c, edgec_softmax_input(x, element_bytes, c), max_value);

        if (diff != EDGEC_SOFTMAX_UNUSED) {
            /* Q0.31 to Q12.19. */
            sum_of_exps += (uint32_t)edgec_rounding_divide_by_pot(
                edgec_softmax_exp(params, diff), EDGEC_SOFTMAX_ACCUMULATION_BITS);
        }
    }

    scale = edgec_softmax_reciprocal(sum_of_exps, &exponent);
    for (c = 0; c < depth; c++) {
        const int32_t diff = edgec_softmax_used_diff(
            params, mask, c, edgec_softmax_input(x, element_bytes, c), max_value);

        y[c] = diff == EDGEC_SOFTMAX_UNUSED
                   ? (int8_t)-128
                   : edgec_softmax_output(edgec_softmax_exp(params, diff), scale, exponent);
    }
}

/*
 * Computes the masked softmax of rows x depth input values (element_bytes 1 for int8, 2 for
 * int16) into output. The caller has checked the arguments: rows >= 0, depth in
 * [1, EDGEC_SOFTMAX_MAX_MASKED_DEPTH], input_left_shift >= 0 and diff_min <= 0.
 */
static inline void edgec_softmax_masked_rows(const edgec_softmax_params *params, int32_t rows,
                                             int32_t depth, const void *input,
                                             int32_t element_bytes, const int32_t *mask,
                                             int8_t *output)
{
    /* A mask of all zeros makes every row the softmax of depth equal values, so each row is
     * then computed from a NULL row (zeros) without the mask. diff_min <= 0 keeps every
     * difference of such a row, so each position outputs 1/depth in units of 1/256. */
    const int uniform = edgec_softmax_all_masked(mask, depth);
    const size_t row_bytes = (size_t)depth * (size_t)element_bytes;
    int32_t row;

    for (row = 0; row < rows; row++) {
        const void *x = uniform ? NULL : (const char *)input + (size_t)row * row_bytes;

        edgec_softmax_masked_row(params, depth, x, element_bytes, uniform ? NULL : mask,
                                 output + (size_t)row * (size_t)depth);
    }
}

#endif /* EDGEC_KERNELS_SOFTMAX_CORE_H */
