/*
 * edgec reference kernel: elementwise add of two int16 tensors of the same shape into an
 * int16 output, all with zero point 0. The arithmetic is the reference interpreter's add
 * for int16 tensors (compiler/edgec/reference/int_ops.py), which is TFLite's general int16
 * ADD: edgec_add_s8's formula with a left shift of 15 and no offsets or broadcasting.
 * With the checked arguments (kernels_residual.h), |x * 2^left_shift| <= 2^30, each
 * rescaled input is at most 2^30 in magnitude and their sum stays within int32.
 *
 * Error bound: the output is within 0.5 + 2R + 2^(s - 1) + 2^-16 steps of the float sum of
 * the dequantized inputs, clamped to the activation range. R < 1 is the real output
 * multiplier 2 * max(input scales) / (2^15 * output scale) and s <= 0 its shift. Each input
 * rescaling rounds twice, by at most one unit of the sum, which is R output steps. The
 * 2^(s - 1) is the first of the output's two roundings and drops with
 * EDGEC_SINGLE_ROUNDING, and 2^-16 covers the Q31 rounding of the multipliers. With an
 * output scale of about the sum of the input scales, R is about 2^-14.
 * tests/reference/test_residual_error_bounds.py checks the bound.
 */
#include "edgec/fixed_point.h"
#include "edgec/kernel_checks.h"
#include "edgec/kernels.h"

/* Returns whether every parameter is in the range kernels_residual.h gives. */
static int add_s16_params_valid(const edgec_add_params *params)
{
    if (params->left_shift < 0 || params->left_shift > 15) {
        return 0;
    }
    if (params->input1_offset != 0 || params->input2_offset != 0 || params->output_offset != 0) {
        return 0;
    }
    if (params->input1_multiplier < 0 || params->input2_multiplier < 0 ||
        params->output_multiplier < 0) {
        return 0;
    }
    if (params->input1_shift > 0 || params->input2_shift > 0 || params->output_shift > 0) {
        return 0;
    }
    return edgec_activation_range_valid(params->activation_min, params->activation_max, -32768,
                                        32767);
}

edgec_status edgec_add_s16(const edgec_add_params *params, int32_t size, const int16_t *input1,
                           const int16_t *input2, int16_t *output)
{
    int32_t i;

    if (size < 0 || !add_s16_params_valid(params)) {
        return EDGEC_ERROR_ARGUMENT;
    }

    for (i = 0; i < size; i++) {
        const int32_t shifted1 = (int32_t)input1[i] * ((int32_t)1 << params->left_shift);
        const int32_t shifted2 = (int32_t)input2[i] * ((int32_t)1 << params->left_shift);
        const int32_t scaled1 = edgec_multiply_by_quantized_multiplier(
            shifted1, params->input1_multiplier, params->input1_shift);
        const int32_t scaled2 = edgec_multiply_by_quantized_multiplier(
            shifted2, params->input2_multiplier, params->input2_shift);
        const int32_t raw_output = edgec_multiply_by_quantized_multiplier(
            edgec_add_wrap(scaled1, scaled2), params->output_multiplier, params->output_shift);

        output[i] = (int16_t)edgec_clamp(raw_output, params->activation_min,
                                         params->activation_max);
    }
    return EDGEC_OK;
}
