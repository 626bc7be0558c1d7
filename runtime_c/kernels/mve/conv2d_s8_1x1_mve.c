/*
 * edgec Helium (MVE) kernel: 1x1 convolution without padding, any stride, with int8
 * activations and weights, per-channel requantization and the input offset folded into
 * the bias (kernels_mve.h). Two output pixels at a time: their input vectors are copied
 * into the interleaved scratch columns, then every output channel of the pair is computed
 * (mve_conv.h). The dilation has no effect on a 1x1 filter and is ignored.
 */
#include <stddef.h>

#include "edgec/kernels_mve.h"
#include "edgec/mve_conv.h"

/* Returns whether the filter is 1x1 and every window lies inside the input unpadded. */
static int pointwise_shape_valid(const edgec_conv_params *params, const edgec_dims *input_dims,
                                 const edgec_dims *filter_dims, const edgec_dims *output_dims)
{
    if (filter_dims->h != 1 || filter_dims->w != 1 || params->pad_top != 0 ||
        params->pad_left != 0) {
        return 0;
    }
    return (output_dims->h - 1) * params->stride_h < input_dims->h &&
           (output_dims->w - 1) * params->stride_w < input_dims->w;
}

/* The input vector of an output pixel, advanced in row-major order of the output. */
typedef struct {
    const int8_t *row; /* the input row of the output row */
    const int8_t *pixel;
    int32_t x;
} pixel_cursor;

/* Moves the cursor to the next output pixel. */
static inline void advance(pixel_cursor *cursor, int32_t output_w, int32_t column_bytes,
                           int32_t row_bytes)
{
    cursor->pixel += column_bytes;
    if (++cursor->x == output_w) {
        cursor->x = 0;
        cursor->row += row_bytes;
        cursor->pixel = cursor->row;
    }
}

/* Copies the input vectors of two pixels (`depth` bytes each) into the interleaved
 * columns. */
static inline void gather_pair(int8_t *columns, const int8_t *first, const int8_t *second,
                               int32_t depth)
{
    for (; depth >= 16; depth -= 16) {
        const int8x16_t chunk0 = vldrbq_s8(first);
        const int8x16_t chunk1 = vldrbq_s8(second);

        vstrbq_s8(columns, chunk0);
        vstrbq_s8(columns + 16, chunk1);
        columns += EDGEC_MVE_INTERLEAVED_STRIDE;
        first += 16;
        second += 16;
    }
    if (depth > 0) {
        const mve_pred16_t active = vctp8q((uint32_t)depth);

        vstrbq_p_s8(columns, vldrbq_z_s8(first, active), active);
        vstrbq_p_s8(columns + 16, vldrbq_z_s8(second, active), active);
    }
}

EDGEC_MVE_INLINE void pointwise(const edgec_conv_params *params,
                                const edgec_per_channel_quant *quant,
                                const edgec_dims *input_dims, const int8_t *input,
                                const int8_t *filter, const int32_t *bias,
                                const edgec_dims *output_dims, int8_t *output, void *scratch,
                                const edgec_mve_output_stage *stage, int mode)
{
    const int32_t depth = input_dims->c;
    const int32_t steps = edgec_mve_steps(depth);
    const int32_t channels = output_dims->c;
    const int32_t blocks = edgec_mve_conv_blocks(channels);
    const int32_t column_bytes = params->stride_w * depth;
    const int32_t row_bytes = params->stride_h * input_dims->w * depth;
    int32_t *const sums = (int32_t *)scratch;
    int8_t *const columns = (int8_t *)(sums + blocks * EDGEC_MVE_CONV_BLOCK_SUMS);
    const int32_t pixels = output_dims->h * output_dims->w;
    int32_t batch;
    int32_t pixel;

    for (batch = 0; batch < input_dims->n; batch++) {
        int8_t *out = output + batch * pixels * channels;
        pixel_cursor cursor;

        cursor.row = input + batch * input_dims->h * input_dims->w * depth;
        cursor.pixel = cursor.row;
        cursor.x = 0;
        for (pixel = 0; pixel < pixels; pixel += 2) {
            const int has_second = pixel + 1 < pixels;
            const int8_t *first = cursor.pixel;

            advance(&cursor, output_dims->w, column_bytes, row_bytes);
            /* A last single pixel is computed twice and stored once. */
            gather_pair(columns, first, has_second ? cursor.pixel : first, depth);
            advance(&cursor, output_dims->w, column_bytes, row_bytes);
            edgec_mve_dot_pair(columns, filter, steps, blocks, sums);
            edgec_mve_conv_requantize(sums, bias, quant, channels, stage, mode, out,
                                      has_second ? out + channels : NULL);
            out += 2 * channels;
        }
    }
}

edgec_status edgec_conv2d_s8_1x1_mve(const edgec_conv_params *params,
                                     const edgec_per_channel_quant *quant,
                                     const edgec_dims *input_dims, const int8_t *input,
                                     const edgec_dims *filter_dims, const int8_t *filter,
                                     const int32_t *bias,
                                     const edgec_dims *output_dims, int8_t *output, void *scratch)
{
    edgec_mve_output_stage stage;
    int mode;

    if (!edgec_mve_conv_arguments_valid(params, input_dims, filter_dims, bias, output_dims,
                                        scratch) ||
        !pointwise_shape_valid(params, input_dims, filter_dims, output_dims)) {
        return EDGEC_ERROR_ARGUMENT;
    }

    stage = edgec_mve_make_output_stage(params->output_offset, params->activation_min,
                                        params->activation_max);
    mode = edgec_mve_requant_mode(quant->shifts, output_dims->c, params->output_offset,
                                  params->activation_min);
#define POINTWISE(constant_mode)                                                        \
    pointwise(params, quant, input_dims, input, filter, bias, output_dims, output, scratch, \
              &stage, constant_mode)
    EDGEC_MVE_DISPATCH_MODE(mode, POINTWISE);
#undef POINTWISE
    return EDGEC_OK;
}
