/*
 * edgec reference kernel: 2-D max pooling of int8 NHWC tensors. Each output is the
 * maximum of the window's taps inside the input (padding is ignored), clamped to the
 * activation range. A window with no tap inside the input gives activation_min. The
 * arithmetic is the reference interpreter's max_pool2d
 * (compiler/edgec/reference/int_ops.py), which is TFLite's int8 MaxPool.
 */
#include "edgec/kernel_checks.h"
#include "edgec/kernels.h"

/* Returns whether the sizes, window and clamp range are consistent. */
static int max_pool_arguments_valid(const edgec_pool_params *params,
                                    const edgec_dims *input_dims,
                                    const edgec_dims *output_dims)
{
    return edgec_pool_dims_valid(params, input_dims, output_dims) &&
           edgec_activation_range_s8_valid(params->activation_min, params->activation_max);
}

edgec_status edgec_max_pool2d_s8(const edgec_pool_params *params,
                                 const edgec_dims *input_dims, const int8_t *input,
                                 const edgec_dims *output_dims, int8_t *output)
{
    const int32_t depth = input_dims->c;
    int32_t batch;
    int32_t out_y;
    int32_t out_x;
    int32_t channel;

    if (!max_pool_arguments_valid(params, input_dims, output_dims)) {
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

                for (channel = 0; channel < depth; channel++) {
                    int32_t maximum = params->activation_min;
                    int32_t y;
                    int32_t x;

                    /* Starting from activation_min applies the lower clamp. */
                    for (y = y_start; y < y_end; y++) {
                        for (x = x_start; x < x_end; x++) {
                            const int32_t value = sample[(y * input_dims->w + x) * depth + channel];

                            if (value > maximum) {
                                maximum = value;
                            }
                        }
                    }
                    *output++ = (int8_t)(maximum < params->activation_max ? maximum
                                                                          : params->activation_max);
                }
            }
        }
    }
    return EDGEC_OK;
}
