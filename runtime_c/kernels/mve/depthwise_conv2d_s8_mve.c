/*
 * edgec Helium (MVE) kernel: depthwise 2-D convolution of any shape (padding, stride,
 * dilation, depth multiplier) with int8 activations and weights, per-channel
 * requantization and the input offset folded into the bias (kernels_mve.h).
 *
 * For each output row, the kh input rows its windows read are copied into scratch as
 * padded rows (mve_depthwise.h). Then for each block of four output channels and each
 * output pixel, the taps' products are summed in four int32 lanes (VMUL and VADD: MVE has
 * no lane-wise multiply-accumulate of two vectors) and requantized. Output
 * channel c * M + m reads input channel c: with a depth multiplier M > 1 the four lanes
 * gather their inputs (VLDRB gather with the lane offsets (c * M + m) / M).
 *
 * Scratch: kh padded rows.
 */
#include <stddef.h>

#include "edgec/kernels_mve.h"
#include "edgec/mve_depthwise.h"

/* The layer's geometry as the loops use it. */
typedef struct {
    const edgec_conv_params *params;
    const edgec_dims *input_dims;
    const edgec_dims *filter_dims;
    const edgec_dims *output_dims;
    int32_t padded_columns;
    int32_t padded_row_bytes;
} depthwise_geometry;

/* Copies the kh input rows of output row out_y into the padded rows. */
static void pad_rows(int8_t *padded, const int8_t *sample, int32_t out_y,
                     const depthwise_geometry *geometry)
{
    const edgec_conv_params *params = geometry->params;
    const edgec_dims *input_dims = geometry->input_dims;
    const int32_t row_bytes = input_dims->w * input_dims->c;
    int32_t tap_y;

    for (tap_y = 0; tap_y < geometry->filter_dims->h; tap_y++) {
        const int32_t in_y = out_y * params->stride_h - params->pad_top + tap_y * params->dilation_h;
        const int8_t *row = in_y >= 0 && in_y < input_dims->h ? sample + in_y * row_bytes : NULL;

        edgec_mve_pad_row(padded + tap_y * geometry->padded_row_bytes, row, input_dims->w,
                          input_dims->c, params->pad_left, geometry->padded_columns,
                          (int8_t)(-params->input_offset));
    }
}

/*
 * Returns the sums of the four output channels from `channel` at the output pixel whose
 * window starts at `window` in the padded rows. `offsets` are the lanes' input channels
 * relative to `window` when gather is set, `active` the lanes of a partial block.
 */
EDGEC_MVE_INLINE int32x4_t window_sums(const int8_t *window, const int8_t *weights,
                                       const depthwise_geometry *geometry, uint32x4_t offsets,
                                       mve_pred16_t active, int gather, int partial)
{
    const int32_t tap_step = geometry->params->dilation_w * geometry->input_dims->c;
    /* Padded row tap_y already is input row tap_y * dilation_h of the window. */
    const int32_t row_step = geometry->padded_row_bytes;
    int32x4_t acc = vdupq_n_s32(0);
    int32_t tap_y;
    int32_t tap_x;

    for (tap_y = 0; tap_y < geometry->filter_dims->h; tap_y++) {
        const int8_t *tap = window + tap_y * row_step;

        for (tap_x = 0; tap_x < geometry->filter_dims->w; tap_x++) {
            int32x4_t inputs;

            if (gather && partial) {
                inputs = vldrbq_gather_offset_z_s32(tap, offsets, active);
            } else if (gather) {
                inputs = vldrbq_gather_offset_s32(tap, offsets);
            } else if (partial) {
                inputs = vldrbq_z_s32(tap, active);
            } else {
                inputs = vldrbq_s32(tap);
            }
            acc = vaddq_s32(acc, vmulq_s32(inputs, vldrbq_s32(weights)));
            weights += EDGEC_MVE_DEPTHWISE_BLOCK_CHANNELS;
            tap += tap_step;
        }
    }
    return acc;
}

/* Computes one output row (`out` at its first pixel) of the four channels from `channel`
 * (`count` of them valid). */
