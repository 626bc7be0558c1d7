/*
 * edgec DSP kernel variant: 2-D convolution of any filter size, stride, dilation and
 * padding, int8 activations and weights, per-channel requantization. The arithmetic is the
 * reference conv2d's (runtime_c/kernels/ref/conv2d_s8.c) with the input offset folded into
 * the bias.
 *
 * Each block of 4 consecutive output pixels gathers the filter windows of its pixels
 * (im2col), sign-extended to int16, into the column block in scratch, then runs the shared
 * filter-row loop of edgec/dsp_conv_core.h over all output channels. Taps in the padding
 * get the input zero point (-input_offset), whose products cancel the folded
 * input_offset * sum(filter) term of the bias. A block reads all its input windows before
 * it writes its outputs, and blocks go in increasing pixel order, so the output may
 * overlap the input as the memory planner's window rule allows.
 */
#include <stddef.h>
#include <string.h>

#include "edgec/dsp_conv_core.h"
#include "edgec/kernels_dsp.h"

/* Position of an output pixel, advanced in NHWC order. */
typedef struct {
    int32_t batch;
    int32_t y;
    int32_t x;
} conv2d_pixel;

/* The geometry of the filter windows, computed once per call. */
typedef struct {
    const edgec_conv_params *params;
    const edgec_dims *input_dims;
    const edgec_dims *filter_dims;
    const int8_t *input;
    int32_t row_taps;       /* filter_w * depth: the taps of one filter row */
    int32_t row_step;       /* dilation_h * width * depth: input bytes between filter rows */
    int32_t sample_bytes;   /* height * width * depth */
    int32_t window_height;  /* (filter_h - 1) * dilation_h + 1 */
    int32_t window_width;   /* (filter_w - 1) * dilation_w + 1 */
    int32_t zero_point;     /* -input_offset */
    uint32_t zero_quad;     /* the zero point's byte, 4 times */
    int direct;             /* depth % 4 == 0: runs go straight into the column */
    int8_t *staging;
    int32_t groups;
} conv2d_windows;

/* Copies count int8 values: whole words with unaligned LDR and STR, then single bytes. */
static inline void conv2d_copy_bytes(int8_t *destination, const int8_t *source, int32_t count)
{
    while (count >= 4) {
        const uint32_t word = dsp_conv_load_word(source);

        memcpy(destination, &word, sizeof(word));
        destination += 4;
        source += 4;
        count -= 4;
    }
    while (count > 0) {
        *destination++ = *source++;
        count--;
    }
}

/* Sets count int8 values to the byte that `quad` repeats 4 times. It stores whole words,
 * so it writes up to 3 bytes past the end: the staging row has room for them, and the
 * next run of taps overwrites them. */
static inline void conv2d_fill_bytes(int8_t *destination, uint32_t quad, int32_t count)
{
    while (count > 0) {
        memcpy(destination, &quad, sizeof(quad));
        destination += 4;
        count -= 4;
    }
}

/*
 * Writes the window of a pixel whose window lies inside the input, with dilation_w 1: one
 * run of filter_w * depth contiguous input values per filter row, from `source` (the
 * window's top-left tap) on.
 */
__attribute__((noinline)) static void
conv2d_gather_inside(const conv2d_windows *windows, const int8_t *source, uint32_t *column)
{
    const int32_t rows = windows->filter_dims->h;
    const int32_t row_taps = windows->row_taps;
    int32_t filter_y;

    if (windows->direct) {
        const int32_t row_words = row_taps / 4 * DSP_CONV_GROUP_WORDS;

        for (filter_y = 0; filter_y < rows; filter_y++) {
            dsp_conv_put_words(column, source, row_taps / 4);
            column += row_words;
            source += windows->row_step;
        }
        return;
    }
    for (filter_y = 0; filter_y < rows; filter_y++) {
        conv2d_copy_bytes(windows->staging + filter_y * row_taps, source, row_taps);
        source += windows->row_step;
    }
    dsp_conv_expand_bytes(column, windows->staging, windows->groups);
}

/* Writes one run of `count` taps from tap `tap` on: `source`'s values, or the zero point
 * when source is NULL. */
static void conv2d_put(const conv2d_windows *windows, uint32_t *column, int32_t tap,
                       const int8_t *source, int32_t count)
{
    if (windows->direct && source != NULL) {
        dsp_conv_put_run(column, tap, source, count);
    } else if (windows->direct) {
        dsp_conv_fill_run(column, tap, windows->zero_point, count);
    } else if (source != NULL) {
        conv2d_copy_bytes(windows->staging + tap, source, count);
    } else {
        conv2d_fill_bytes(windows->staging + tap, windows->zero_quad, count);
    }
}

/*
 * Writes the window of any pixel. Filter rows outside the input get the zero point. With
 * dilation_w 1, a row is at most three runs: zero points left of the input, the input
 * values, zero points right of it. Otherwise each tap is a run of depth values.
 */
