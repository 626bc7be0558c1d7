/*
 * edgec runtime: the part that the Helium (MVE) convolution kernels conv2d_s8_mve and
 * conv2d_s8_1x1_mve share. Include only where the extension exists.
 *
 * Both gather the reduction vectors of two output pixels (the input bytes under each
 * window, in the filter's (kh, kw, c) order) into interleaved scratch columns of `steps`
 * * 16 bytes each (mve_copy.h), compute every output channel of the pair with
 * edgec_mve_dot_pair, four channels per block, into int32 sums, and requantize the sums
 * four lanes at a time. Column bytes past the reduction length K may hold anything,
 * because their weights are 0.
 *
 * Filter layout (arranged at compile time): output channels padded with zero weights to a
 * multiple of 4 and K padded with zeros to steps * 16, stored as blocks of 4 channels.
 * Inside a block come, for each 16-byte step, the 16 weights of each of the 4 channels.
 *
 * Scratch layout: the sums (8 int32 per block), the interleaved columns (steps * 32
 * bytes), then for conv2d_s8_mve two contiguous windows (steps * 16 bytes each).
 *
 * Gathering a pair into scratch before writing any of its outputs keeps the reference
 * order that the memory planner relies on for in-place outputs. When a pixel's outputs
 * are written, every input byte that this or an earlier pixel reads has been read.
 */
#ifndef EDGEC_MVE_CONV_H
#define EDGEC_MVE_CONV_H

#include <arm_mve.h>
#include <stddef.h>
#include <stdint.h>

#include "edgec/kernel_checks.h"
#include "edgec/kernels.h"
#include "edgec/mve_copy.h"
#include "edgec/mve_dot.h"
#include "edgec/mve_requantize.h"

/* Output channels of one edgec_mve_dot_pair block, and int32 sums it writes. */
#define EDGEC_MVE_CONV_BLOCK_CHANNELS 4
#define EDGEC_MVE_CONV_BLOCK_SUMS 8

/* Returns the number of channel blocks of `channels` output channels. */
static inline int32_t edgec_mve_conv_blocks(int32_t channels)
{
    return (channels + EDGEC_MVE_CONV_BLOCK_CHANNELS - 1) / EDGEC_MVE_CONV_BLOCK_CHANNELS;
}

/*
 * Returns whether the arguments describe a valid convolution for a folded variant: the
 * reference kernel's checks (sizes, strides, dilations, clamp range), plus a zero filter
 * offset, a bias and a scratch buffer.
 */
static inline int edgec_mve_conv_arguments_valid(const edgec_conv_params *params,
                                                 const edgec_dims *input_dims,
                                                 const edgec_dims *filter_dims,
                                                 const int32_t *bias,
                                                 const edgec_dims *output_dims,
                                                 const void *scratch)
{
    if (!edgec_conv_dims_valid(params, input_dims, filter_dims, output_dims)) {
        return 0;
    }
    if (params->filter_offset != 0 || bias == NULL || scratch == NULL) {
        return 0;
    }
    return edgec_activation_range_s8_valid(params->activation_min, params->activation_max);
}

/*
 * Requantizes the sums of one pixel pair (8 per block: pixel 0's four channels, then
 * pixel 1's) and stores them at output0 and output1 (NULL: the pair has one pixel).
 * `mode` must be a constant (edgec_mve_requant_mode).
 */
EDGEC_MVE_INLINE void edgec_mve_conv_requantize(const int32_t *sums, const int32_t *bias,
                                                const edgec_per_channel_quant *quant,
                                                int32_t channels,
                                                const edgec_mve_output_stage *stage, int mode,
                                                int8_t *output0, int8_t *output1)
{
    /* Walking pointers, because the int8 stores below may alias *quant. */
    const int32_t *multipliers = quant->multipliers;
    const int32_t *shifts = quant->shifts;
    const int32_t tail = channels % EDGEC_MVE_CONV_BLOCK_CHANNELS;
    int32_t blocks = channels / EDGEC_MVE_CONV_BLOCK_CHANNELS;
    edgec_mve_channel_quant q;

    for (; blocks > 0; blocks--) {
        q = edgec_mve_load_block_quant(bias, multipliers, shifts, 4, mode);
        edgec_mve_requantize_store(output0, vldrwq_s32(sums), &q, bias, multipliers, shifts, 4,
                                   stage, mode);
        if (output1 != NULL) {
            edgec_mve_requantize_store(output1, vldrwq_s32(sums + 4), &q, bias, multipliers,
                                       shifts, 4, stage, mode);
            output1 += EDGEC_MVE_CONV_BLOCK_CHANNELS;
        }
        sums += EDGEC_MVE_CONV_BLOCK_SUMS;
        bias += EDGEC_MVE_CONV_BLOCK_CHANNELS;
        multipliers += EDGEC_MVE_CONV_BLOCK_CHANNELS;
        shifts += EDGEC_MVE_CONV_BLOCK_CHANNELS;
        output0 += EDGEC_MVE_CONV_BLOCK_CHANNELS;
    }
    if (tail > 0) {
        q = edgec_mve_load_block_quant(bias, multipliers, shifts, tail, mode);
        edgec_mve_requantize_store(output0, vldrwq_s32(sums), &q, bias, multipliers, shifts,
                                   tail, stage, mode);
        if (output1 != NULL) {
            edgec_mve_requantize_store(output1, vldrwq_s32(sums + 4), &q, bias, multipliers,
                                       shifts, tail, stage, mode);
        }
    }
}

#endif /* EDGEC_MVE_CONV_H */
