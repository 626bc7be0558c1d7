/*
 * edgec reference kernel: fully connected layer with int16 activations, int8 weights, an
 * int64 bias and per-output-channel requantization (TFLite's 16x8 mode). The arithmetic is
 * the reference interpreter's fully_connected for an int16 input
 * (compiler/edgec/reference/int_ops.py): TFLite's 16x8 per-channel fully connected kernel,
 * with the requantized value clamped in int64.
 */
#include <stddef.h>

#include "edgec/fixed_point.h"
#include "edgec/kernel_checks.h"
#include "edgec/kernels.h"

/* Returns whether the sizes, offsets, shifts and clamp range are valid. */
static int fully_connected_s16_arguments_valid(const edgec_fc_params *params,
                                               const edgec_per_channel_quant *quant,
                                               int32_t rows, int32_t input_depth,
                                               int32_t output_depth)
{
    int32_t out_c;

    if (rows < 0 || input_depth < 1 || output_depth < 1) {
        return 0;
    }
    if (params->input_offset != 0 || params->filter_offset != 0 || params->output_offset != 0) {
        return 0;
    }
    for (out_c = 0; out_c < output_depth; out_c++) {
        if (quant->multipliers[out_c] < 0 || quant->shifts[out_c] < -31 ||
            quant->shifts[out_c] > 7) {
            return 0;
        }
    }
    return edgec_activation_range_valid(params->activation_min, params->activation_max, -32768,
                                        32767);
}

edgec_status edgec_fully_connected_s16(const edgec_fc_params *params,
                                       const edgec_per_channel_quant *quant,
                                       int32_t rows, int32_t input_depth, const int16_t *input,
                                       int32_t output_depth, const int8_t *filter,
                                       const int64_t *bias, int16_t *output)
{
    int32_t row;
    int32_t out_c;

    if (!fully_connected_s16_arguments_valid(params, quant, rows, input_depth, output_depth)) {
        return EDGEC_ERROR_ARGUMENT;
    }

    for (row = 0; row < rows; row++) {
        const int16_t *input_row = input + row * input_depth;

        for (out_c = 0; out_c < output_depth; out_c++) {
            const int8_t *filter_row = filter + out_c * input_depth;
            int64_t acc = 0;
            int32_t d;

            /* Each product is at most 128 * 32768 = 2^22 in magnitude, so the int64
             * accumulator cannot overflow for input_depth below 2^41. */
            for (d = 0; d < input_depth; d++) {
                acc += (int32_t)filter_row[d] * (int32_t)input_row[d];
            }
            if (bias != NULL) {
                acc = edgec_add_wrap64(acc, bias[out_c]);
            }
            acc = edgec_multiply_by_quantized_multiplier_int64(acc, quant->multipliers[out_c],
                                                               quant->shifts[out_c]);
            *output++ = (int16_t)edgec_clamp64(acc, params->activation_min,
                                               params->activation_max);
        }
    }
    return EDGEC_OK;
}