__attribute__((noinline)) static void
conv2d_gather_edge(const conv2d_windows *windows, const conv2d_pixel *pixel, uint32_t *column)
{
    const edgec_conv_params *params = windows->params;
    const edgec_dims *input_dims = windows->input_dims;
    const int32_t filter_w = windows->filter_dims->w;
    const int32_t depth = input_dims->c;
    const int32_t in_x_origin = pixel->x * params->stride_w - params->pad_left;
    const int32_t in_y_origin = pixel->y * params->stride_h - params->pad_top;
    const int8_t *sample = windows->input + pixel->batch * windows->sample_bytes;
    /* Taps left and right of the input when dilation_w is 1. Their sum is <= filter_w. */
    const int32_t left = edgec_clamp(-in_x_origin, 0, filter_w);
    const int32_t right = edgec_clamp(in_x_origin + filter_w - input_dims->w, 0, filter_w);
    int32_t tap = 0;
    int32_t filter_y;
    int32_t filter_x;

    for (filter_y = 0; filter_y < windows->filter_dims->h; filter_y++, tap += windows->row_taps) {
        const int32_t in_y = in_y_origin + filter_y * params->dilation_h;
        const int8_t *row;

        if (in_y < 0 || in_y >= input_dims->h) {
            conv2d_put(windows, column, tap, NULL, windows->row_taps);
            continue;
        }
        row = sample + in_y * input_dims->w * depth;
        if (params->dilation_w == 1) {
            const int32_t inside = filter_w - left - right;

            conv2d_put(windows, column, tap, NULL, left * depth);
            if (inside > 0) {
                conv2d_put(windows, column, tap + left * depth,
                           row + (in_x_origin + left) * depth, inside * depth);
            }
            conv2d_put(windows, column, tap + (left + inside) * depth, NULL, right * depth);
            continue;
        }
        for (filter_x = 0; filter_x < filter_w; filter_x++) {
            const int32_t in_x = in_x_origin + filter_x * params->dilation_w;
            const int outside = in_x < 0 || in_x >= input_dims->w;

            conv2d_put(windows, column, tap + filter_x * depth,
                       outside ? NULL : row + in_x * depth, depth);
        }
    }
    if (!windows->direct) {
        dsp_conv_expand_bytes(column, windows->staging, windows->groups);
    }
}

/* Writes the filter window of output pixel `pixel` into its column (im2col). */
static inline void conv2d_gather_window(const conv2d_windows *windows,
                                        const conv2d_pixel *pixel, uint32_t *column)
{
    const edgec_conv_params *params = windows->params;
    const edgec_dims *input_dims = windows->input_dims;
    const int32_t in_y = pixel->y * params->stride_h - params->pad_top;
    const int32_t in_x = pixel->x * params->stride_w - params->pad_left;

    if (params->dilation_w == 1 && in_y >= 0 && in_y + windows->window_height <= input_dims->h &&
        in_x >= 0 && in_x + windows->window_width <= input_dims->w) {
        conv2d_gather_inside(windows,
                             windows->input + pixel->batch * windows->sample_bytes +
                                 (in_y * input_dims->w + in_x) * input_dims->c,
                             column);
    } else {
        conv2d_gather_edge(windows, pixel, column);
    }
}

/* Computes the window geometry of a call. */
static conv2d_windows conv2d_describe_windows(const edgec_conv_params *params,
                                              const edgec_dims *input_dims,
                                              const int8_t *input,
                                              const edgec_dims *filter_dims,
                                              const dsp_conv_layer *layer)
{
    conv2d_windows windows;

    windows.params = params;
    windows.input_dims = input_dims;
    windows.filter_dims = filter_dims;
    windows.input = input;
    windows.row_taps = filter_dims->w * input_dims->c;
    windows.row_step = params->dilation_h * input_dims->w * input_dims->c;
    windows.sample_bytes = input_dims->h * input_dims->w * input_dims->c;
    windows.window_height = (filter_dims->h - 1) * params->dilation_h + 1;
    windows.window_width = (filter_dims->w - 1) * params->dilation_w + 1;
    windows.zero_point = -params->input_offset;
    windows.zero_quad = ((uint32_t)windows.zero_point & 0xFFu) * 0x01010101u;
    windows.direct = input_dims->c % 4 == 0;
    windows.staging = layer->staging;
    windows.groups = layer->groups;
    return windows;
}

edgec_status edgec_conv2d_s8_dsp(const edgec_conv_params *params,
                                 const edgec_per_channel_quant *quant,
                                 const edgec_dims *input_dims, const int8_t *input,
                                 const edgec_dims *filter_dims, const int8_t *filter,
                                 const int32_t *bias,
                                 const edgec_dims *output_dims, int8_t *output, void *scratch)
{
    conv2d_pixel pixel = {0, 0, 0};
    conv2d_windows windows;
    dsp_conv_layer layer;
    uint32_t *columns;
    int32_t pixels;
    int32_t done;

    if (!dsp_conv_arguments_valid(params, input_dims, filter_dims, output_dims, scratch)) {
        return EDGEC_ERROR_ARGUMENT;
    }
    pixels = output_dims->n * output_dims->h * output_dims->w;
    if (pixels == 0) {
        return EDGEC_OK;
    }
    layer = dsp_conv_set_up(params, quant, filter, bias, output_dims->c,
                            filter_dims->h * filter_dims->w * filter_dims->c, scratch, &columns);
    windows = conv2d_describe_windows(params, input_dims, input, filter_dims, &layer);

    for (done = 0; done < pixels; done += DSP_CONV_BLOCK_PIXELS) {
        const int32_t block = pixels - done < DSP_CONV_BLOCK_PIXELS ? pixels - done
                                                                    : DSP_CONV_BLOCK_PIXELS;
        int32_t p;

        for (p = 0; p < block; p++) {
            conv2d_gather_window(&windows, &pixel, columns + 2 * p);
            if (++pixel.x == output_dims->w) {
                pixel.x = 0;
                if (++pixel.y == output_dims->h) {
                    pixel.y = 0;
                    pixel.batch++;
                }
            }
        }
        dsp_conv_run_block(&layer, columns, output + done * output_dims->c, block);
    }
    return EDGEC_OK;
}
