/*
 * edgec Helium (MVE) kernel: 2-D average pooling of int8 NHWC tensors, four channels per
 * int32 vector. Each output is the mean of the window's taps inside the input (padding is
 * not counted), rounded half away from zero and clamped, as the reference kernel
 * edgec_avg_pool2d_s8 computes it.
 *
 * The division by the tap count d is a multiply-high: for a = |sum| + d / 2 and
 * m = ceil(2^32 / d), floor(a * m / 2^32) = floor(a / d) whenever a * d < 2^32, because
 * a * m / 2^32 exceeds a / d by less than a / 2^32 < 1 / d, which cannot reach the next
 * integer. With |sum| <= 128 * d that holds for windows of up to 5769 taps
 * (MAX_VECTOR_TAPS); larger windows divide lane by lane. A one-tap window needs no
 * division (m would be 2^32).
 *
 * Each output pixel is written after all of its window is read, in increasing order, so
 * the in-place order of the reference holds.
 */
#include <arm_mve.h>

#include "edgec/kernel_checks.h"
#include "edgec/kernels_mve.h"
#include "edgec/mve_copy.h"

/* Largest window whose rounded sums a and tap counts d keep a * d < 2^32: 129 * d^2 is
 * at most 4,293,746,729 for d = 5769. */
#define MAX_VECTOR_TAPS 5769

/* Returns whether the clamp range is valid, the sizes are consistent and every window
 * contains at least one input element (the reference's checks). */
static int avg_pool_arguments_valid(const edgec_pool_params *params,
                                    const edgec_dims *input_dims,
                                    const edgec_dims *output_dims)
{
    return edgec_activation_range_s8_valid(params->activation_min, params->activation_max) &&
           edgec_avg_pool_dims_valid(params, input_dims, output_dims);
}

/* Input rows or columns first .. last - 1 of a window starting at `origin`, clipped to
 * [0, size). */
typedef struct {
    int32_t first;
    int32_t last;
} window_range;

static window_range clip_window(int32_t origin, int32_t filter, int32_t size)
{
    window_range range;

    range.first = origin < 0 ? 0 : origin;
    range.last = origin + filter < size ? origin + filter : size;
    return range;
}

/* One output pixel's window: its top-left tap inside the input, its size, and the
 * reciprocal of its tap count. */
typedef struct {
    const int8_t *pixel;
    int32_t rows;
    int32_t columns;
    int32_t count;
    uint32_t reciprocal; /* ceil(2^32 / count); unused for one tap */
} pool_window;

/* Returns the sums of the window's taps of four channels from `pixel` (`active`: the
 * channels of a last, partial vector, when `partial` is set). */
EDGEC_MVE_INLINE int32x4_t sum_taps(const pool_window *window, int32_t channel, int32_t depth,
                                    int32_t row_bytes, mve_pred16_t active, int partial)
{
    const int8_t *row = window->pixel + channel;
    int32x4_t sums = vdupq_n_s32(0);
    int32_t y;
    int32_t x;

    for (y = 0; y < window->rows; y++) {
        const int8_t *tap = row;

        for (x = 0; x < window->columns; x++) {
            sums = vaddq_s32(sums, partial ? vldrbq_z_s32(tap, active) : vldrbq_s32(tap));
            tap += depth;
        }
        row += row_bytes;
    }
    return sums;
}

/* Returns the sums divided by the tap count, rounded half away from zero (see the file
 * comment). */
static inline int32x4_t divide(int32x4_t sums, const pool_window *window)
{
    const int32x4_t signs = vshrq_n_s32(sums, 31); /* -1 for negative sums, else 0 */
    uint32x4_t magnitudes;

    if (window->count == 1) {
        return sums;
    }
    magnitudes = vreinterpretq_u32_s32(vaddq_n_s32(vabsq_s32(sums), window->count / 2));
    magnitudes = vmulhq_u32(magnitudes, vdupq_n_u32(window->reciprocal));
    /* (q ^ s) - s negates q where s is -1. */
    return vsubq_s32(veorq_s32(vreinterpretq_s32_u32(magnitudes), signs), signs);
}

