/*
 * edgec runtime: the loops shared by the fully connected kernels with int8 activations.
 * edgec_fully_connected_s8 and edgec_fully_connected_s8_s4 (kernels.h) write int8
 * outputs, and edgec_fully_connected_s8_s16 and edgec_fully_connected_s8_s4_s16
 * (kernels_residual.h) write int16 ones. All four compute the same int32 accumulator and
 * requantization and differ only in the clamp range and the stored type. Not part of the
 * kernel API.
 *
 * Loop order: output channels outside, rows inside. A filter row is then read once from
 * memory and reused for every input row while it is in the data cache. MiniLM's
 * 1536 x 384 filter (590 KB) is larger than the 512 KB L2 cache of a Raspberry Pi 3's
 * Cortex-A53, while its 32 input rows (48 KB) are not. The callers check every argument
 * before these loops run.
 */
#ifndef EDGEC_KERNELS_FULLY_CONNECTED_CORE_H
#define EDGEC_KERNELS_FULLY_CONNECTED_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "edgec/fixed_point.h"
#include "edgec/int4.h"
#include "edgec/kernels.h"

/*
 * Depth values per block of edgec_fully_connected_dot_s8: 16 where compilers vectorize the
 * block (Arm NEON, x86 SSE2), 0 (no blocks) elsewhere. On a Cortex-M4, which has no such
 * vector unit, blocks would add about 150 bytes of code (arm-none-eabi-gcc 12.2, -O2) for
 * a loop of about the same instruction count.
 */
#if defined(__ARM_NEON) || defined(__SSE2__)
#define EDGEC_FULLY_CONNECTED_BLOCK 16
#else
#define EDGEC_FULLY_CONNECTED_BLOCK 0
#endif

/*
 * Returns sum over d of (filter_row[d] + filter_offset) * (input_row[d] + input_offset).
 * When filter_offset is 0 and input_offset is in [-128, 128], as for every int8 zero point,
 * input + input_offset fits in int16 and the sum runs in blocks of
 * EDGEC_FULLY_CONNECTED_BLOCK values. The constant trip count lets compilers vectorize a
 * block (NEON widening multiply-accumulates on Cortex-A). The order of an integer sum does
 * not change it. Every partial sum adds a subset of the products, so it stays within the
 * compiler's accumulator bound (edgec.lower.params), which is below 2^31.
 */
static inline int32_t edgec_fully_connected_dot_s8(const int8_t *input_row,
                                                   const int8_t *filter_row, int32_t depth,
                                                   int32_t input_offset, int32_t filter_offset)
{
    int32_t acc = 0;
    int32_t d = 0;

    if (EDGEC_FULLY_CONNECTED_BLOCK > 0 && filter_offset == 0 && input_offset >= -128 &&
        input_offset <= 128) {
        for (; d + EDGEC_FULLY_CONNECTED_BLOCK <= depth; d += EDGEC_FULLY_CONNECTED_BLOCK) {
            int32_t j;

            for (j = 0; j < EDGEC_FULLY_CONNECTED_BLOCK; j++) {
                acc += filter_row[d + j] * (int16_t)(input_row[d + j] + input_offset);
            }
        }
    }
    for (; d < depth; d++) {
        acc += (filter_row[d] + filter_offset) * (input_row[d] + input_offset);
    }
    return acc;
}

/*
 * Returns sum over the groups g of multipliers[g] * acc_g, where acc_g sums
 * q_d * (input_row[d] + input_offset) over the d of group g and q_d is value d of the
 * packed int4 filter_row. With `multipliers` NULL the row is one group with multiplier 1.
 * The compiler rejects a layer whose bound 255 * sum_d m_g(d) * |q_d| exceeds INT32_MAX
 * (edgec.lower.params), and every partial sum here is below that bound.
 */
static inline int32_t edgec_fully_connected_dot_s4(const int8_t *input_row,
                                                   const uint8_t *filter_row, int32_t depth,
                                                   int32_t input_offset, int32_t group_size,
                                                   const uint8_t *multipliers)
{
    int32_t total = 0;
    int32_t start;
    int32_t end;

    for (start = 0; start < depth; start = end) {
        const int32_t multiplier =
            multipliers != NULL ? (int32_t)multipliers[start / group_size] : 1;
        int32_t acc = 0;
        int32_t d;

        end = depth - start <= group_size ? depth : start + group_size;

        for (d = start; d < end; d++) {
            acc += edgec_int4_value(filter_row, d) * (input_row[d] + input_offset);
        }
        total += multiplier * acc;
    }
    return total;
}

