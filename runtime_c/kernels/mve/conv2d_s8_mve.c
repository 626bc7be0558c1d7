/*
 * edgec Helium (MVE) kernel: 2-D convolution of any shape (padding, stride, dilation) with
 * int8 activations and weights, per-channel requantization and the input offset folded
 * into the bias (kernels_mve.h). Two output pixels at a time: their windows are gathered
 * into the interleaved scratch columns (im2col, padded taps set to the input zero point),
 * then every output channel of the pair is computed (mve_conv.h).
 *
 * A window inside the input with a depth that is a multiple of 16 is copied straight into
 * the column in whole 16-byte chunks. Other windows are gathered into a contiguous window
 * first, which is then copied into the column chunk by chunk.
 */
#include <stddef.h>
#include <stdint.h>

#include "edgec/kernels_mve.h"
#include "edgec/mve_conv.h"

/* What gathering a window needs besides the pixel: the layer's geometry and zero point,
 * and the sizes the interior fast path uses. */
typedef struct {
    const edgec_conv_params *params;
    const edgec_dims *input_dims;
    const edgec_dims *filter_dims;
    int8_t zero_point;
    int8_t *window;         /* two contiguous windows of window_bytes each */
    int32_t window_bytes;   /* bytes of one window rounded up to whole 16-byte steps */
    int32_t row_bytes;      /* bytes of one input row */
    int32_t run_bytes;      /* bytes of one filter row over the input without dilation */
    int32_t last_origin_y;  /* highest origin whose window lies inside the input */
    int32_t last_origin_x;
} gather_context;

/* Input position of the top-left tap of an output pixel's window. */
typedef struct {
    int32_t y;
    int32_t x;
} window_origin;

/* Writes `count` taps of `depth` bytes from `source` (NULL: the zero point) at the
 * column position `column` (whole chunks) or the window position `window` (bytes), and
 * advances that position. */
static inline void put_taps(int8_t **column, int8_t **window, const int8_t *source,
                            int32_t count, int32_t depth, int8_t zero_point, int whole_chunks)
{
    if (whole_chunks) {
        *column = source != NULL ? edgec_mve_copy_chunks(*column, source, count * depth / 16)
                                 : edgec_mve_fill_chunks(*column, vdupq_n_s8(zero_point),
                                                         count * depth / 16);
    } else {
        *window = source != NULL ? edgec_mve_copy(*window, source, count * depth)
                                 : edgec_mve_fill(*window, zero_point, count * depth);
    }
}

/*
 * Gathers the window of one output pixel whose filter rows (without horizontal dilation)
 * are at most 16 bytes into the contiguous window buffer, then into the column. Each
 * filter row is one predicated load of the lanes inside the input, merged with the zero
 * point (VPSEL), and one predicated store. Predicated-off lanes read no memory, so the
 * load may start before the input row or reach past it.
 */
static void gather_short_rows(int8_t *column, const int8_t *sample, window_origin origin,
                              const gather_context *context)
{
    const edgec_conv_params *params = context->params;
    const int32_t depth = context->input_dims->c;
    const int32_t filter_w = context->filter_dims->w;
    const int32_t run_bytes = filter_w * depth;
    const int8x16_t zero_points = vdupq_n_s8(context->zero_point);
    int8_t *const start = context->window;
    int8_t *window = start;
    /* Taps first .. last - 1 lie inside the input row. */
    int32_t first = origin.x < 0 ? -origin.x : 0;
    int32_t last = context->input_dims->w - origin.x < filter_w ? context->input_dims->w - origin.x
                                                                 : filter_w;
    mve_pred16_t run;
    mve_pred16_t inside;
    int32_t tap_y;

    first = first < filter_w ? first : filter_w;
    last = last > first ? last : first;
    run = vctp8q((uint32_t)run_bytes);
    /* Lanes first * depth .. last * depth - 1: one bit per byte lane. */
    inside = (mve_pred16_t)(vctp8q((uint32_t)(last * depth)) ^ vctp8q((uint32_t)(first * depth)));
    for (tap_y = 0; tap_y < context->filter_dims->h; tap_y++) {
        const int32_t in_y = origin.y + tap_y * params->dilation_h;
        int8x16_t values = zero_points;

        if (in_y >= 0 && in_y < context->input_dims->h) {
            const uintptr_t address = (uintptr_t)sample + (uintptr_t)(in_y * context->row_bytes) +
                                      (uintptr_t)(origin.x * depth);

            values = vpselq_s8(vldrbq_z_s8((const int8_t *)address, inside), zero_points, inside);
        }
        vstrbq_p_s8(window, values, run);
        window += run_bytes;
    }
    edgec_mve_copy_to_column(column, start, (int32_t)(window - start));
}

/*
 * Gathers the window of one output pixel, which may cross the input border or use
 * dilation, filter row by filter row. A row outside the input is all zero points. Without
 * horizontal dilation, the taps inside the input are one run of the input row between
 * zero points. A depth that is a multiple of 16 goes straight into the column in whole
 * chunks, other depths through the contiguous window buffer and then into the column.
 */
