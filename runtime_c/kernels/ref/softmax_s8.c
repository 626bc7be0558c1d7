/*
 * edgec reference kernel: softmax over the last axis of an int8 tensor, output scale 1/256
 * and zero point -128. The arithmetic is the reference interpreter's softmax
 * (compiler/edgec/reference/int_ops.py), which is TFLite's int8 Softmax with gemmlowp's
 * fixed-point exp and reciprocal:
 *   1. diff = x - max(row), kept only when diff >= diff_min (others output -128);
 *   2. diff * 2^input_left_shift * input_multiplier as a Q5.26 value, then its exp in Q0.31;
 *   3. the sum of the exps in Q12.19, and its reciprocal;
 *   4. output = exp * reciprocal scaled to 1/256 units, minus 128, clamped to int8.
 * The exps are computed twice (once for the sum, once for the output) so that no scratch
 * buffer is needed.
 */
#include "edgec/fixed_point.h"
#include "edgec/kernels.h"

/* Integer bits of the scaled differences (Q5.26) and of the sum of exps (Q12.19), as in
 * TFLite's kScaledDiffIntegerBits and kAccumulationIntegerBits. */
#define SOFTMAX_DIFF_INTEGER_BITS 5
#define SOFTMAX_ACCUMULATION_BITS 12

/* Returns exp(diff * input scale * beta) in Q0.31 for diff <= 0 and diff >= diff_min. */
static int32_t softmax_exp(const edgec_softmax_params *params, int32_t diff)
{
    /* diff >= diff_min keeps |diff| * 2^input_left_shift below 2^31: the shift cannot
     * wrap for the compiler's parameters. */
    const int32_t scaled_diff = edgec_saturating_rounding_doubling_high_mul(
        edgec_shift_left_wrap(diff, params->input_left_shift), params->input_multiplier);

    return edgec_exp_on_negative_values(scaled_diff, SOFTMAX_DIFF_INTEGER_BITS);
}

edgec_status edgec_softmax_s8(const edgec_softmax_params *params, int32_t rows, int32_t depth,
                              const int8_t *input, int8_t *output)
{
    int32_t row;

    if (rows < 0 || depth < 1 || params->input_left_shift < 0) {
        return EDGEC_ERROR_ARGUMENT;
    }

    for (row = 0; row < rows; row++) {
        const int8_t *x = input + row * depth;
        int8_t *y = output + row * depth;
        int32_t max_value = x[0];
        /* Each term is at most 2^19 (1.0 in Q12.19), so the uint32 sum cannot wrap below
         * 8192 terms. Beyond that it wraps as the reference's sum does, because the
         * reference's reciprocal also reads only the low 32 bits. */
        uint32_t sum_of_exps = 0;
        int32_t bits_over_unit;
        int32_t scale;
        int32_t exponent;
        int32_t c;

        for (c = 1; c < depth; c++) {
            if (x[c] > max_value) {
                max_value = x[c];
            }
        }
        for (c = 0; c < depth; c++) {
            const int32_t diff = x[c] - max_value;

            if (diff >= params->diff_min) {
                /* Q0.31 to Q12.19. */
                sum_of_exps += (uint32_t)edgec_rounding_divide_by_pot(
                    softmax_exp(params, diff), SOFTMAX_ACCUMULATION_BITS);
            }
        }

        scale = edgec_reciprocal(sum_of_exps, SOFTMAX_ACCUMULATION_BITS, &bits_over_unit);
        /* Scale exp * scale (Q0.31) to units of 1/256: 2^-(31 - 8) times 2^bits_over_unit.
         * NOTE: the exponent exceeds 31 when the sum of exps reaches 512 (512 or more inputs
         * near the row maximum). TFLite Micro stops with TFLITE_CHECK there, while this
         * kernel and the reference interpreter output -128 for every element of the row. */
        exponent = bits_over_unit + 31 - 8;
        for (c = 0; c < depth; c++) {
            const int32_t diff = x[c] - max_value;

            if (diff >= params->diff_min) {
                const int32_t probability = edgec_rounding_divide_by_pot(
                    edgec_saturating_rounding_doubling_high_mul(scale, softmax_exp(params, diff)),
                    exponent);

                y[c] = (int8_t)edgec_clamp(probability - 128, -128, 127);
            } else {
                y[c] = -128;
            }
        }
    }
    return EDGEC_OK;
}
