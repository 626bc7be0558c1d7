/*
 * edgec reference kernel: 2-D convolution with int16 activations, int8 weights, an int64
 * bias and per-channel requantization (TFLite's 16x8 mode). The arithmetic is the reference
 * interpreter's conv2d for an int16 input (compiler/edgec/reference/int_ops.py): TFLite's
 * 16x8 per-channel convolution, with the requantized value clamped in int64.
 */
#include <stddef.h>

#include "edgec/fixed_point.h"
#include "edgec/kernel_checks.h"
#include "edgec/kernels.h"

/* Returns whether the sizes, strides, offsets, shifts and clamp range are valid. */
static int conv2d_s16_arguments_valid(const edgec_conv_params *params,
                                      const edgec_per_channel_quant *quant,
                                      const edgec_dims *input_dims,
                                      const edgec_dims *filter_dims,
                                      const edgec_dims *output_dims)
{
    int32_t channel;

    if (!edgec_conv_dims_valid(params, input_dims, filter_dims, output_dims)) {
        return 0;
    }
    if (params->input_offset != 0 || params->filter_offset != 0 || params->output_offset != 0) {
        return 0;
    }
    for (channel = 0; channel < output_dims->c; channel++) {
        if (quant->multipliers[channel] < 0 || quant->shifts[channel] < -31 ||
            quant->shifts[channel] > 7) {
            return 0;
        }
    }
    return edgec_activation_range_valid(params->activation_min, params->activation_max, -32768,
                                        32767);
}

/*
 * Returns the accumulator of one output value: the sum over the filter taps inside the
 * input of filter * input. `input` points at the sample, `filter` at the output channel's
 * filter, and (in_y_origin, in_x_origin) is the input position of the filter's top-left tap.
 */
static int64_t conv2d_s16_accumulate(const edgec_conv_params *params,
                                     const edgec_dims *input_dims, const int16_t *input,
                                     const edgec_dims *filter_dims, const int8_t *filter,
                                     int32_t in_y_origin, int32_t in_x_origin)
{
    const int32_t depth = input_dims->c;
    int64_t acc = 0;
    int32_t filter_y;
    int32_t filter_x;
    int32_t c;

    /* Each product is at most 128 * 32768 = 2^22 in magnitude, so the int64 accumulator
     * cannot overflow for fewer than 2^41 taps. */
    for (filter_y = 0; filter_y < filter_dims->h; filter_y++) {
        const int32_t in_y = in_y_origin + filter_y * params->dilation_h;

        /* Taps outside the input read the zero point 0, so they add nothing. */
        if (in_y < 0 || in_y >= input_dims->h) {
            continue;
        }
        for (filter_x = 0; filter_x < filter_dims->w; filter_x++) {
            const int32_t in_x = in_x_origin + filter_x * params->dilation_w;
            const int16_t *input_tap;
            const int8_t *filter_tap;

            if (in_x < 0 || in_x >= input_dims->w) {
                continue;
            }
            input_tap = input + (in_y * input_dims->w + in_x) * depth;
            filter_tap = filter + (filter_y * filter_dims->w + filter_x) * depth;
            for (c = 0; c < depth; c++) {
                acc += (int32_t)filter_tap[c] * (int32_t)input_tap[c];
            }
        }
    }
    return acc;
}

edgec_status edgec_conv2d_s16(const edgec_conv_params *params,
                              const edgec_per_channel_quant *quant,
                              const edgec_dims *input_dims, const int16_t *input,
                              const edgec_dims *filter_dims, const int8_t *filter,
                              const int64_t *bias,
                              const edgec_dims *output_dims, int16_t *output)
{
    const int32_t input_size = input_dims->h * input_dims->w * input_dims->c;
    const int32_t filter_size = filter_dims->h * filter_dims->w * filter_dims->c;
    int32_t batch;
    int32_t out_y;
    int32_t out_x;
    int32_t channel;

    if (!conv2d_s16_arguments_valid(params, quant, input_dims, filter_dims, output_dims)) {
        return EDGEC_ERROR_ARGUMENT;
    }

    for (batch = 0; batch < input_dims->n; batch++) {
        for (out_y = 0; out_y < output_dims->h; out_y++) {
            const int32_t in_y_origin = out_y * params->stride_h - params->pad_top;

            for (out_x = 0; out_x < output_dims->w; out_x++) {
                const int32_t in_x_origin = out_x * params->stride_w - params->pad_left;

                for (channel = 0; channel < output_dims->c; channel++) {
                    int64_t acc = conv2d_s16_accumulate(
                        params, input_dims, input + batch * input_size, filter_dims,
                        filter + channel * filter_size, in_y_origin, in_x_origin);

                    if (bias != NULL) {
                        acc = edgec_add_wrap64(acc, bias[channel]);
                    }
                    acc = edgec_multiply_by_quantized_multiplier_int64(
                        acc, quant->multipliers[channel], quant->shifts[channel]);
                    *output++ = (int16_t)edgec_clamp64(acc, params->activation_min,
                                                       params->activation_max);
                }
            }
        }
    }
    return EDGEC_OK;
}
