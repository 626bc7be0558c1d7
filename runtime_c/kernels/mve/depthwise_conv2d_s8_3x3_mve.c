/*
 * edgec Helium (MVE) kernel: 3x3 depthwise convolution with depth multiplier 1 and no
 * dilation, any stride and padding, int8 activations and weights, per-channel
 * requantization and the input offset folded into the bias (kernels_mve.h).
 *
 * One VLDRB gather loads a patch of up to 16 input bytes of one channel. Each 16-byte
 * weight vector contains the 3x3 kernel at the place of one output window inside the
 * patch (zero elsewhere), so one VMLADAV of patch and vector gives that output's sum:
 *   stride_w 1 or 2: a 3 x (stride_w + 3) patch, two windows side by side;
 *   stride_w 3 or more: a 3x3 patch, one window.
 * (A 4x4 patch with 2 x 2 windows at stride 1 needs four weight vectors live, and the
 * spills that follow cost more than the gathers it saves.) The compiler arranges the
 * weight vectors (compiler/edgec/lower/variants_mve.py): for each channel, one 16-byte
 * vector per window of the patch, left to right, with the patch in row-major lanes.
 *
 * The gather needs each channel's rows at a fixed distance, so the input rows that a band
 * of up to BAND_OUTPUT_ROWS output rows reads are transposed into scratch: one plane per
 * channel of band_rows rows of `width` columns, the columns starting at input column
 * -pad_left. Taps outside the input read the zero point, as the folded bias requires. The
 * gather offsets are bytes, (PATCH_ROWS - 1) * width + patch columns - 1 <= 255, and the
 * transposition scatters eight channels with 16-bit offsets, 7 * plane bytes <= 65535:
 * the compiler's predicate depthwise_patch_fits checks both.
 *
 * Then for each channel, each step computes 2 x 2 outputs of the band from two or four
 * gathers, requantizes them with the channel's parameters and stores them with a VSTRB
 * scatter (their pixels are `channels` bytes apart). A band is transposed before any of
 * its outputs is written, so the in-place order of the reference holds.
 */
#include <stddef.h>

#include "edgec/kernels_mve.h"
#include "edgec/mve_depthwise.h"

/* Largest offset of a VLDRB gather with 8-bit offsets, and of the transposition's VSTRB
 * scatter with 16-bit offsets. */
#define MAX_GATHER_OFFSET 255
#define MAX_SCATTER_OFFSET 65535

/* Input rows of a patch (the filter's). */
#define PATCH_ROWS 3

/* The patch of one gather and the outputs it gives. */
typedef struct {
    int32_t columns;     /* input columns of a patch */
    int32_t out_columns; /* output columns per patch */
} patch_shape;

/* The layer's geometry as the loops use it. */
typedef struct {
    const edgec_conv_params *params;
    const edgec_dims *input_dims;
    const edgec_dims *output_dims;
    patch_shape patch;
    int32_t band_out_rows; /* output rows of a band: BAND_OUTPUT_ROWS or fewer */
    int32_t band_rows;     /* input rows of a band */
    int32_t width;         /* columns of a band row */
    int32_t plane_bytes;   /* band_rows * width */
} band_geometry;

/* Returns the patch shape for the horizontal stride (the compiler's rule,
 * variants_mve.py). */
static patch_shape patch_for(int32_t stride_w)
{
    patch_shape patch;

    if (stride_w <= 2) {
        patch.columns = stride_w + 3;
        patch.out_columns = 2;
    } else {
        patch.columns = 3;
        patch.out_columns = 1;
    }
    return patch;
}

/* Output rows and columns of one step of channel_band: four outputs, 2 x 2. */
#define STEP_ROWS 2
#define STEP_COLUMNS 2

/* Maximum output rows of a band (a multiple of STEP_ROWS): taller bands load each
 * channel's weights and parameters once for more outputs, and transpose the rows that two
 * bands share fewer times, at the cost of scratch. */
