/*
 * edgec runtime: the argument check that the Helium (MVE) depthwise kernels
 * depthwise_conv2d_s8_mve and depthwise_conv2d_s8_3x3_mve share, and the padded rows of
 * depthwise_conv2d_s8_mve. Include only where the extension exists.
 *
 * The input offset is folded into the bias, so a tap outside the input must read the zero
 * point. depthwise_conv2d_s8_mve therefore copies each input row that an output row reads
 * into scratch as a padded row: the input row with the zero point in its padding columns,
 * or all zero points for a row above or below the input. The windows then need no bounds
 * check. A padded row covers the input columns from -pad_left to the last column that the
 * last output column's window reads, `depth` bytes (the input channels) each.
 *
 * Filter layout of depthwise_conv2d_s8_mve (arranged at compile time): output channels
 * padded with zero weights to a multiple of 4 and stored as blocks of 4 channels. Inside a
 * block come, for each tap in (kh, kw) order, the 4 channels' weights, so block b starts
 * at byte b * kh * kw * 4.
 *
 * Copying the input rows of an output row before writing any of its outputs keeps the
 * reference order that the memory planner relies on for in-place outputs.
 */
#ifndef EDGEC_MVE_DEPTHWISE_H
#define EDGEC_MVE_DEPTHWISE_H

#include <arm_mve.h>
#include <stddef.h>
#include <stdint.h>

#include "edgec/kernel_checks.h"
#include "edgec/kernels.h"
#include "edgec/mve_copy.h"
#include "edgec/mve_requantize.h"

/* Output channels of one block of depthwise_conv2d_s8_mve, and the input or weight bytes
 * of one tap of a block. */
#define EDGEC_MVE_DEPTHWISE_BLOCK_CHANNELS 4

/*
 * Returns whether the arguments describe a valid depthwise convolution for a folded
 * variant: the reference kernel's checks, plus a zero filter offset, an int8 zero point,
 * a bias and a scratch buffer.
 */
static inline int edgec_mve_depthwise_arguments_valid(const edgec_conv_params *params,
                                                      const edgec_dims *input_dims,
                                                      const edgec_dims *filter_dims,
                                                      const int32_t *bias,
                                                      const edgec_dims *output_dims,
                                                      const void *scratch)
{
    if (!edgec_depthwise_dims_valid(params, input_dims, filter_dims, output_dims)) {
        return 0;
    }
    if (params->filter_offset != 0 || bias == NULL || scratch == NULL ||
        params->input_offset < -127 || params->input_offset > 128) {
        return 0;
    }
    return edgec_activation_range_s8_valid(params->activation_min, params->activation_max);
}

/* Input columns that a padded row covers: from -pad_left to the rightmost tap of the last
 * output column (at least one column). */
static inline int32_t edgec_mve_padded_row_columns(const edgec_conv_params *params,
                                                   const edgec_dims *filter_dims,
                                                   const edgec_dims *output_dims)
{
    const int32_t last = (output_dims->w - 1) * params->stride_w +
                         (filter_dims->w - 1) * params->dilation_w;

    return last >= 0 ? last + 1 : 1;
}

/*
 * Writes the padded row of input row `row` (NULL: a row outside the input, all zero
 * points): `columns` columns of `depth` bytes, column j being input column j - pad_left
 * or the zero point where that lies outside [0, width).
 */
static inline void edgec_mve_pad_row(int8_t *padded, const int8_t *row, int32_t width,
                                     int32_t depth, int32_t pad_left, int32_t columns,
                                     int8_t zero_point)
{
    /* Padded columns first .. last - 1 lie inside the input. */
    int32_t first = pad_left > 0 ? pad_left : 0;
    int32_t last = pad_left + width;

    if (row == NULL) {
        edgec_mve_fill(padded, zero_point, columns * depth);
        return;
    }
    first = first < columns ? first : columns;
    last = last < columns ? last : columns;
    last = last > first ? last : first;
    padded = edgec_mve_fill(padded, zero_point, first * depth);
    padded = edgec_mve_copy(padded, row + (first - pad_left) * depth, (last - first) * depth);
    edgec_mve_fill(padded, zero_point, (columns - last) * depth);
}

#endif /* EDGEC_MVE_DEPTHWISE_H */