/* The scalar form of divide, for windows past MAX_VECTOR_TAPS. */
static int32x4_t divide_lanes(int32x4_t sums, int32_t count)
{
    int32_t values[4];
    int32_t lane;

    vst1q_s32(values, sums);
    for (lane = 0; lane < 4; lane++) {
        const int32_t sum = values[lane];

        /* C division truncates toward zero. */
        values[lane] = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
    }
    return vld1q_s32(values);
}

/* Writes the averages of one output pixel's channels. `vector_division` must be a
 * constant. */
EDGEC_MVE_INLINE void average_window(int8_t *out, const pool_window *window, int32_t depth,
                                     int32_t row_bytes, int32x4_t minimum, int32x4_t maximum,
                                     int vector_division)
{
    const int32_t full = depth - depth % 4;
    int32_t channel;

    for (channel = 0; channel < depth; channel += 4) {
        const int partial = channel >= full;
        const mve_pred16_t active = vctp32q((uint32_t)(depth - channel));
        const int32x4_t sums = partial
                                   ? sum_taps(window, channel, depth, row_bytes, active, 1)
                                   : sum_taps(window, channel, depth, row_bytes, active, 0);
        const int32x4_t averages =
            vector_division ? divide(sums, window) : divide_lanes(sums, window->count);
        const int32x4_t result = vminq_s32(vmaxq_s32(averages, minimum), maximum);

        if (partial) {
            vstrbq_p_s32(out + channel, result, active);
        } else {
            vstrbq_s32(out + channel, result);
        }
    }
}

EDGEC_MVE_INLINE void average_pool(const edgec_pool_params *params,
                                   const edgec_dims *input_dims, const int8_t *input,
                                   const edgec_dims *output_dims, int8_t *output,
                                   int vector_division)
{
    const int32_t depth = input_dims->c;
    const int32_t row_bytes = input_dims->w * depth;
    const int32x4_t minimum = vdupq_n_s32(params->activation_min);
    const int32x4_t maximum = vdupq_n_s32(params->activation_max);
    int32_t batch;
    int32_t out_y;
    int32_t out_x;

    for (batch = 0; batch < input_dims->n; batch++) {
        const int8_t *sample = input + batch * input_dims->h * row_bytes;

        for (out_y = 0; out_y < output_dims->h; out_y++) {
            const window_range rows = clip_window(out_y * params->stride_h - params->pad_top,
                                                  params->filter_h, input_dims->h);

            for (out_x = 0; out_x < output_dims->w; out_x++) {
                const window_range columns = clip_window(
                    out_x * params->stride_w - params->pad_left, params->filter_w,
                    input_dims->w);
                pool_window window;

                window.pixel = sample + rows.first * row_bytes + columns.first * depth;
                window.rows = rows.last - rows.first;
                window.columns = columns.last - columns.first;
                /* At least 1 by the argument check. */
                window.count = window.rows * window.columns;
                window.reciprocal = 0xFFFFFFFFu / (uint32_t)window.count + 1u;
                average_window(output, &window, depth, row_bytes, minimum, maximum,
                               vector_division);
                output += depth;
            }
        }
    }
}

edgec_status edgec_avg_pool2d_s8_mve(const edgec_pool_params *params,
                                     const edgec_dims *input_dims, const int8_t *input,
                                     const edgec_dims *output_dims, int8_t *output)
{
    if (!avg_pool_arguments_valid(params, input_dims, output_dims)) {
        return EDGEC_ERROR_ARGUMENT;
    }
    if (params->filter_h <= MAX_VECTOR_TAPS / params->filter_w) {
        average_pool(params, input_dims, input, output_dims, output, 1);
    } else {
        average_pool(params, input_dims, input, output_dims, output, 0);
    }
    return EDGEC_OK;
}
