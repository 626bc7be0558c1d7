/*
 * edgec DSP kernel variant: fully connected layer, int8, for cores with the DSP extension
 * (Cortex-M4, M7, M33, M55). Same result as the reference edgec_fully_connected_s8.
 *
 * Layouts (edgec.lower.variants_dsp.arrange_fully_connected_filter):
 *   - the reduction depth K is padded with zero weights to K16, a multiple of 16;
 *   - output channels go in blocks of FC_BLOCK, and the last block may be smaller. For
 *     each group of 4 reduction values q, a block of n channels stores the 4 weights of
 *     each of its channels, so filter word (block, q, j) contains w[c_j][4q .. 4q + 3];
 *   - bias is folded: bias[c] + input_offset * sum(w[c]), so the loop sums input * weight.
 *
 * Each input row is first widened into scratch (2 * K16 bytes): for each group of 4 values
 * x0..x3, the words (x0, x2) and (x1, x3) as int16 pairs. SXTB16 splits a weight word into
 * the same lane pairs, so two SMLAD sum the four products with no reordering. One pass
 * over the widened row computes FC_BLOCK channels, so each scratch load serves FC_BLOCK
 * channels, and the loop does four groups per iteration. The accumulators of up to
 * FC_CHUNK channels go to scratch too, and one loop then requantizes them: with the
 * multiply loop and the requantization apart, each keeps its values in registers.
 */
#include <stddef.h>
#include <string.h>

#include "edgec/dsp.h"
#include "edgec/kernel_checks.h"
#include "edgec/kernels_dsp.h"

#define FC_BLOCK 4
/* Output channels whose accumulators are kept in scratch before they are requantized
 * together: a multiple of FC_BLOCK (edgec.lower.variants_dsp.FC_CHUNK). */
#define FC_CHUNK 64

/* Widens the input row into scratch: per group of 4 values, (x0, x2) then (x1, x3). The
 * values from input_depth to 4 * groups read as 0 (their weights are 0 too). */
static void widen_row(const int8_t *input, int32_t input_depth, int32_t groups, int32_t *out)
{
    int32_t full = input_depth / 4;
    int32_t q;

    for (q = 0; q < full; q++) {
        uint32_t word = edgec_load_word(input + 4 * q);

        out[2 * q] = edgec_sxtb16(word);
        out[2 * q + 1] = edgec_sxtb16_ror8(word);
    }
    for (q = full; q < groups; q++) {
        int8_t tail[4] = {0, 0, 0, 0};
        int32_t left = input_depth - 4 * q;
        uint32_t word;

        if (left > 0) {
            memcpy(tail, input + 4 * q, (size_t)(left < 4 ? left : 4));
        }
        word = edgec_load_word(tail);
        out[2 * q] = edgec_sxtb16(word);
        out[2 * q + 1] = edgec_sxtb16_ror8(word);
    }
}

/* Adds the products of one group of 4 depth values: weight word w, widened input pair. */
#define GROUP_MAC(acc, w, even, odd) \
    ((acc) = __smlad(edgec_sxtb16_ror8(w), (odd), __smlad(edgec_sxtb16(w), (even), (acc))))

/* Channels first .. first + 3 over the widened row x .. x_end (a multiple of 4 groups);
 * filter points at the block's weights. Stores the four accumulators in acc. */
