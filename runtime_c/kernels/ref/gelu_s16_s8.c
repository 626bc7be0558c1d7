/*
 * edgec reference kernel: GELU of an int16 tensor (zero point 0) with I-BERT's integer
 * polynomial (i-GELU, Kim et al. 2021, "I-BERT: Integer-only BERT Quantization"), output
 * int8. GELU(x) = x * (1 + erf(x / sqrt(2))) / 2 with erf(t) = sign(t) * L(|t|) and
 * L(t) = 1 + a * (min(t, -b) + b)^2, a = -0.2888, b = -1.769. The arithmetic is
 * integer_gelu of compiler/edgec/reference/int_attention.py, in fixed point:
 *   1. t = |x| / sqrt(2) in Q2.29, computed in int64 and clipped to -b;
 *   2. d = t + b, L = 1 + a * d * d in Q4.27 (two doubling high multiplies);
 *   3. h = 1 + sign(x) * L in units of 2^-15, in [0, 2];
 *   4. output = x * h requantized to the output scale, plus the output offset, clamped.
 *
 * Error bound (tests/reference/test_attention_error_bounds.py, every int16 input for
 * input scales 5e-5 .. 2e-3): |dequantized output - GELU(x)| <= 0.5 output LSB + 0.0185
 * wherever the output does not clamp. The polynomial itself is off by up to 0.01815
 * (at |x| = 2.35).
 */
#include "edgec/fixed_point.h"
#include "edgec/kernels.h"

/* -b = 1.769 in Q2.29 and a = -0.2888 in Q0.31, rounded to nearest. */
#define IGELU_B_Q29 949724643
#define IGELU_A_Q31 (-620193278)
#define IGELU_ONE_Q4_27 ((int32_t)1 << 27)
/* From Q4.27 to units of 2^-15. */
#define IGELU_H_SHIFT 12

/* Returns the int8 GELU of one int16 input. */
static int8_t gelu_s16(const edgec_gelu_s16_params *params, int32_t x)
{
    const int32_t magnitude = x < 0 ? -x : x;
    const int32_t shift = params->input_right_shift;
    /* At most 2^15 * (2^31 - 1) + 2^61: no int64 overflow. */
    const int64_t t64 = ((int64_t)magnitude * params->input_multiplier +
                         ((int64_t)1 << (shift - 1))) >> shift;
    const int32_t t = t64 < IGELU_B_Q29 ? (int32_t)t64 : IGELU_B_Q29;
    const int32_t d = t - IGELU_B_Q29;
    const int32_t d_squared = edgec_saturating_rounding_doubling_high_mul(d, d);
    const int32_t polynomial =
        IGELU_ONE_Q4_27 + edgec_saturating_rounding_doubling_high_mul(d_squared, IGELU_A_Q31);
    const int32_t one_plus_erf = edgec_rounding_divide_by_pot(
        IGELU_ONE_Q4_27 + (x >= 0 ? polynomial : -polynomial), IGELU_H_SHIFT);
    /* The product fits in int32: one_plus_erf <= 2^16 with x <= 32767 for x >= 0, and
     * one_plus_erf <= 0.91 * 2^15 (1 - L with L >= 0.096) for x < 0. */
    const int32_t raw = edgec_multiply_by_quantized_multiplier(
        x * one_plus_erf, params->output_multiplier, params->output_shift);

    return (int8_t)edgec_offset_and_clamp(raw, params->output_offset, -128, 127);
}

edgec_status edgec_gelu_s16_s8(const edgec_gelu_s16_params *params, int32_t size,
                               const int16_t *input, int8_t *output)
{
    int32_t i;

    if (size < 0 || params->input_right_shift < 1 || params->input_right_shift > 62 ||
        params->input_multiplier < 0 || params->output_shift > 0) {
        return EDGEC_ERROR_ARGUMENT;
    }
    for (i = 0; i < size; i++) {
        output[i] = gelu_s16(params, input[i]);
    }
    return EDGEC_OK;
}
