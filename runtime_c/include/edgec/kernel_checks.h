/*
 * edgec runtime: the argument checks that the reference kernels and their DSP and Helium
 * (MVE) variants share.
 *
 * Each function checks one group of arguments and returns nonzero when all of them are
 * valid. A kernel combines the groups it needs and adds its own checks (filter offset,
 * bias and scratch pointers, alignment, fixed filter sizes), so every variant rejects at
 * least what its reference kernel rejects. The checks run once per call, before any
 * output is written, and use no floating point.
 */
#ifndef EDGEC_KERNEL_CHECKS_H
#define EDGEC_KERNEL_CHECKS_H

#include <stdint.h>

#include "edgec/kernels.h"

/* Checks the clamp range of an output type: lowest <= activation_min <= activation_max
 * <= highest. */
static inline int edgec_activation_range_valid(int32_t activation_min, int32_t activation_max,
                                               int32_t lowest, int32_t highest)
{
    if (activation_min < lowest || activation_min > activation_max || activation_max > highest) {
        return 0;
    }
    return 1;
}

/* Checks the clamp range of an int8 output: -128 <= activation_min <= activation_max
 * <= 127. */
static inline int edgec_activation_range_s8_valid(int32_t activation_min, int32_t activation_max)
{
    return edgec_activation_range_valid(activation_min, activation_max, -128, 127);
}

/* Checks the sizes of an NHWC activation input: n >= 0, and h, w and c >= 1. */
static inline int edgec_input_dims_valid(const edgec_dims *input_dims)
{
    return input_dims->n >= 0 && input_dims->h >= 1 && input_dims->w >= 1 && input_dims->c >= 1;
}

/* Checks the output sizes, strides and dilations of a convolution: output n equal to the
 * input's, output h and w >= 0, output c equal to output_depth, and strides and
 * dilations >= 1. */
static inline int edgec_conv_output_valid(const edgec_conv_params *params,
                                          const edgec_dims *input_dims,
                                          const edgec_dims *output_dims, int32_t output_depth)
{
    if (output_dims->n != input_dims->n || output_dims->h < 0 || output_dims->w < 0 ||
        output_dims->c != output_depth) {
        return 0;
    }
    return params->stride_h >= 1 && params->stride_w >= 1 && params->dilation_h >= 1 &&
           params->dilation_w >= 1;
}

/*
 * Checks the sizes, strides and dilations of a convolution with an OHWI filter: a valid
 * input, filter n, h and w >= 1 and filter c equal to the input depth, output n equal to
 * the input's, output h and w >= 0, and output c equal to filter n. The clamp range is
 * not checked.
 */
static inline int edgec_conv_dims_valid(const edgec_conv_params *params,
                                        const edgec_dims *input_dims,
                                        const edgec_dims *filter_dims,
                                        const edgec_dims *output_dims)
{
    if (!edgec_input_dims_valid(input_dims)) {
        return 0;
    }
    if (filter_dims->n < 1 || filter_dims->h < 1 || filter_dims->w < 1 ||
        filter_dims->c != input_dims->c) {
        return 0;
    }
    return edgec_conv_output_valid(params, input_dims, output_dims, filter_dims->n);
}

/*
 * Checks the sizes, strides, dilations and depth multiplier of a depthwise convolution
 * with a 1HW(C*M) filter: a valid input, depth_multiplier M >= 1, filter c equal to the
 * input depth times M, filter n == 1, filter h and w >= 1, output n equal to the input's,
 * output h and w >= 0, and output c equal to filter c. The clamp range is not checked.
 */
static inline int edgec_depthwise_dims_valid(const edgec_conv_params *params,
                                             const edgec_dims *input_dims,
                                             const edgec_dims *filter_dims,
                                             const edgec_dims *output_dims)
{
    if (!edgec_input_dims_valid(input_dims)) {
        return 0;
    }
    /* NOTE: c * M overflows int32 for a large M, and no check here rejects that case. */
    if (params->depth_multiplier < 1 ||
        filter_dims->c != input_dims->c * params->depth_multiplier) {
        return 0;
    }
    if (filter_dims->n != 1 || filter_dims->h < 1 || filter_dims->w < 1) {
        return 0;
    }
    return edgec_conv_output_valid(params, input_dims, output_dims, filter_dims->c);
}

/*
 * Checks the sizes, window and strides of a 2-D pooling: a valid input, output n and c
 * equal to the input's, output h and w >= 0, and window and strides >= 1. Padding and
 * the clamp range are not checked.
 */
static inline int edgec_pool_dims_valid(const edgec_pool_params *params,
                                        const edgec_dims *input_dims,
                                        const edgec_dims *output_dims)
{
    if (!edgec_input_dims_valid(input_dims)) {
        return 0;
    }
    if (output_dims->n != input_dims->n || output_dims->c != input_dims->c ||
        output_dims->h < 0 || output_dims->w < 0) {
        return 0;
    }
    return params->filter_h >= 1 && params->filter_w >= 1 && params->stride_h >= 1 &&
           params->stride_w >= 1;
}

/*
 * Checks an average pooling: the pooling checks, output h and w >= 1, and padding such
 * that every window contains at least one input element. Windows move monotonically, so
 * checking the first and the last window along each axis is enough. The clamp range is
 * not checked.
 */
static inline int edgec_avg_pool_dims_valid(const edgec_pool_params *params,
                                            const edgec_dims *input_dims,
                                            const edgec_dims *output_dims)
{
    int32_t last_y;
    int32_t last_x;

    if (!edgec_pool_dims_valid(params, input_dims, output_dims)) {
        return 0;
    }
    if (output_dims->h < 1 || output_dims->w < 1 || params->pad_top < 0 ||
        params->pad_left < 0) {
        return 0;
    }
    last_y = (output_dims->h - 1) * params->stride_h - params->pad_top;
    last_x = (output_dims->w - 1) * params->stride_w - params->pad_left;
    return params->pad_top < params->filter_h && params->pad_left < params->filter_w &&
           last_y < input_dims->h && last_x < input_dims->w;
}

/* Checks the broadcast of an elementwise op: every shape entry and input stride >= 0. */
static inline int edgec_broadcast_valid(const edgec_broadcast *broadcast)
{
    int axis;

    for (axis = 0; axis < 4; axis++) {
        if (broadcast->shape[axis] < 0 || broadcast->input1_strides[axis] < 0 ||
            broadcast->input2_strides[axis] < 0) {
            return 0;
        }
    }
    return 1;
}

#endif /* EDGEC_KERNEL_CHECKS_H */
