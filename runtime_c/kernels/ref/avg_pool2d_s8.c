/*
 * edgec reference kernel: 2-D average pooling of int8 NHWC tensors. Each output is the
 * mean of the window's taps inside the input (padding is not counted), rounded half away
 * from zero, then clamped to the activation range. Input and output share scale and zero
 * point. The arithmetic is the reference interpreter's average_pool2d
 * (compiler/edgec/reference/int_ops.py), which is TFLite's int8 AveragePool.
 */
#include "edgec/kernel_checks.h"
#include "edgec/kernels.h"

/* Returns whether the clamp range is valid, the sizes are consistent and every window
 * contains at least one input element. */
static int avg_pool_arguments_valid(const edgec_pool_params *params,
                                    const edgec_dims *input_dims,
                                    const edgec_dims *output_dims)
{
    return edgec_activation_range_s8_valid(params->activation_min, params->activation_max) &&
           edgec_avg_pool_dims_valid(params, input_dims, output_dims);
}

edgec_status edgec_avg_pool2d_s8(const edgec_pool_params *params,
                                 const edgec_dims *input_dims, const int8_t *input,
                                 const edgec_dims *output_dims, int8_t *output)
{
    const int32_t depth = input_dims->c;
    int32_t batch;
    int32_t out_y;
    int32_t out_x;
    int32_t channel;

    if (!avg_pool_arguments_valid(params, input_dims, output_dims)) {
        return EDGEC_ERROR_ARGUMENT;
    }

    for (batch = 0; batch < input_dims->n; batch++) {
        const int8_t *sample = input + batch * input_dims->h * input_dims->w * depth;

        for (out_y = 0; out_y < output_dims->h; out_y++) {
            const int32_t in_y_origin = out_y * params->stride_h - params->pad_top;
            const int32_t y_start = in_y_origin < 0 ? 0 : in_y_origin;
            const int32_t y_end = in_y_origin + params->filter_h < input_dims->h
                                      ? in_y_origin + params->filter_h
                                      : input_dims->h;

            for (out_x = 0; out_x < output_dims->w; out_x++) {
                const int32_t in_x_origin = out_x * params->stride_w - params->pad_left;
                const int32_t x_start = in_x_origin < 0 ? 0 : in_x_origin;
                const int32_t x_end = in_x_origin + params->filter_w < input_dims->w
                                          ? in_x_origin + params->filter_w
                                          : input_dims->w;
                /* At least 1 by the argument check. */
                const int32_t count = (y_end - y_start) * (x_end - x_start);

                for (channel = 0; channel < depth; channel++) {
                    /* At most filter_h * filter_w values of magnitude <= 128: no overflow
                     * below 2^24 taps. */
                    int32_t sum = 0;
                    int32_t average;
                    int32_t y;
                    int32_t x;

                    for (y = y_start; y < y_end; y++) {
                        for (x = x_start; x < x_end; x++) {
                            sum += sample[(y * input_dims->w + x) * depth + channel];
                        }
                    }
                    /* Round half away from zero; C division truncates toward zero. */
                    average = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
                    if (average < params->activation_min) {
                        average = params->activation_min;
                    }
                    if (average > params->activation_max) {
                        average = params->activation_max;
                    }
                    *output++ = (int8_t)average;
                }
            }
        }
    }
    return EDGEC_OK;
}
