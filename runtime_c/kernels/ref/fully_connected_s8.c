/*
 * edgec reference kernel: fully connected layer with int8 activations and weights and
 * per-output-channel requantization. The arithmetic is the reference interpreter's
 * fully_connected (compiler/edgec/reference/int_ops.py): TFLite's per-channel fully
 * connected kernel, plus an optional filter offset.
 */
#include <stddef.h>

#include "edgec/fixed_point.h"
#include "edgec/kernel_checks.h"
#include "edgec/kernels.h"

edgec_status edgec_fully_connected_s8(const edgec_fc_params *params,
                                      const edgec_per_channel_quant *quant,
                                      int32_t rows, int32_t input_depth, const int8_t *input,
                                      int32_t output_depth, const int8_t *filter,
                                      const int32_t *bias, int8_t *output)
{
    int32_t row;
    int32_t out_c;

    if (rows < 0 || input_depth < 1 || output_depth < 1) {
        return EDGEC_ERROR_ARGUMENT;
    }
    if (!edgec_activation_range_s8_valid(params->activation_min, params->activation_max)) {
        return EDGEC_ERROR_ARGUMENT;
    }

    for (row = 0; row < rows; row++) {
        const int8_t *input_row = input + row * input_depth;

        for (out_c = 0; out_c < output_depth; out_c++) {
            const int8_t *filter_row = filter + out_c * input_depth;
            int32_t acc = 0;
            int32_t value;
            int32_t d;

            /* Each product is at most 255 * 255 in magnitude (128 * 255 with a zero filter
             * offset), so the int32 accumulator cannot overflow for input_depth up to
             * 33,025 (65,793 with a zero filter offset). */
            for (d = 0; d < input_depth; d++) {
                acc += (filter_row[d] + params->filter_offset) *
                       (input_row[d] + params->input_offset);
            }
            if (bias != NULL) {
                acc = edgec_add_wrap(acc, bias[out_c]);
            }
            value = edgec_multiply_by_quantized_multiplier(acc, quant->multipliers[out_c],
                                                           quant->shifts[out_c]);
            *output++ = (int8_t)edgec_offset_and_clamp(value, params->output_offset,
                                                       params->activation_min,
                                                       params->activation_max);
        }
    }
    return EDGEC_OK;
}
