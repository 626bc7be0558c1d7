/*
 * edgec reference kernel: layer normalization over the last axis of an int16 tensor, int16
 * output, both with zero point 0, with gamma and beta folded into per-channel integer
 * parameters (see edgec/kernels_norm.h). The arithmetic is layer_norm_rows in
 * compiler/edgec/reference/int_norm.py, shared with the other layer_norm kernels through
 * edgec/kernels_norm_rows.h. Only the final clamp differs from edgec_layer_norm_s16.
 *
 * Error bound against float layer_norm of the dequantized input (the float result clamped
 * to the int16 range): at most 0.5 + 2^-25 * max|gamma / output_scale| + 2^-7 output steps
 * for outputs whose normalized value times gamma / output_scale is at most 2^16 in
 * magnitude. tests/reference/test_norm_error_bounds.py measures 0.50095 for
 * gamma / output_scale up to about 1.4e5.
 */
#include "edgec/kernels_norm_rows.h"

edgec_status edgec_layer_norm_s16_s16(const edgec_layer_norm_params *params,
                                      const edgec_layer_norm_channels *channels, int32_t rows,
                                      const int16_t *input, int16_t *output)
{
    const int32_t depth = params->depth;
    int32_t row;

    if (!edgec_layer_norm_arguments_valid(params, channels, rows, 0, 0)) {
        return EDGEC_ERROR_ARGUMENT;
    }

    for (row = 0; row < rows; row++) {
        const int16_t *x = input + (size_t)row * (size_t)depth;
        int16_t *y = output + (size_t)row * (size_t)depth;
        int32_t sum;
        int32_t z_shift;
        int32_t c;
        const int64_t variance = edgec_layer_norm_variance_s16(x, depth, &sum);
        const int32_t reciprocal = edgec_layer_norm_reciprocal(params, variance, &z_shift);

        for (c = 0; c < depth; c++) {
            y[c] = edgec_layer_norm_output_s16(depth * x[c] - sum, reciprocal, z_shift,
                                               channels, c);
        }
    }
    return EDGEC_OK;
}