EDGEC_MVE_INLINE void channel_block_row(int8_t *out, const int8_t *padded, const int8_t *weights,
                                        const int32_t *bias, const edgec_per_channel_quant *quant,
                                        int32_t channel, int32_t count,
                                        const depthwise_geometry *geometry,
                                        const edgec_mve_output_stage *stage, int mode,
                                        int gather, int partial)
{
    const int32_t multiplier = geometry->params->depth_multiplier;
    const int32_t column_step = geometry->params->stride_w * geometry->input_dims->c;
    const int32_t out_step = geometry->output_dims->c;
    const int8_t *window = padded + channel / multiplier;
    const mve_pred16_t active = vctp32q((uint32_t)count);
    const int32_t *const multipliers = quant->multipliers + channel;
    const int32_t *const shifts = quant->shifts + channel;
    uint32x4_t offsets = vdupq_n_u32(0);
    edgec_mve_channel_quant q;
    int32_t out_x;

    if (gather) {
        uint32_t lanes[4];
        int32_t lane;

        for (lane = 0; lane < 4; lane++) {
            lanes[lane] = (uint32_t)((channel + lane) / multiplier - channel / multiplier);
        }
        offsets = vld1q_u32(lanes);
    }
    q = edgec_mve_load_block_quant(bias + channel, multipliers, shifts, count, mode);
    out += channel;
    for (out_x = 0; out_x < geometry->output_dims->w; out_x++) {
        const int32x4_t acc =
            window_sums(window, weights, geometry, offsets, active, gather, partial);

        edgec_mve_requantize_store(out, acc, &q, bias + channel, multipliers, shifts, count,
                                   stage, mode);
        window += column_step;
        out += out_step;
    }
}

EDGEC_MVE_INLINE void depthwise(const depthwise_geometry *geometry,
                                const edgec_per_channel_quant *quant, const int8_t *input,
                                const int8_t *filter, const int32_t *bias, int8_t *output,
                                int8_t *padded, const edgec_mve_output_stage *stage, int mode)
{
    const edgec_dims *input_dims = geometry->input_dims;
    const edgec_dims *output_dims = geometry->output_dims;
    const int32_t channels = output_dims->c;
    const int32_t block_bytes = geometry->filter_dims->h * geometry->filter_dims->w *
                                EDGEC_MVE_DEPTHWISE_BLOCK_CHANNELS;
    const int gather = geometry->params->depth_multiplier > 1;
    int32_t batch;
    int32_t out_y;
    int32_t channel;

    for (batch = 0; batch < input_dims->n; batch++) {
        const int8_t *sample = input + batch * input_dims->h * input_dims->w * input_dims->c;

        for (out_y = 0; out_y < output_dims->h; out_y++) {
            int8_t *out = output + ((batch * output_dims->h + out_y) * output_dims->w) * channels;
            const int8_t *weights = filter;

            pad_rows(padded, sample, out_y, geometry);
            for (channel = 0; channel < channels; channel += EDGEC_MVE_DEPTHWISE_BLOCK_CHANNELS) {
                const int32_t remaining = channels - channel;

                if (remaining < EDGEC_MVE_DEPTHWISE_BLOCK_CHANNELS) {
                    channel_block_row(out, padded, weights, bias, quant, channel, remaining,
                                      geometry, stage, mode, gather, 1);
                } else if (gather) {
                    channel_block_row(out, padded, weights, bias, quant, channel, 4, geometry,
                                      stage, mode, 1, 0);
                } else {
                    channel_block_row(out, padded, weights, bias, quant, channel, 4, geometry,
                                      stage, mode, 0, 0);
                }
                weights += block_bytes;
            }
        }
    }
}

edgec_status edgec_depthwise_conv2d_s8_mve(const edgec_conv_params *params,
                                           const edgec_per_channel_quant *quant,
                                           const edgec_dims *input_dims, const int8_t *input,
                                           const edgec_dims *filter_dims, const int8_t *filter,
                                           const int32_t *bias,
                                           const edgec_dims *output_dims, int8_t *output,
                                           void *scratch)
{
    edgec_mve_output_stage stage;
    depthwise_geometry geometry;
    int mode;

    if (!edgec_mve_depthwise_arguments_valid(params, input_dims, filter_dims, bias, output_dims,
                                             scratch)) {
        return EDGEC_ERROR_ARGUMENT;
    }

    geometry.params = params;
    geometry.input_dims = input_dims;
    geometry.filter_dims = filter_dims;
    geometry.output_dims = output_dims;
    geometry.padded_columns = edgec_mve_padded_row_columns(params, filter_dims, output_dims);
    geometry.padded_row_bytes = geometry.padded_columns * input_dims->c;
    stage = edgec_mve_make_output_stage(params->output_offset, params->activation_min,
                                        params->activation_max);
    mode = edgec_mve_requant_mode(quant->shifts, output_dims->c, params->output_offset,
                                  params->activation_min);
#define DEPTHWISE(constant_mode)                                                        \
    depthwise(&geometry, quant, input, filter, bias, output, (int8_t *)scratch, &stage,  \
              constant_mode)
    EDGEC_MVE_DISPATCH_MODE(mode, DEPTHWISE);
#undef DEPTHWISE
    return EDGEC_OK;
}