static void four_channels(const int32_t *x, const int32_t *x_end, const uint32_t *filter,
                          const int32_t *bias, int32_t *acc)
{
    int32_t a0 = bias[0];
    int32_t a1 = bias[1];
    int32_t a2 = bias[2];
    int32_t a3 = bias[3];

    do {
        int32_t even = x[0];
        int32_t odd = x[1];
        uint32_t w0 = filter[0];
        uint32_t w1 = filter[1];

        GROUP_MAC(a0, w0, even, odd);
        GROUP_MAC(a1, w1, even, odd);
        w0 = filter[2];
        w1 = filter[3];
        GROUP_MAC(a2, w0, even, odd);
        GROUP_MAC(a3, w1, even, odd);
        even = x[2];
        odd = x[3];
        w0 = filter[4];
        w1 = filter[5];
        GROUP_MAC(a0, w0, even, odd);
        GROUP_MAC(a1, w1, even, odd);
        w0 = filter[6];
        w1 = filter[7];
        GROUP_MAC(a2, w0, even, odd);
        GROUP_MAC(a3, w1, even, odd);
        even = x[4];
        odd = x[5];
        w0 = filter[8];
        w1 = filter[9];
        GROUP_MAC(a0, w0, even, odd);
        GROUP_MAC(a1, w1, even, odd);
        w0 = filter[10];
        w1 = filter[11];
        GROUP_MAC(a2, w0, even, odd);
        GROUP_MAC(a3, w1, even, odd);
        even = x[6];
        odd = x[7];
        w0 = filter[12];
        w1 = filter[13];
        GROUP_MAC(a0, w0, even, odd);
        GROUP_MAC(a1, w1, even, odd);
        w0 = filter[14];
        w1 = filter[15];
        GROUP_MAC(a2, w0, even, odd);
        GROUP_MAC(a3, w1, even, odd);
        x += 8;
        filter += 16;
    } while (x < x_end);
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* The last n < FC_BLOCK channels, one at a time. */
static void last_channels(const int32_t *x, int32_t groups, const uint32_t *filter, int32_t n,
                          const int32_t *bias, int32_t *acc)
{
    int32_t j;

    for (j = 0; j < n; j++) {
        int32_t sum = bias[j];
        int32_t q;

        for (q = 0; q < groups; q++) {
            GROUP_MAC(sum, filter[q * n + j], x[2 * q], x[2 * q + 1]);
        }
        acc[j] = sum;
    }
}

/* Requantizes count accumulators into output, channel c with multiplier and shift c. Kept
 * out of line, so that its loop has the registers to itself. */
static __attribute__((noinline)) void requantize_row(const int32_t *acc, int32_t count,
                                                     const int32_t *multipliers,
                                                     const int32_t *shifts,
                                                     const edgec_fc_params *params, int fast,
                                                     int8_t *output)
{
    const int32_t offset = params->output_offset;
    const int32_t lowest = params->activation_min;
    const int32_t highest = params->activation_max;
    const int8_t *end = output + count;

    if (!fast) {
        for (; output < end; output++) {
            *output = edgec_dsp_requantize_s8(*acc++, *multipliers++, *shifts++, 0, offset,
                                              lowest, highest);
        }
        return;
    }
    for (; output < end; output++) {
        *output = edgec_dsp_requantize_s8(*acc++, *multipliers++, *shifts++, 1, offset, lowest,
                                          highest);
    }
}

static int params_valid(const edgec_fc_params *params, int32_t rows, int32_t input_depth,
                        int32_t output_depth, const int32_t *bias, const void *scratch)
{
    return rows >= 0 && input_depth >= 1 && output_depth >= 1 && bias != NULL &&
           scratch != NULL && params->filter_offset == 0 &&
           edgec_activation_range_s8_valid(params->activation_min, params->activation_max);
}

/* Channels first .. first + count - 1 of one row: accumulators into acc, then requantized
 * into output (count is at most FC_CHUNK, and first a multiple of FC_BLOCK). */
static void channel_chunk(const int32_t *x, int32_t groups, const uint32_t *words,
                          const int32_t *bias, const edgec_per_channel_quant *quant,
                          const edgec_fc_params *params, int fast, int32_t first, int32_t count,
                          int32_t *acc, int8_t *output)
{
    const int32_t full = count - count % FC_BLOCK;
    int32_t j;

    for (j = 0; j < full; j += FC_BLOCK) {
        four_channels(x, x + 2 * groups, words, bias + first + j, acc + j);
        words += groups * FC_BLOCK;
    }
    if (full < count) {
        last_channels(x, groups, words, count - full, bias + first + full, acc + full);
    }
    requantize_row(acc, count, quant->multipliers + first, quant->shifts + first, params, fast,
                   output + first);
}

edgec_status edgec_fully_connected_s8_dsp(const edgec_fc_params *params,
                                          const edgec_per_channel_quant *quant,
                                          int32_t rows, int32_t input_depth, const int8_t *input,
                                          int32_t output_depth, const int8_t *filter,
                                          const int32_t *bias, int8_t *output, void *scratch)
{
    const int32_t groups = 4 * ((input_depth + 15) / 16);
    int32_t *x = (int32_t *)scratch;
    int32_t *acc = x + 2 * groups;
    int fast;
    int32_t row;

    if (!params_valid(params, rows, input_depth, output_depth, bias, scratch)) {
        return EDGEC_ERROR_ARGUMENT;
    }
    fast = edgec_requantize_fast_range(quant, output_depth);

    for (row = 0; row < rows; row++) {
        const uint32_t *words = (const uint32_t *)(const void *)filter;
        int32_t first;

        widen_row(input + row * input_depth, input_depth, groups, x);
        for (first = 0; first < output_depth; first += FC_CHUNK) {
            const int32_t count =
                output_depth - first < FC_CHUNK ? output_depth - first : FC_CHUNK;

            channel_chunk(x, groups, words, bias, quant, params, fast, first, count, acc,
                          output);
            words += groups * count;
        }
        output += output_depth;
    }
    return EDGEC_OK;
}