static void gather_window(int8_t *column, const int8_t *sample, window_origin origin,
                          const gather_context *context)
{
    /* Locals, because the int8 stores below may alias *context. */
    const edgec_conv_params *params = context->params;
    const int32_t depth = context->input_dims->c;
    const int32_t height = context->input_dims->h;
    const int32_t width = context->input_dims->w;
    const int32_t filter_h = context->filter_dims->h;
    const int32_t filter_w = context->filter_dims->w;
    const int32_t row_bytes = context->row_bytes;
    const int8_t zero_point = context->zero_point;
    const int whole_chunks = depth % 16 == 0;
    int8_t *const start = context->window;
    int8_t *window = start;
    int32_t tap_y;
    int32_t tap_x;

    if (!whole_chunks && params->dilation_w == 1 && filter_w * depth <= 16) {
        gather_short_rows(column, sample, origin, context);
        return;
    }
    for (tap_y = 0; tap_y < filter_h; tap_y++) {
        const int32_t in_y = origin.y + tap_y * params->dilation_h;
        const int8_t *row = sample + in_y * row_bytes;

        if (in_y < 0 || in_y >= height) {
            put_taps(&column, &window, NULL, filter_w, depth, zero_point, whole_chunks);
        } else if (params->dilation_w == 1) {
            /* Taps first .. last - 1 lie inside the input row. */
            int32_t first = origin.x < 0 ? -origin.x : 0;
            int32_t last = width - origin.x < filter_w ? width - origin.x : filter_w;

            first = first < filter_w ? first : filter_w;
            last = last > first ? last : first;
            put_taps(&column, &window, NULL, first, depth, zero_point, whole_chunks);
            put_taps(&column, &window, row + (origin.x + first) * depth, last - first, depth,
                     zero_point, whole_chunks);
            put_taps(&column, &window, NULL, filter_w - last, depth, zero_point, whole_chunks);
        } else {
            for (tap_x = 0; tap_x < filter_w; tap_x++) {
                const int32_t in_x = origin.x + tap_x * params->dilation_w;
                const int inside = in_x >= 0 && in_x < width;

                put_taps(&column, &window, inside ? row + in_x * depth : NULL, 1, depth,
                         zero_point, whole_chunks);
            }
        }
    }
    if (!whole_chunks) {
        edgec_mve_copy_to_column(column, start, (int32_t)(window - start));
    }
}

/* Returns whether the window at `origin` lies inside the input. */
static inline int window_inside(window_origin origin, const gather_context *context)
{
    return origin.y >= 0 && origin.y <= context->last_origin_y && origin.x >= 0 &&
           origin.x <= context->last_origin_x;
}

/* Returns the window origin of the output pixel at (out_y, out_x). */
static inline window_origin origin_of(int32_t out_y, int32_t out_x,
                                      const gather_context *context)
{
    window_origin origin;

    origin.y = out_y * context->params->stride_h - context->params->pad_top;
    origin.x = out_x * context->params->stride_w - context->params->pad_left;
    return origin;
}

/* Copies `chunks` 16-byte chunks of two contiguous sources into the interleaved columns:
 * chunk i of first to columns + 32 i, of second to columns + 32 i + 16. */
static inline void interleave_chunks(int8_t *columns, const int8_t *first, const int8_t *second,
                                     int32_t chunks)
{
    while (chunks > 0) {
        const int8x16_t chunk0 = vldrbq_s8(first);
        const int8x16_t chunk1 = vldrbq_s8(second);

        vstrbq_s8(columns, chunk0);
        vstrbq_s8(columns + 16, chunk1);
        columns += EDGEC_MVE_INTERLEAVED_STRIDE;
        first += 16;
        second += 16;
        chunks--;
    }
}

/*
 * Gathers the windows of two pixels that lie inside the input, without horizontal
 * dilation: kh runs of run_bytes contiguous bytes each, from first and second on. Runs of
 * whole 16-byte chunks go straight into the columns. Other runs go through the two
 * contiguous window buffers, which are then interleaved chunk by chunk, with the bytes
 * past K, whose weights are 0.
 */
static void gather_inside_pair(int8_t *columns, const int8_t *first, const int8_t *second,
                               const gather_context *context)
{
    /* Locals, because the int8 stores below may alias *context. */
    const int32_t rows = context->filter_dims->h;
    const int32_t row_stride = context->params->dilation_h * context->row_bytes;
    const int32_t run_bytes = context->run_bytes;
    const int32_t window_bytes = context->window_bytes;
    int8_t *const windows = context->window;
    int32_t tap_y;

    if (run_bytes % 16 == 0) {
        for (tap_y = 0; tap_y < rows; tap_y++) {
            interleave_chunks(columns, first, second, run_bytes / 16);
            columns += (run_bytes / 16) * EDGEC_MVE_INTERLEAVED_STRIDE;
            first += row_stride;
            second += row_stride;
        }
        return;
    }
    {
        int8_t *window0 = windows;
        int8_t *window1 = windows + window_bytes;

        for (tap_y = 0; tap_y < rows; tap_y++) {
            window0 = edgec_mve_copy(window0, first, run_bytes);
            window1 = edgec_mve_copy(window1, second, run_bytes);
            first += row_stride;
            second += row_stride;
        }
    }
    interleave_chunks(columns, windows, windows + window_bytes, window_bytes / 16);
}

