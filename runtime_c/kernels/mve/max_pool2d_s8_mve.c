/*
 * edgec Helium (MVE) kernel: 2-D max pooling of int8 NHWC tensors, 16 channels per
 * vector: the maximum of the window's taps inside the input (padding is ignored) and
 * activation_min, then the minimum with activation_max, as the reference kernel
 * edgec_max_pool2d_s8 computes it. A window with no tap inside the input gives
 * activation_min.
 *
 * Each output pixel is written after all of its window is read, in increasing order, so
 * the in-place order of the reference holds.
 */
#include <arm_mve.h>

#include "edgec/kernel_checks.h"
#include "edgec/kernels_mve.h"
#include "edgec/mve_copy.h"

/* Returns whether the sizes, window and clamp range are consistent (the reference's
 * checks). */
static int max_pool_arguments_valid(const edgec_pool_params *params,
                                    const edgec_dims *input_dims,
                                    const edgec_dims *output_dims)
{
    return edgec_pool_dims_valid(params, input_dims, output_dims) &&
           edgec_activation_range_s8_valid(params->activation_min, params->activation_max);
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

/* Returns the maximum of `minimum` and the rows x columns taps of 16 channels from
 * `pixel` (`active`: the channels of a last, partial vector, when `partial` is set). */
EDGEC_MVE_INLINE int8x16_t max_taps(const int8_t *pixel, int32_t rows, int32_t columns,
                                    int32_t depth, int32_t row_bytes, int8x16_t minimum,
                                    mve_pred16_t active, int partial)
{
    int8x16_t values = minimum;
    int32_t y;
    int32_t x;

    for (y = 0; y < rows; y++) {
        const int8_t *tap = pixel;

        for (x = 0; x < columns; x++) {
            values = vmaxq_s8(values, partial ? vldrbq_z_s8(tap, active) : vldrbq_s8(tap));
            tap += depth;
        }
        pixel += row_bytes;
    }
    return values;
}

/* Writes the maxima of one output pixel: `pixel` is the window's top-left tap inside the
 * input, rows x columns taps, `depth` channels, `row_bytes` apart rows. */
static void max_window(int8_t *out, const int8_t *pixel, int32_t rows, int32_t columns,
                       int32_t depth, int32_t row_bytes, int8x16_t minimum, int8x16_t maximum)
{
    const int32_t full = depth - depth % 16;
    int32_t channel;

    for (channel = 0; channel < full; channel += 16) {
        const int8x16_t values =
            max_taps(pixel + channel, rows, columns, depth, row_bytes, minimum, 0, 0);

        vstrbq_s8(out + channel, vminq_s8(values, maximum));
    }
    if (full < depth) {
        const mve_pred16_t active = vctp8q((uint32_t)(depth - full));
        const int8x16_t values =
            max_taps(pixel + full, rows, columns, depth, row_bytes, minimum, active, 1);

        vstrbq_p_s8(out + full, vminq_s8(values, maximum), active);
    }
}

edgec_status edgec_max_pool2d_s8_mve(const edgec_pool_params *params,
                                     const edgec_dims *input_dims, const int8_t *input,
                                     const edgec_dims *output_dims, int8_t *output)
{
    const int32_t depth = input_dims->c;
    const int32_t row_bytes = input_dims->w * depth;
    int8x16_t minimum;
    int8x16_t maximum;
    int32_t batch;
    int32_t out_y;
    int32_t out_x;

    if (!max_pool_arguments_valid(params, input_dims, output_dims)) {
        return EDGEC_ERROR_ARGUMENT;
    }
    minimum = vdupq_n_s8((int8_t)params->activation_min);
    maximum = vdupq_n_s8((int8_t)params->activation_max);

    for (batch = 0; batch < input_dims->n; batch++) {
        const int8_t *sample = input + batch * input_dims->h * row_bytes;

        for (out_y = 0; out_y < output_dims->h; out_y++) {
            const window_range rows = clip_window(out_y * params->stride_h - params->pad_top,
                                                  params->filter_h, input_dims->h);

            for (out_x = 0; out_x < output_dims->w; out_x++) {
                const window_range columns = clip_window(
                    out_x * params->stride_w - params->pad_left, params->filter_w,
                    input_dims->w);

                max_window(output, sample + rows.first * row_bytes + columns.first * depth,
                           rows.last - rows.first, columns.last - columns.first, depth,
                           row_bytes, minimum, maximum);
                output += depth;
            }
        }
    }
    return EDGEC_OK;
}
