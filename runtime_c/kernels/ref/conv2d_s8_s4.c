/*
 * edgec reference kernel: 2-D convolution with int8 activations, packed int4 weights
 * (per channel or per group) and per-channel requantization. The arithmetic is the
 * reference interpreter's conv2d (compiler/edgec/reference/int_ops.py) on int4 weights;
 * kernels.h describes the packing and the group multipliers.
 */
#include <stddef.h>

#include "edgec/fixed_point.h"
#include "edgec/int4.h"
#include "edgec/kernel_checks.h"
#include "edgec/kernels.h"

/* Returns whether the sizes, strides, groups and clamp range describe a valid convolution. */
static int conv2d_s4_arguments_valid(const edgec_conv_params *params,
                                     const edgec_dims *input_dims,
                                     const edgec_dims *filter_dims, int32_t group_size,
                                     const uint8_t *group_multipliers,
                                     const edgec_dims *output_dims)
{
    if (!edgec_conv_dims_valid(params, input_dims, filter_dims, output_dims) ||
        params->filter_offset != 0) {
        return 0;
    }
    if (group_multipliers != NULL && group_size < 1) {
        return 0;
    }
    return edgec_activation_range_s8_valid(params->activation_min, params->activation_max);
}

/*
 * Returns the accumulator of one output value: sum over the groups g of
 * multipliers[g] * acc_g, where acc_g sums q_k * (input + input_offset) over the taps k of
 * group g that lie inside the input. With `multipliers` NULL the channel is one group with
 * multiplier 1. `row` is the channel's packed filter, `input` points at the sample, and
 * (in_y_origin, in_x_origin) is the input position of the filter's top-left tap.
 */
static int32_t conv2d_s4_accumulate(const edgec_conv_params *params,
                                    const edgec_dims *input_dims, const int8_t *input,
                                    const edgec_dims *filter_dims, const uint8_t *row,
                                    int32_t group_size, const uint8_t *multipliers,
                                    int32_t in_y_origin, int32_t in_x_origin)
{
    const int32_t depth = input_dims->c;
    int32_t total = 0;
    int32_t acc = 0;      /* sum over the taps of the current group */
    int32_t in_group = 0; /* taps of the current group visited so far */
    int32_t group = 0;
    int32_t k = 0;
    int32_t filter_y;
    int32_t filter_x;
    int32_t c;

    /* The compiler rejects a layer whose bound 255 * sum_k m_g(k) * |q_k| exceeds INT32_MAX
     * (edgec.lower.params), and every partial sum here is below that bound. Taps outside
     * the input read the zero point, which adds 0 after the input offset, but they still
     * count towards their group. */
    for (filter_y = 0; filter_y < filter_dims->h; filter_y++) {
        const int32_t in_y = in_y_origin + filter_y * params->dilation_h;
        const int row_inside = in_y >= 0 && in_y < input_dims->h;

        for (filter_x = 0; filter_x < filter_dims->w; filter_x++) {
            const int32_t in_x = in_x_origin + filter_x * params->dilation_w;
            const int8_t *input_tap = NULL;

            if (row_inside && in_x >= 0 && in_x < input_dims->w) {
                input_tap = input + (in_y * input_dims->w + in_x) * depth;
            }
            for (c = 0; c < depth; c++, k++) {
                if (input_tap != NULL) {
                    acc += edgec_int4_value(row, k) * (input_tap[c] + params->input_offset);
                }
                in_group++;
                if (in_group == group_size) {
                    total += (multipliers != NULL ? (int32_t)multipliers[group] : 1) * acc;
                    group++;
                    acc = 0;
                    in_group = 0;
                }
            }
        }
    }
    if (in_group > 0) {
        total += (multipliers != NULL ? (int32_t)multipliers[group] : 1) * acc;
    }
    return total;
}

edgec_status edgec_conv2d_s8_s4(const edgec_conv_params *params,
                                const edgec_per_channel_quant *quant,
                                const edgec_dims *input_dims, const int8_t *input,
                                const edgec_dims *filter_dims, const uint8_t *filter,
                                int32_t group_size, const uint8_t *group_multipliers,
                                const int32_t *bias,
                                const edgec_dims *output_dims, int8_t *output)
{
    const int32_t input_size = input_dims->h * input_dims->w * input_dims->c;
    int32_t reduction;
    int32_t row_bytes;
    int32_t group_count;
    int32_t batch;
    int32_t out_y;
    int32_t out_x;
    int32_t channel;

    if (!conv2d_s4_arguments_valid(params, input_dims, filter_dims, group_size,
                                   group_multipliers, output_dims)) {
        return EDGEC_ERROR_ARGUMENT;
    }
    reduction = filter_dims->h * filter_dims->w * filter_dims->c;
    row_bytes = (reduction + 1) / 2;
    if (group_multipliers == NULL) {
        group_size = reduction; /* per channel: one group, multiplier 1 */
    }
    group_count = 1 + (reduction - 1) / group_size; /* ceil(reduction / group_size) */

    for (batch = 0; batch < input_dims->n; batch++) {
        for (out_y = 0; out_y < output_dims->h; out_y++) {
            const int32_t in_y_origin = out_y * params->stride_h - params->pad_top;

            for (out_x = 0; out_x < output_dims->w; out_x++) {
                const int32_t in_x_origin = out_x * params->stride_w - params->pad_left;

                for (channel = 0; channel < output_dims->c; channel++) {
                    const uint8_t *multipliers =
                        group_multipliers != NULL ? group_multipliers + channel * group_count
                                                  : NULL;
                    int32_t acc = conv2d_s4_accumulate(
                        params, input_dims, input + batch * input_size, filter_dims,
                        filter + channel * row_bytes, group_size, multipliers, in_y_origin,
                        in_x_origin);
                    int32_t value;

                    if (bias != NULL) {
                        acc = edgec_add_wrap(acc, bias[channel]);
                    }
                    value = edgec_multiply_by_quantized_multiplier(
                        acc, quant->multipliers[channel], quant->shifts[channel]);
                    *output++ = (int8_t)edgec_offset_and_clamp(
                        value, params->output_offset, params->activation_min,
                        params->activation_max);
                }
            }
        }
    }
    return EDGEC_OK;
}