#define BAND_OUTPUT_ROWS 8

/* Returns the band width that every patch of an output row fits in: the last step starts
 * at a multiple of STEP_COLUMNS and reads STEP_COLUMNS windows. */
static int32_t band_width(int32_t stride_w, int32_t output_w)
{
    const int32_t last_step = (output_w - 1) / STEP_COLUMNS * STEP_COLUMNS;

    return (last_step + STEP_COLUMNS - 1) * stride_w + 3;
}

/* Returns the output rows of a band: BAND_OUTPUT_ROWS, or the output height rounded up to
 * whole steps when that is less. */
static int32_t band_output_rows(int32_t output_h)
{
    const int32_t rows = (output_h + STEP_ROWS - 1) / STEP_ROWS * STEP_ROWS;

    if (rows < STEP_ROWS) {
        return STEP_ROWS;
    }
    return rows < BAND_OUTPUT_ROWS ? rows : BAND_OUTPUT_ROWS;
}

/* Returns the gather offsets of a patch: lane r * columns + c reads row r, column c. The
 * lanes past the patch read its first byte, because their weights are 0. */
static uint8x16_t patch_offsets(const patch_shape *patch, int32_t width)
{
    uint8_t offsets[16] = {0};
    int32_t row;
    int32_t column;

    for (row = 0; row < PATCH_ROWS; row++) {
        for (column = 0; column < patch->columns; column++) {
            offsets[row * patch->columns + column] = (uint8_t)(row * width + column);
        }
    }
    return vld1q_u8(offsets);
}

/*
 * Transposes the band of output row out_y into the planes. Band row r is input row
 * out_y * stride_h - pad_top + r and band column j is input column j - pad_left, and rows
 * or columns outside the input are the zero point. Only the columns inside the input are
 * written, because fill_padding set the others once per call and no band writes them.
 * Each VSTRB scatter writes eight channels of one pixel, 16-bit offsets plane_bytes apart;
 * the last eight or fewer use a predicate computed once.
 */
static void transpose_band(int8_t *planes, const int8_t *sample, int32_t out_y,
                           const band_geometry *geometry)
{
    const edgec_conv_params *params = geometry->params;
    const edgec_dims *input_dims = geometry->input_dims;
    const int32_t depth = input_dims->c;
    const int32_t plane_bytes = geometry->plane_bytes;
    const int32_t width = geometry->width;
    const int32_t chunk_step = 8 * plane_bytes;
    const int32_t full = (depth - 1) / 8 * 8; /* channels before the last chunk */
    const mve_pred16_t tail = vctp16q((uint32_t)(depth - full));
    const int16x8_t zero_points = vdupq_n_s16((int16_t)(-params->input_offset));
    const uint16x8_t offsets = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)plane_bytes);
    /* Band columns first .. last - 1 lie inside the input columns. */
    int32_t first = params->pad_left > 0 ? params->pad_left : 0;
    int32_t last = params->pad_left + input_dims->w;
    int32_t row;

    first = first < width ? first : width;
    last = last < width ? last : width;
    for (row = 0; row < geometry->band_rows; row++) {
        const int32_t in_y = out_y * params->stride_h - params->pad_top + row;
        int8_t *destination = planes + row * width + first;
        int8_t *const row_end = planes + row * width + last;

        if (in_y >= 0 && in_y < input_dims->h) {
            const int8_t *pixel =
                sample + (in_y * input_dims->w + first - params->pad_left) * depth;

            for (; destination < row_end; destination++) {
                int8_t *chunk = destination;
                int32_t channel;

                for (channel = 0; channel < full; channel += 8) {
                    vstrbq_scatter_offset_s16(chunk, offsets, vldrbq_s16(pixel + channel));
                    chunk += chunk_step;
                }
                vstrbq_scatter_offset_p_s16(chunk, offsets,
                                            vldrbq_z_s16(pixel + channel, tail), tail);
                pixel += depth;
            }
        } else {
            for (; destination < row_end; destination++) {
                int8_t *chunk = destination;
                int32_t channel;

                for (channel = 0; channel < full; channel += 8) {
                    vstrbq_scatter_offset_s16(chunk, offsets, zero_points);
                    chunk += chunk_step;
                }
                vstrbq_scatter_offset_p_s16(chunk, offsets, zero_points, tail);
            }
        }
    }
}

