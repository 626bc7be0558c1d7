/*
 * edgec DSP kernel variant: 2-D max pooling of int8 NHWC tensors. Same result as the
 * reference edgec_max_pool2d_s8: the maximum of the window's taps inside the input,
 * clamped to the activation range. A window with no tap inside gives activation_min.
 *
 * The maxima run 8 channels at a time on 4-byte words: per tap, SSUB8 sets the GE flag of
 * each byte lane where the tap is at least the running maximum, and SEL takes those
 * bytes. The running maximum starts at activation_min in every lane, which applies the
 * lower clamp, and ends with a SSUB8/SEL against activation_max. The channels past the
 * last multiple of 4 go one at a time.
 *
 * Each output pixel's channels are written after its window is read, channel group by
 * channel group as the reference kernel does, so the output may overlap the input as the
 * memory planner's window rule allows.
 */
#include <string.h>

#include "edgec/dsp.h"
#include "edgec/kernel_checks.h"
#include "edgec/kernels_dsp.h"

/* The pooling window of one output pixel, clipped to the input (possibly empty). */
typedef struct {
    const int8_t *first; /* the window's first in-bounds pixel */
    int32_t rows;
    int32_t columns;
    int32_t row_step;    /* bytes from the end of a window row to the next row's start */
} pool_window;

/* Returns whether the sizes, window and clamp range are consistent (the reference
 * kernel's checks). */
static int arguments_valid(const edgec_pool_params *params, const edgec_dims *input_dims,
                           const edgec_dims *output_dims)
{
    return edgec_pool_dims_valid(params, input_dims, output_dims) &&
           edgec_activation_range_s8_valid(params->activation_min, params->activation_max);
}

/* Returns the window of output pixel (out_y, out_x), clipped to the input; rows or
 * columns are 0 or less when it is empty. */
static pool_window clip_window(const edgec_pool_params *params, const edgec_dims *input_dims,
                               const int8_t *sample, int32_t out_y, int32_t out_x)
{
    const int32_t top = out_y * params->stride_h - params->pad_top;
    const int32_t left = out_x * params->stride_w - params->pad_left;
    const int32_t y_start = top < 0 ? 0 : top;
    const int32_t x_start = left < 0 ? 0 : left;
    const int32_t y_end = top + params->filter_h < input_dims->h ? top + params->filter_h
                                                                 : input_dims->h;
    const int32_t x_end = left + params->filter_w < input_dims->w ? left + params->filter_w
                                                                  : input_dims->w;
    pool_window window;

    window.rows = y_end - y_start;
    window.columns = x_end - x_start;
    if (window.rows <= 0 || window.columns <= 0) {
        window.rows = 0;
        window.columns = 0;
        window.first = sample;
    } else {
        window.first = sample + (y_start * input_dims->w + x_start) * input_dims->c;
    }
    window.row_step = (input_dims->w - window.columns) * input_dims->c;
    return window;
}

/* The byte-wise maximum of words a and b as int8 lanes. */
static inline uint32_t max_bytes(uint32_t a, uint32_t b)
{
    (void)__ssub8(b, a); /* GE flags: b >= a, per byte */
    return __sel(b, a);
}

/* Returns the 4 bytes of words a and b, each the smaller as int8 lanes. */
static inline uint32_t min_bytes(uint32_t a, uint32_t b)
{
    (void)__ssub8(a, b); /* GE flags: a >= b, per byte */
    return __sel(b, a);
}

/* Writes the maxima of channels [first, first + 8) of one window, clamped to
 * [minimums, maximums] (each a byte replicated 4 times). */
static void maximum_eight(const pool_window *window, int32_t channels, int32_t first,
                          uint32_t minimums, uint32_t maximums, int8_t *out)
{
    const int8_t *p = window->first + first;
    uint32_t low = minimums;
    uint32_t high = minimums;
    int32_t row;
    int32_t column;

    for (row = 0; row < window->rows; row++) {
        for (column = 0; column < window->columns; column++) {
            low = max_bytes(low, edgec_load_word(p));
            high = max_bytes(high, edgec_load_word(p + 4));
            p += channels;
        }
        p += window->row_step;
    }
    low = min_bytes(low, maximums);
    high = min_bytes(high, maximums);
    memcpy(out + first, &low, sizeof(low));
    memcpy(out + first + 4, &high, sizeof(high));
}

/* Writes the maxima of channels [first, first + 4) of one window, clamped. */
static void maximum_four(const pool_window *window, int32_t channels, int32_t first,
                         uint32_t minimums, uint32_t maximums, int8_t *out)
{
    const int8_t *p = window->first + first;
    uint32_t maximum = minimums;
    int32_t row;
    int32_t column;

    for (row = 0; row < window->rows; row++) {
        for (column = 0; column < window->columns; column++) {
            maximum = max_bytes(maximum, edgec_load_word(p));
            p += channels;
        }
        p += window->row_step;
    }
    maximum = min_bytes(maximum, maximums);
    memcpy(out + first, &maximum, sizeof(maximum));
}

/* Writes the maximum of channel `channel` of one window, clamped. */
static void maximum_one(const pool_window *window, int32_t channels, int32_t channel,
                        int32_t minimum, int32_t maximum, int8_t *out)
{
    const int8_t *p = window->first + channel;
    int32_t largest = minimum;
    int32_t row;
    int32_t column;

    for (row = 0; row < window->rows; row++) {
        for (column = 0; column < window->columns; column++) {
            largest = *p > largest ? *p : largest;
            p += channels;
        }
        p += window->row_step;
    }
    out[channel] = (int8_t)(largest < maximum ? largest : maximum);
}

edgec_status edgec_max_pool2d_s8_dsp(const edgec_pool_params *params,
                                     const edgec_dims *input_dims, const int8_t *input,
                                     const edgec_dims *output_dims, int8_t *output)
{
    const int32_t channels = input_dims->c;
    const int32_t sample_size = input_dims->h * input_dims->w * channels;
    const uint32_t minimums = 0x01010101u * (uint8_t)params->activation_min;
    const uint32_t maximums = 0x01010101u * (uint8_t)params->activation_max;
    int32_t batch;
    int32_t out_y;
    int32_t out_x;

    if (!arguments_valid(params, input_dims, output_dims)) {
        return EDGEC_ERROR_ARGUMENT;
    }

    for (batch = 0; batch < input_dims->n; batch++) {
        const int8_t *sample = input + batch * sample_size;

        for (out_y = 0; out_y < output_dims->h; out_y++) {
            for (out_x = 0; out_x < output_dims->w; out_x++) {
                const pool_window window = clip_window(params, input_dims, sample, out_y, out_x);
                int32_t channel = 0;

                for (; channel + 8 <= channels; channel += 8) {
                    maximum_eight(&window, channels, channel, minimums, maximums, output);
                }
                if (channel + 4 <= channels) {
                    maximum_four(&window, channels, channel, minimums, maximums, output);
                    channel += 4;
                }
                for (; channel < channels; channel++) {
                    maximum_one(&window, channels, channel, params->activation_min,
                                params->activation_max, output);
                }
                output += channels;
            }
        }
    }
    return EDGEC_OK;
}