/*
 * Returns the output value of accumulator acc for output channel out_c: the bias added
 * modulo 2^32, requantized with the channel's multiplier and shift, plus output_offset,
 * clamped to [activation_min, activation_max].
 */
static inline int32_t edgec_fully_connected_output(const edgec_fc_params *params,
                                                   const edgec_per_channel_quant *quant,
                                                   const int32_t *bias, int32_t out_c,
                                                   int32_t acc)
{
    int32_t value;

    if (bias != NULL) {
        acc = edgec_add_wrap(acc, bias[out_c]);
    }
    value = edgec_multiply_by_quantized_multiplier(acc, quant->multipliers[out_c],
                                                   quant->shifts[out_c]);
    return edgec_offset_and_clamp(value, params->output_offset, params->activation_min,
                                  params->activation_max);
}

/* Stores value at index of the one output that is not NULL (int8 or int16). */
static inline void edgec_fully_connected_store(int8_t *output_s8, int16_t *output_s16,
                                               size_t index, int32_t value)
{
    if (output_s8 != NULL) {
        output_s8[index] = (int8_t)value;
    } else {
        output_s16[index] = (int16_t)value;
    }
}

/*
 * Computes output [rows, output_depth] from input [rows, input_depth] and the int8 filter
 * [output_depth, input_depth], into output_s8 or output_s16 (the other one is NULL).
 */
static inline void edgec_fully_connected_rows_s8(const edgec_fc_params *params,
                                                 const edgec_per_channel_quant *quant,
                                                 int32_t rows, int32_t input_depth,
                                                 const int8_t *input, int32_t output_depth,
                                                 const int8_t *filter, const int32_t *bias,
                                                 int8_t *output_s8, int16_t *output_s16)
{
    int32_t out_c;
    int32_t row;

    for (out_c = 0; out_c < output_depth; out_c++) {
        const int8_t *filter_row = filter + (size_t)out_c * (size_t)input_depth;

        for (row = 0; row < rows; row++) {
            const int32_t acc = edgec_fully_connected_dot_s8(
                input + (size_t)row * (size_t)input_depth, filter_row, input_depth,
                params->input_offset, params->filter_offset);

            edgec_fully_connected_store(
                output_s8, output_s16, (size_t)row * (size_t)output_depth + (size_t)out_c,
                edgec_fully_connected_output(params, quant, bias, out_c, acc));
        }
    }
}

/*
 * Computes output [rows, output_depth] as edgec_fully_connected_rows_s8 does, from the
 * packed int4 filter (kernels.h) with group_size >= 1 and group_multipliers, or NULL for a
 * per-channel filter.
 */
static inline void edgec_fully_connected_rows_s4(const edgec_fc_params *params,
                                                 const edgec_per_channel_quant *quant,
                                                 int32_t rows, int32_t input_depth,
                                                 const int8_t *input, int32_t output_depth,
                                                 const uint8_t *filter, int32_t group_size,
                                                 const uint8_t *group_multipliers,
                                                 const int32_t *bias, int8_t *output_s8,
                                                 int16_t *output_s16)
{
    const size_t row_bytes = (size_t)(input_depth / 2 + input_depth % 2);
    int32_t group_count;
    int32_t out_c;
    int32_t row;

    if (group_multipliers == NULL) {
        group_size = input_depth; /* per channel: one group, multiplier 1 */
    }
    group_count = 1 + (input_depth - 1) / group_size; /* ceil(input_depth / group_size) */

    for (out_c = 0; out_c < output_depth; out_c++) {
        const uint8_t *filter_row = filter + (size_t)out_c * row_bytes;
        const uint8_t *multipliers =
            group_multipliers != NULL
                ? group_multipliers + (size_t)out_c * (size_t)group_count
                : NULL;

        for (row = 0; row < rows; row++) {
            const int32_t acc = edgec_fully_connected_dot_s4(
                input + (size_t)row * (size_t)input_depth, filter_row, input_depth,
                params->input_offset, group_size, multipliers);

            edgec_fully_connected_store(
                output_s8, output_s16, (size_t)row * (size_t)output_depth + (size_t)out_c,
                edgec_fully_connected_output(params, quant, bias, out_c, acc));
        }
    }
}

#endif /* EDGEC_KERNELS_FULLY_CONNECTED_CORE_H */