/* Sets the whole band to the zero point, which leaves the padding columns that
 * transpose_band never writes at the zero point for the whole call. */
static void fill_padding(int8_t *planes, int32_t depth, const band_geometry *geometry)
{
    edgec_mve_fill(planes, (int8_t)(-geometry->params->input_offset),
                   depth * geometry->plane_bytes);
}

/*
 * Returns the predicate of the lanes of a step (row-major 2 x 2 outputs) that lie inside
 * the output: rows < valid_rows and columns < valid_columns. Computed by comparisons, not
 * taken from a constant, because arm-none-eabi-gcc 12.2 miscompiled a constant table of
 * mve_pred16_t values in this kernel (an entry of 0x00FF was used as 0xFFFF).
 */
static inline mve_pred16_t step_lanes(int32_t valid_rows, int32_t valid_columns)
{
    const int32x4_t lanes = vreinterpretq_s32_u32(vidupq_n_u32(0, 1));
    const mve_pred16_t rows = vcmpltq_n_s32(vshrq_n_s32(lanes, 1), valid_rows);

    return vcmpltq_m_n_s32(vandq_s32(lanes, vdupq_n_s32(1)), valid_columns, rows);
}

/* Returns the four sums as the lanes of a vector. */
static inline int32x4_t lanes_of(int32_t sum0, int32_t sum1, int32_t sum2, int32_t sum3)
{
    int32x4_t sums = vdupq_n_s32(sum0);

    sums = vsetq_lane_s32(sum1, sums, 1);
    sums = vsetq_lane_s32(sum2, sums, 2);
    return vsetq_lane_s32(sum3, sums, 3);
}

/* Returns the 16 input bytes of the patch at `patch`. */
static inline int8x16_t gather_patch(const int8_t *patch, uint8x16_t offsets)
{
    return vreinterpretq_s8_u8(vldrbq_gather_offset_u8((const uint8_t *)patch, offsets));
}

/* The predicates of the steps that reach past the output. */
typedef struct {
    mve_pred16_t one_row;    /* the output's last row: lanes 0 and 1 */
    mve_pred16_t one_column; /* the output's last column: lanes 0 and 2 */
    mve_pred16_t one_output; /* both: lane 0 */
} step_predicates;

/*
 * Returns the sums of one step's 2 x 2 outputs (row-major lanes) whose patch starts at
 * `patch`: two gathers with two windows each, or four with one window each.
 */
EDGEC_MVE_INLINE int32x4_t step_sums(const int8_t *patch, uint8x16_t offsets, int8x16_t w0,
                                     int8x16_t w1, int32_t row_step, int32_t stride_w,
                                     int two_windows)
{
    if (two_windows) {
        const int8x16_t top = gather_patch(patch, offsets);
        const int8x16_t bottom = gather_patch(patch + row_step, offsets);

        return lanes_of(vmladavq_s8(top, w0), vmladavq_s8(top, w1), vmladavq_s8(bottom, w0),
                        vmladavq_s8(bottom, w1));
    }
    return lanes_of(vmladavq_s8(gather_patch(patch, offsets), w0),
                    vmladavq_s8(gather_patch(patch + stride_w, offsets), w0),
                    vmladavq_s8(gather_patch(patch + row_step, offsets), w0),
                    vmladavq_s8(gather_patch(patch + row_step + stride_w, offsets), w0));
}

