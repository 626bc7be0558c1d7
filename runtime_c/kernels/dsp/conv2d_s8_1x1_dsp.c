/*
 * edgec DSP kernel variant: 1x1 convolution with no padding, any stride and any batch, int8
 * activations and weights, per-channel requantization. The arithmetic is the reference
 * conv2d's (runtime_c/kernels/ref/conv2d_s8.c) with the input offset folded into the bias.
 *
 * Each block of 4 consecutive output pixels copies the 4 input pixels, sign-extended to
 * int16, into the column block in scratch, then runs the shared filter-row loop of
 * edgec/dsp_conv_core.h over all output channels. A block reads all its input pixels
 * before it writes its outputs, and blocks go in increasing pixel order, so the output may
 * overlap the input as the memory planner's window rule allows.
 */
#include <stddef.h>

#include "edgec/dsp_conv_core.h"
#include "edgec/kernels_dsp.h"

/* Returns whether the call is a valid 1x1 convolution whose taps all lie inside the input. */
static int conv2d_1x1_arguments_valid(const edgec_conv_params *params,
                                      const edgec_dims *input_dims,
                                      const edgec_dims *filter_dims,
                                      const edgec_dims *output_dims, const void *scratch)
{
    if (!dsp_conv_arguments_valid(params, input_dims, filter_dims, output_dims, scratch)) {
        return 0;
    }
    if (filter_dims->h != 1 || filter_dims->w != 1 || params->pad_top != 0 ||
        params->pad_left != 0) {
        return 0;
    }
    /* Without padding, the last output row and column must read inside the input. */
    return (output_dims->h == 0 || (output_dims->h - 1) * params->stride_h < input_dims->h) &&
           (output_dims->w == 0 || (output_dims->w - 1) * params->stride_w < input_dims->w);
}

edgec_status edgec_conv2d_s8_1x1_dsp(const edgec_conv_params *params,
                                     const edgec_per_channel_quant *quant,
                                     const edgec_dims *input_dims, const int8_t *input,
                                     const edgec_dims *filter_dims, const int8_t *filter,
                                     const int32_t *bias,
                                     const edgec_dims *output_dims, int8_t *output, void *scratch)
{
    const int32_t depth = input_dims->c;
    dsp_conv_layer layer;
    uint32_t *columns;
    int32_t batch = 0;
    int32_t out_y = 0;
    int32_t out_x = 0;
    int32_t pixels;
    int32_t done;

    if (!conv2d_1x1_arguments_valid(params, input_dims, filter_dims, output_dims, scratch)) {
        return EDGEC_ERROR_ARGUMENT;
    }
    pixels = output_dims->n * output_dims->h * output_dims->w;
    if (pixels == 0) {
        return EDGEC_OK;
    }
    layer = dsp_conv_set_up(params, quant, filter, bias, output_dims->c, depth, scratch,
                            &columns);

    for (done = 0; done < pixels; done += DSP_CONV_BLOCK_PIXELS) {
        const int32_t block = pixels - done < DSP_CONV_BLOCK_PIXELS ? pixels - done
                                                                    : DSP_CONV_BLOCK_PIXELS;
        int32_t p;

        for (p = 0; p < block; p++) {
            const int32_t in_y = out_y * params->stride_h;
            const int32_t in_x = out_x * params->stride_w;
            const int8_t *pixel =
                input + ((batch * input_dims->h + in_y) * input_dims->w + in_x) * depth;

            dsp_conv_put_run(columns + 2 * p, 0, pixel, depth);
            if (++out_x == output_dims->w) {
                out_x = 0;
                if (++out_y == output_dims->h) {
                    out_y = 0;
                    batch++;
                }
            }
        }
        dsp_conv_run_block(&layer, columns, output + done * output_dims->c, block);
    }
    return EDGEC_OK;
}
