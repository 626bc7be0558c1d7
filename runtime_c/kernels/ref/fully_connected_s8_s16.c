/*
 * edgec reference kernel: fully connected layer with int8 activations and weights, an
 * int32 bias and per-output-channel requantization, writing int16 outputs (zero point 0).
 * The arithmetic is the reference interpreter's fully_connected for an int8 input and an
 * int16 output (compiler/edgec/reference/int_ops.py): edgec_fully_connected_s8's, with the
 * clamp range of int16. The loops are in edgec/kernels_fully_connected_core.h.
 *
 * Error bound: the output is within 0.5 + 2^(shift - 1) + 2^-16 steps of the float layer
 * on the dequantized input, weights and bias, clamped to the activation range, where
 * shift < 0 is the channel's requantization shift (double rounding). It is within
 * 0.5 + 2^-16 steps for shift >= 0 or with EDGEC_SINGLE_ROUNDING. The 2^-16 covers the
 * Q31 rounding of the multiplier. tests/reference/test_residual_error_bounds.py checks it.
 * NOTE: a left shift wraps the accumulator when |acc| * 2^shift >= 2^31, as TFLite's int8
 * kernels do, and the bound then fails. The float value is beyond 2^30 steps there.
 */
#include <stddef.h>

#include "edgec/kernel_checks.h"
#include "edgec/kernels.h"
#include "edgec/kernels_fully_connected_core.h"

edgec_status edgec_fully_connected_s8_s16(const edgec_fc_params *params,
                                          const edgec_per_channel_quant *quant,
                                          int32_t rows, int32_t input_depth,
                                          const int8_t *input, int32_t output_depth,
                                          const int8_t *filter, const int32_t *bias,
                                          int16_t *output)
{
    if (rows < 0 || input_depth < 1 || output_depth < 1 || params->output_offset != 0) {
        return EDGEC_ERROR_ARGUMENT;
    }
    if (!edgec_activation_range_valid(params->activation_min, params->activation_max, -32768,
                                      32767)) {
        return EDGEC_ERROR_ARGUMENT;
    }

    edgec_fully_connected_rows_s8(params, quant, rows, input_depth, input, output_depth, filter,
                                  bias, NULL, output);
    return EDGEC_OK;
}