/*
 * Computes the band's outputs of one channel: `plane` is the channel's plane, `weights`
 * its weight vectors, `out` its output at the band's first pixel, `rows` the band's
 * output rows. Each step computes 2 x 2 outputs (STEP_ROWS x STEP_COLUMNS), requantizes
 * them with the channel's parameters and scatters them to their pixels
 * (step_offsets: 0, channels, row, row + channels bytes). In a last step or row pair that
 * reaches past the output, the lanes outside it are computed from the band's padding and
 * not stored. `two_windows` (the patch shape) must be a constant.
 */
EDGEC_MVE_INLINE void channel_band(int8_t *out, const int8_t *plane, const int8_t *weights,
                                   uint8x16_t offsets, uint32x4_t step_offsets, int32_t rows,
                                   const band_geometry *geometry, const step_predicates *lanes,
                                   const edgec_mve_uniform_quant *q,
                                   const edgec_mve_output_stage *stage, int mode,
                                   int two_windows)
{
    const int32_t out_w = geometry->output_dims->w;
    const int32_t full_steps = out_w / STEP_COLUMNS;
    const int32_t stride_w = geometry->params->stride_w;
    const int32_t row_step = geometry->params->stride_h * geometry->width;
    const int32_t out_step = STEP_COLUMNS * geometry->output_dims->c;
    const int8x16_t w0 = vldrbq_s8(weights);
    /* The one-window shape has a single vector per channel. */
    const int8x16_t w1 = two_windows ? vldrbq_s8(weights + 16) : w0;
    int32_t out_y;
    int32_t step;

    for (out_y = 0; out_y < rows; out_y += STEP_ROWS) {
        const int32_t valid_rows = rows - out_y < STEP_ROWS ? rows - out_y : STEP_ROWS;
        const int8_t *patch = plane;
        int8_t *step_out = out;

        if (valid_rows == STEP_ROWS) {
            for (step = 0; step < full_steps; step++) {
                const int32x4_t sums =
                    step_sums(patch, offsets, w0, w1, row_step, stride_w, two_windows);

                vstrbq_scatter_offset_s32(step_out, step_offsets,
                                          edgec_mve_requantize_uniform(sums, q, stage, mode));
                patch += STEP_COLUMNS * stride_w;
                step_out += out_step;
            }
        } else {
            for (step = 0; step < full_steps; step++) {
                const int32x4_t sums =
                    step_sums(patch, offsets, w0, w1, row_step, stride_w, two_windows);

                vstrbq_scatter_offset_p_s32(step_out, step_offsets,
                                            edgec_mve_requantize_uniform(sums, q, stage, mode),
                                            lanes->one_row);
                patch += STEP_COLUMNS * stride_w;
                step_out += out_step;
            }
        }
        if (out_w % STEP_COLUMNS != 0) {
            const int32x4_t sums =
                step_sums(patch, offsets, w0, w1, row_step, stride_w, two_windows);

            vstrbq_scatter_offset_p_s32(step_out, step_offsets,
                                        edgec_mve_requantize_uniform(sums, q, stage, mode),
                                        valid_rows == STEP_ROWS ? lanes->one_column
                                                                : lanes->one_output);
        }
        plane += STEP_ROWS * row_step;
        out += STEP_ROWS * out_w * geometry->output_dims->c;
    }
}

