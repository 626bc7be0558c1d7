/*
 * edgec DSP kernel variant: 2-D average pooling of int8 NHWC tensors. Same result as the
 * reference edgec_avg_pool2d_s8: the mean over the window's taps inside the input,
 * rounded half away from zero, clamped to the activation range.
 *
 * The window sums run 8 channels at a time: per tap, two unaligned LDR of 4 channel bytes
 * and four SXTAB16 that add the bytes (c0, c2) and (c1, c3) to int16 lanes. At most 256
 * taps of int8 values keep each lane within int16 ([-32768, 32512]); larger windows sum
 * in int32 one channel at a time. Each output then takes one SDIV.
 *
 * Each output pixel's channels are written after its window is read, channel group by
 * channel group as the reference kernel does, so the output may overlap the input as the
 * memory planner's window rule allows.
 */
#include "edgec/dsp.h"
#include "edgec/kernel_checks.h"
#include "edgec/kernels_dsp.h"

/* Most taps whose int8 sum fits an int16 lane. */
#define MAX_INT16_TAPS 256

/* acc + the bytes 1 and 3 of x, sign-extended, per int16 lane: SXTAB16 with ROR #8. */
static inline int32_t sxtab16_ror8(int32_t acc, uint32_t x)
{
    int32_t result;

    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(result) : "r"(acc), "r"(x));
    return result;
}

/* The pooling window of one output pixel, clipped to the input. */
typedef struct {
    const int8_t *first; /* the window's first in-bounds pixel */
    int32_t rows;
    int32_t columns;
    int32_t row_step;    /* bytes from the end of a window row to the next row's start */
    int32_t count;       /* rows * columns, at least 1 */
} pool_window;

/* Returns whether the clamp range is valid, the sizes are consistent and every window
 * contains at least one input element (the reference kernel's checks). */
static int arguments_valid(const edgec_pool_params *params, const edgec_dims *input_dims,
                           const edgec_dims *output_dims)
{
    return edgec_activation_range_s8_valid(params->activation_min, params->activation_max) &&
           edgec_avg_pool_dims_valid(params, input_dims, output_dims);
}

/* Returns the window of output pixel (out_y, out_x), clipped to the input. */
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

    window.first = sample + (y_start * input_dims->w + x_start) * input_dims->c;
    window.rows = y_end - y_start;
    window.columns = x_end - x_start;
    window.row_step = (input_dims->w - window.columns) * input_dims->c;
    window.count = window.rows * window.columns;
    return window;
}

/* Returns sum / count rounded half away from zero (C division truncates toward zero),
 * clamped to [minimum, maximum]. */
static inline int8_t rounded_average(int32_t sum, int32_t count, int32_t minimum,
                                     int32_t maximum)
{
    const int32_t half = count / 2;
    const int32_t average = (sum > 0 ? sum + half : sum - half) / count;

    return (int8_t)edgec_clamp(average, minimum, maximum);
}

/* Averages channels [first, first + 8) of one window into out[first ..]: int16 lanes,
 * so window.count <= MAX_INT16_TAPS. */
static void average_eight(const pool_window *window, int32_t channels, int32_t first,
                          int32_t minimum, int32_t maximum, int8_t *out)
{
    const int8_t *p = window->first + first;
    int32_t low_even = 0;  /* channels (c0, c2) */
    int32_t low_odd = 0;   /* channels (c1, c3) */
    int32_t high_even = 0; /* channels (c4, c6) */
    int32_t high_odd = 0;  /* channels (c5, c7) */
    int32_t row;
    int32_t column;

    for (row = 0; row < window->rows; row++) {
        for (column = 0; column < window->columns; column++) {
            const uint32_t low = edgec_load_word(p);
            const uint32_t high = edgec_load_word(p + 4);

            low_even = __sxtab16(low_even, low);
            low_odd = sxtab16_ror8(low_odd, low);
            high_even = __sxtab16(high_even, high);
            high_odd = sxtab16_ror8(high_odd, high);
            p += channels;
        }
        p += window->row_step;
    }
    out[first] = rounded_average((int16_t)low_even, window->count, minimum, maximum);
    out[first + 1] = rounded_average((int16_t)low_odd, window->count, minimum, maximum);
    out[first + 2] = rounded_average(low_even >> 16, window->count, minimum, maximum);
    out[first + 3] = rounded_average(low_odd >> 16, window->count, minimum, maximum);
    out[first + 4] = rounded_average((int16_t)high_even, window->count, minimum, maximum);
    out[first + 5] = rounded_average((int16_t)high_odd, window->count, minimum, maximum);
    out[first + 6] = rounded_average(high_even >> 16, window->count, minimum, maximum);
    out[first + 7] = rounded_average(high_odd >> 16, window->count, minimum, maximum);
}

/* Averages channels [first, first + 4) of one window; window.count <= MAX_INT16_TAPS. */
static void average_four(const pool_window *window, int32_t channels, int32_t first,
                         int32_t minimum, int32_t maximum, int8_t *out)
{
    const int8_t *p = window->first + first;
    int32_t even = 0; /* channels (c0, c2) */
    int32_t odd = 0;  /* channels (c1, c3) */
    int32_t row;
    int32_t column;

    for (row = 0; row < window->rows; row++) {
        for (column = 0; column < window->columns; column++) {
            const uint32_t word = edgec_load_word(p);

            even = __sxtab16(even, word);
            odd = sxtab16_ror8(odd, word);
            p += channels;
        }
        p += window->row_step;
    }
    out[first] = rounded_average((int16_t)even, window->count, minimum, maximum);
    out[first + 1] = rounded_average((int16_t)odd, window->count, minimum, maximum);
    out[first + 2] = rounded_average(even >> 16, window->count, minimum, maximum);
    out[first + 3] = rounded_average(odd >> 16, window->count, minimum, maximum);
}

/* Averages channel `channel` of one window into out[channel] with an int32 sum. */
static void average_one(const pool_window *window, int32_t channels, int32_t channel,
                        int32_t minimum, int32_t maximum, int8_t *out)
{
    const int8_t *p = window->first + channel;
    int32_t sum = 0;
    int32_t row;
    int32_t column;

    for (row = 0; row < window->rows; row++) {
        for (column = 0; column < window->columns; column++) {
            sum += *p;
            p += channels;
        }
        p += window->row_step;
    }
    out[channel] = rounded_average(sum, window->count, minimum, maximum);
}

edgec_status edgec_avg_pool2d_s8_dsp(const edgec_pool_params *params,
                                     const edgec_dims *input_dims, const int8_t *input,
                                     const edgec_dims *output_dims, int8_t *output)
{
    const int32_t channels = input_dims->c;
    const int32_t sample_size = input_dims->h * input_dims->w * channels;
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

                if (window.count <= MAX_INT16_TAPS) {
                    for (; channel + 8 <= channels; channel += 8) {
                        average_eight(&window, channels, channel, params->activation_min,
                                      params->activation_max, output);
                    }
                    if (channel + 4 <= channels) {
                        average_four(&window, channels, channel, params->activation_min,
                                     params->activation_max, output);
                        channel += 4;
                    }
                }
                for (; channel < channels; channel++) {
                    average_one(&window, channels, channel, params->activation_min,
                                params->activation_max, output);
                }
                output += channels;
            }
        }
    }
    return EDGEC_OK;
}