EDGEC_MVE_INLINE void convolve(const gather_context *context,
                               const edgec_per_channel_quant *quant, const int8_t *input,
                               const int8_t *filter, const int32_t *bias,
                               const edgec_dims *output_dims, int8_t *output, int32_t *sums,
                               int8_t *columns, const edgec_mve_output_stage *stage, int mode)
{
    const edgec_dims *input_dims = context->input_dims;
    const int32_t depth = input_dims->c;
    const int32_t steps = context->window_bytes / EDGEC_MVE_STEP_BYTES;
    const int32_t channels = output_dims->c;
    const int32_t blocks = edgec_mve_conv_blocks(channels);
    const int32_t pixels = output_dims->h * output_dims->w;
    const int32_t pair_offset = context->params->stride_w * depth;
    int32_t batch;
    int32_t pixel;

    for (batch = 0; batch < input_dims->n; batch++) {
        const int8_t *sample = input + batch * input_dims->h * input_dims->w * depth;
        int8_t *out = output + batch * pixels * channels;
        int32_t out_y = 0;
        int32_t out_x = 0;

        for (pixel = 0; pixel < pixels; pixel += 2) {
            const window_origin origin = origin_of(out_y, out_x, context);
            window_origin second = origin;
            int has_second = pixel + 1 < pixels;

            /* The second pixel is the next one in the row, or the first of the next row. */
            second.x += context->params->stride_w;
            if (out_x + 1 == output_dims->w) {
                second = origin_of(out_y + 1, 0, context);
            }
            if (has_second && out_x + 1 < output_dims->w && window_inside(origin, context) &&
                window_inside(second, context) && context->params->dilation_w == 1) {
                const int8_t *first =
                    sample + origin.y * context->row_bytes + origin.x * depth;

                gather_inside_pair(columns, first, first + pair_offset, context);
            } else {
                gather_window(columns, sample, origin, context);
                if (has_second) {
                    gather_window(columns + EDGEC_MVE_STEP_BYTES, sample, second, context);
                }
            }
            /* Two pixels on: the width may be 1. */
            out_y += (out_x + 2) / output_dims->w;
            out_x = (out_x + 2) % output_dims->w;
            edgec_mve_dot_pair(columns, filter, steps, blocks, sums);
            edgec_mve_conv_requantize(sums, bias, quant, channels, stage, mode,
                                      out + pixel * channels,
                                      has_second ? out + (pixel + 1) * channels : NULL);
        }
    }
}

edgec_status edgec_conv2d_s8_mve(const edgec_conv_params *params,
                                 const edgec_per_channel_quant *quant,
                                 const edgec_dims *input_dims, const int8_t *input,
                                 const edgec_dims *filter_dims, const int8_t *filter,
                                 const int32_t *bias,
                                 const edgec_dims *output_dims, int8_t *output, void *scratch)
{
    edgec_mve_output_stage stage;
    gather_context context;
    int32_t *sums;
    int8_t *columns;
    int32_t steps;
    int mode;

    /* Padded taps read the zero point -input_offset, which must be an int8 value. */
    if (!edgec_mve_conv_arguments_valid(params, input_dims, filter_dims, bias, output_dims,
                                        scratch) ||
        params->input_offset < -127 || params->input_offset > 128) {
        return EDGEC_ERROR_ARGUMENT;
    }

    steps = edgec_mve_steps(filter_dims->h * filter_dims->w * input_dims->c);
    sums = (int32_t *)scratch;
    columns = (int8_t *)(sums + edgec_mve_conv_blocks(output_dims->c) *
                                    EDGEC_MVE_CONV_BLOCK_SUMS);
    context.params = params;
    context.input_dims = input_dims;
    context.filter_dims = filter_dims;
    context.zero_point = (int8_t)(-params->input_offset);
    context.window = columns + steps * EDGEC_MVE_INTERLEAVED_STRIDE;
    context.window_bytes = steps * EDGEC_MVE_STEP_BYTES;
    context.row_bytes = input_dims->w * input_dims->c;
    context.run_bytes = filter_dims->w * input_dims->c;
    context.last_origin_y = input_dims->h - 1 - (filter_dims->h - 1) * params->dilation_h;
    context.last_origin_x = input_dims->w - 1 - (filter_dims->w - 1) * params->dilation_w;

    stage = edgec_mve_make_output_stage(params->output_offset, params->activation_min,
                                        params->activation_max);
    mode = edgec_mve_requant_mode(quant->shifts, output_dims->c, params->output_offset,
                                  params->activation_min);
#define CONVOLVE(constant_mode)                                                         \
    convolve(&context, quant, input, filter, bias, output_dims, output, sums, columns,   \
             &stage, constant_mode)
    EDGEC_MVE_DISPATCH_MODE(mode, CONVOLVE);
#undef CONVOLVE
    return EDGEC_OK;
}