EDGEC_MVE_INLINE void depthwise(const band_geometry *geometry,
                                const edgec_per_channel_quant *quant, const int8_t *input,
                                const int8_t *filter, const int32_t *bias, int8_t *output,
                                int8_t *planes, const edgec_mve_output_stage *stage, int mode)
{
    const edgec_dims *input_dims = geometry->input_dims;
    const edgec_dims *output_dims = geometry->output_dims;
    const int32_t channels = output_dims->c;
    const int32_t vector_bytes = geometry->patch.out_columns * 16;
    const int32_t plane_bytes = geometry->plane_bytes;
    const uint8x16_t offsets = patch_offsets(&geometry->patch, geometry->width);
    const uint32_t row_bytes = (uint32_t)(output_dims->w * channels);
    step_predicates lanes;
    const uint32x4_t step_offsets = vsetq_lane_u32(
        row_bytes + (uint32_t)channels,
        vsetq_lane_u32(row_bytes, vsetq_lane_u32((uint32_t)channels, vdupq_n_u32(0), 1), 2), 3);
    int32_t batch;
    int32_t out_y;
    int32_t channel;

    lanes.one_row = step_lanes(1, STEP_COLUMNS);
    lanes.one_column = step_lanes(STEP_ROWS, 1);
    lanes.one_output = step_lanes(1, 1);
    for (batch = 0; batch < input_dims->n; batch++) {
        const int8_t *sample = input + batch * input_dims->h * input_dims->w * input_dims->c;
        int8_t *out_sample = output + batch * output_dims->h * output_dims->w * channels;

        fill_padding(planes, input_dims->c, geometry);
        for (out_y = 0; out_y < output_dims->h; out_y += geometry->band_out_rows) {
            const int32_t band_rows = output_dims->h - out_y < geometry->band_out_rows
                                          ? output_dims->h - out_y
                                          : geometry->band_out_rows;
            int8_t *out = out_sample + out_y * output_dims->w * channels;

            transpose_band(planes, sample, out_y, geometry);
            for (channel = 0; channel < channels; channel++) {
                const edgec_mve_uniform_quant q = edgec_mve_uniform_quant_of(
                    bias[channel], quant->multipliers[channel], quant->shifts[channel]);

                if (geometry->patch.out_columns == 2) {
                    channel_band(out + channel, planes + channel * plane_bytes,
                                 filter + channel * vector_bytes, offsets, step_offsets,
                                 band_rows, geometry, &lanes, &q, stage, mode, 1);
                } else {
                    channel_band(out + channel, planes + channel * plane_bytes,
                                 filter + channel * vector_bytes, offsets, step_offsets,
                                 band_rows, geometry, &lanes, &q, stage, mode, 0);
                }
            }
        }
    }
}

/* Returns whether the filter is 3x3, the multiplier 1, no dilation, and the gather and
 * scatter offsets fit their lanes. */
static int shape_valid(const edgec_conv_params *params, const edgec_dims *filter_dims,
                       const band_geometry *geometry)
{
    if (filter_dims->h != 3 || filter_dims->w != 3 || params->depth_multiplier != 1 ||
        params->dilation_h != 1 || params->dilation_w != 1) {
        return 0;
    }
    return (PATCH_ROWS - 1) * geometry->width + geometry->patch.columns - 1 <=
               MAX_GATHER_OFFSET &&
           geometry->plane_bytes <= MAX_SCATTER_OFFSET / 7;
}

edgec_status edgec_depthwise_conv2d_s8_3x3_mve(const edgec_conv_params *params,
                                               const edgec_per_channel_quant *quant,
                                               const edgec_dims *input_dims, const int8_t *input,
                                               const edgec_dims *filter_dims, const int8_t *filter,
                                               const int32_t *bias,
                                               const edgec_dims *output_dims, int8_t *output,
                                               void *scratch)
{
    edgec_mve_output_stage stage;
    band_geometry geometry;
    int mode;

    if (!edgec_mve_depthwise_arguments_valid(params, input_dims, filter_dims, bias, output_dims,
                                             scratch)) {
        return EDGEC_ERROR_ARGUMENT;
    }
    geometry.params = params;
    geometry.input_dims = input_dims;
    geometry.output_dims = output_dims;
    geometry.patch = patch_for(params->stride_w);
    geometry.width = band_width(params->stride_w, output_dims->w);
    geometry.band_out_rows = band_output_rows(output_dims->h);
    geometry.band_rows = (geometry.band_out_rows - 1) * params->stride_h + PATCH_ROWS;
    geometry.plane_bytes = geometry.band_rows * geometry.width;
    if (!shape_valid(params, filter_dims, &geometry)) {
        return EDGEC_ERROR_ARGUMENT;
    }

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
