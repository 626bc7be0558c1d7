/*
 * edgec reference kernel: 2-D convolution with int8 activations and weights and
 * per-channel requantization. The arithmetic is the reference interpreter's conv2d
 * (compiler/edgec/reference/int_ops.py): TFLite's per-channel convolution, plus an
 * optional filter offset.
 */
#include <stddef.h>

#include "edgec/fixed_point.h"
#include "edgec/kernel_checks.h"
#include "edgec/kernels.h"

/* Returns whether the sizes, strides and clamp range describe a valid convolution. */
static int conv2d_arguments_valid(const edgec_conv_params *params,
                                  const edgec_dims *input_dims,
                                  const edgec_dims *filter_dims,
                                  const edgec_dims *output_dims)
{
    return edgec_conv_dims_valid(params, input_dims, filter_dims, output_dims) &&
           edgec_activation_range_s8_valid(params->activation_min, params->activation_max);
}

/*
 * Returns the accumulator of one output value: the sum over the filter taps inside the
 * input of (filter + filter_offset) * (input + input_offset). `input` points at the
 * sample, `filter` at the output channel's filter, and (in_y_origin, in_x_origin) is the
 * input position of the filter's top-left tap.
 */
static int32_t conv2d_accumulate(const edgec_conv_params *params,
                                 const edgec_dims *input_dims, const int8_t *input,
                                 const edgec_dims *filter_dims, const int8_t *filter,
                                 int32_t in_y_origin, int32_t in_x_origin)
{
    const int32_t depth = input_dims->c;
    int32_t acc = 0;
    int32_t filter_y;
    int32_t filter_x;
    int32_t c;

    /*
     * Each product is at most 255 * 255 = 65025 in magnitude (128 * 255 with a zero
     * filter offset), so the int32 accumulator cannot overflow for up to 33,025 taps
     * (65,793 with a zero filter offset), counting filter_h * filter_w * depth.
     */
    for (filter_y = 0; filter_y < filter_dims->h; filter_y++) {
        const int32_t in_y = in_y_origin + filter_y * params->dilation_h;

        /* Taps outside the input read the zero point, which adds 0 after the input
         * offset: skip them. */
        if (in_y < 0 || in_y >= input_dims->h) {
            continue;
        }
        for (filter_x = 0; filter_x < filter_dims->w; filter_x++) {
            const int32_t in_x = in_x_origin + filter_x * params->dilation_w;
            const int8_t *input_tap;
            const int8_t *filter_tap;

            if (in_x < 0 || in_x >= input_dims->w) {
                continue;
            }
            input_tap = input + (in_y * input_dims->w + in_x) * depth;
            filter_tap = filter + (filter_y * filter_dims->w + filter_x) * depth;
            for (c = 0; c < depth; c++) {
                acc += (filter_tap[c] + params->filter_offset) *
                       (input_tap[c] + params->input_offset);
            }
        }
    }
    return acc;
}

edgec_status edgec_conv2d_s8(const edgec_conv_params *params,
                             const edgec_per_channel_quant *quant,
                             const edgec_dims *input_dims, const int8_t *input,
                             const edgec_dims *filter_dims, const int8_t *filter,
                             const int32_t *bias,
                             const edgec_dims *output_dims, int8_t *output)
{
    const int32_t input_size = input_dims->h * input_dims->w * input_dims->c;
    const int32_t filter_size = filter_dims->h * filter_dims->w * filter_dims->c;
    int32_t batch;
    int32_t out_y;
    int32_t out_x;
    int32_t channel;

    if (!conv2d_arguments_valid(params, input_dims, filter_dims, output_dims)) {
        return EDGEC_ERROR_ARGUMENT;
    }

    for (batch = 0; batch < input_dims->n; batch++) {
        for (out_y = 0; out_y < output_dims->h; out_y++) {
            const int32_t in_y_origin = out_y * params->stride_h - params->pad_top;

            for (out_x = 0; out_x < output_dims->w; out_x++) {
                const int32_t in_x_origin = out_x * params->stride_w - params->pad_left;

                for (channel = 0; channel < output_dims->c; channel++) {
                    int32_t acc = conv2d_accumulate(
                        params, input_dims, input + batch * input_size, filter_dims,
                        filter + channel * filter_size, in_y_origin, in_x_origin);
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
