/*
 * edgec reference kernel: layer normalization over the last axis of an int8 tensor, with
 * gamma and beta folded into per-channel integer parameters (see edgec/kernels_norm.h).
 * The arithmetic is layer_norm_rows in compiler/edgec/reference/int_norm.py, shared with
 * the other layer_norm kernels through edgec/kernels_norm_rows.h.
 *
 * Error bound against float layer_norm of the dequantized input (the float result clamped
 * to the int8 range): at most 0.5 + 2^-25 * max|gamma / output_scale| + 2^-12 output steps.
 * tests/reference/test_norm_error_bounds.py measures 0.500011 for gamma / output_scale up
 * to about 1100.
 *
 * Cost per row: two passes over the input, one integer square root (31 steps) and one
 * 64-bit division. Each element then takes two 32 x 32 -> 64-bit multiplies and three
 * rounding shifts.
 */
#include "edgec/kernels_norm_rows.h"

edgec_status edgec_layer_norm_s8(const edgec_layer_norm_params *params,
                                 const edgec_layer_norm_channels *channels, int32_t rows,
                                 const int8_t *input, int8_t *output)
{
    const int32_t depth = params->depth;
    int32_t row;

    if (!edgec_layer_norm_arguments_valid(params, channels, rows, -127, 128)) {
        return EDGEC_ERROR_ARGUMENT;
    }

    for (row = 0; row < rows; row++) {
        const int8_t *x = input + (size_t)row * (size_t)depth;
        int8_t *y = output + (size_t)row * (size_t)depth;
        int32_t sum;
        int32_t z_shift;
        int32_t c;
        const int64_t variance =
            edgec_layer_norm_variance_s8(x, depth, params->input_offset, &sum);
        const int32_t reciprocal = edgec_layer_norm_reciprocal(params, variance, &z_shift);

        for (c = 0; c < depth; c++) {
            const int32_t centered = depth * (x[c] + params->input_offset) - sum;

            y[c] = edgec_layer_norm_output_s8(centered, reciprocal, z_shift, channels, c);
        }
    }
    return EDGEC_OK;
}
