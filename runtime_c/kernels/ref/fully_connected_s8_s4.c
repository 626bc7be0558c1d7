/*
 * edgec reference kernel: fully connected layer with int8 activations, packed int4 weights
 * (per channel or per group) and per-output-channel requantization. The arithmetic is the
 * reference interpreter's fully_connected (compiler/edgec/reference/int_ops.py) on int4
 * weights; kernels.h describes the packing and the group multipliers.
 */
#include <stddef.h>

#include "edgec/fixed_point.h"
#include "edgec/int4.h"
#include "edgec/kernel_checks.h"
#include "edgec/kernels.h"

/*
 * Returns sum over the groups g of multipliers[g] * acc_g, where acc_g sums
 * q_d * (input_row[d] + input_offset) over the d of group g. With `multipliers` NULL the
 * row is one group with multiplier 1.
 */
static int32_t fully_connected_s4_accumulate(const edgec_fc_params *params,
                                             int32_t input_depth, const int8_t *input_row,
                                             const uint8_t *filter_row, int32_t group_size,
                                             const uint8_t *multipliers)
{
    int32_t total = 0;
    int32_t start;
    int32_t end;

    /* The compiler rejects a layer whose bound 255 * sum_d m_g(d) * |q_d| exceeds
     * INT32_MAX (edgec.lower.params), and every partial sum here is below that bound. */
    for (start = 0; start < input_depth; start = end) {
        const int32_t multiplier =
            multipliers != NULL ? (int32_t)multipliers[start / group_size] : 1;
        int32_t acc = 0;
        int32_t d;

        end = input_depth - start <= group_size ? input_depth : start + group_size;

        for (d = start; d < end; d++) {
            acc += edgec_int4_value(filter_row, d) * (input_row[d] + params->input_offset);
        }
        total += multiplier * acc;
    }
    return total;
}

edgec_status edgec_fully_connected_s8_s4(const edgec_fc_params *params,
                                         const edgec_per_channel_quant *quant,
                                         int32_t rows, int32_t input_depth, const int8_t *input,
                                         int32_t output_depth, const uint8_t *filter,
                                         int32_t group_size, const uint8_t *group_multipliers,
                                         const int32_t *bias, int8_t *output)
{
    int32_t row_bytes;
    int32_t group_count;
    int32_t row;
    int32_t out_c;

    if (rows < 0 || input_depth < 1 || output_depth < 1 || params->filter_offset != 0) {
        return EDGEC_ERROR_ARGUMENT;
    }
    if (group_multipliers != NULL && group_size < 1) {
        return EDGEC_ERROR_ARGUMENT;
    }
    if (!edgec_activation_range_s8_valid(params->activation_min, params->activation_max)) {
        return EDGEC_ERROR_ARGUMENT;
    }
    row_bytes = (input_depth + 1) / 2;
    if (group_multipliers == NULL) {
        group_size = input_depth; /* per channel: one group, multiplier 1 */
    }
    group_count = 1 + (input_depth - 1) / group_size; /* ceil(input_depth / group_size) */

    for (row = 0; row < rows; row++) {
        const int8_t *input_row = input + row * input_depth;

        for (out_c = 0; out_c < output_depth; out_c++) {
            const uint8_t *multipliers =
                group_multipliers != NULL ? group_multipliers + out_c * group_count : NULL;
            int32_t acc = fully_connected_s4_accumulate(params, input_depth, input_row,
                                                        filter + out_c * row_bytes, group_size,
                                                        multipliers);
            int32_t value;

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
