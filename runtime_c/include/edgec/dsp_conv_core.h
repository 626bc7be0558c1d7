/*
 * edgec runtime: the parts shared by the DSP convolution variants conv2d_s8_1x1_dsp.c and
 * conv2d_s8_dsp.c (Armv7E-M and Armv8-M Mainline with the DSP extension).
 *
 * Both kernels compute blocks of DSP_CONV_BLOCK_PIXELS (4) consecutive output pixels, in
 * three steps:
 *   1. im2col: the K = filter_h * filter_w * input_depth input values of each pixel of the
 *      block are sign-extended to int16 into the column block in scratch. Taps outside the
 *      input get the input zero point, so the folded bias stays exact.
 *   2. For each output channel, one pass over its filter row multiplies it with the 4
 *      columns (dsp_conv_dot_4_pixels): 16 multiply-accumulates per group of 4 taps, in
 *      13 instructions.
 *   3. The 4 accumulators are requantized, clamped and stored.
 *
 * Layout of the column block: K is padded to a multiple of 4 (G = ceil(K / 4) groups).
 * Group g contains 8 words, 2 per pixel p. Let x0..x3 be the pixel's taps 4g..4g+3: word
 * g * 8 + p * 2 has the int16 lanes (x0, x2) and word g * 8 + p * 2 + 1 has (x1, x3), low
 * lane first. It is the order in which __sxtb16(v) and __sxtb16(v ror 8) split the
 * word v = (x0, x1, x2, x3) of int8 values, so a word of the int8 filter row, split the
 * same way, meets each tap with its own weight in two SMLAD instructions. Taps past K
 * keep whatever the scratch holds: their filter bytes are 0.
 *
 * Filter (the variant's arrange_filter in compiler/edgec/lower/variants_dsp.py): one row
 * of G * 4 int8 values per output channel, the taps in OHWI order, zero-padded.
 *
 * Scratch (dsp_conv_scratch_bytes): the channel table, the column block, a tail buffer
 * for a last block of 2 or 3 pixels, and a staging row for the im2col of conv2d_s8_dsp.c.
 *
 * The inner loops, the multiply of the requantization and a few stores are GCC inline
 * assembly. GCC 12 -O2 compiles the same inner loop from C to about 21 instructions per
 * group instead of 13, because it loads the column words one at a time and spills
 * accumulators. Every other step is C. Input and filter words are read with unaligned
 * LDR, which Armv7-M and Armv8-M allow unless CCR.UNALIGN_TRP is set.
 */
#ifndef EDGEC_DSP_CONV_CORE_H
#define EDGEC_DSP_CONV_CORE_H

#include <arm_acle.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "edgec/fixed_point.h"
#include "edgec/kernel_checks.h"
#include "edgec/kernels.h"

/* Output pixels computed together: one accumulator each in the inner loop. */
#define DSP_CONV_BLOCK_PIXELS 4
/* Words of one group of 4 taps in the column block: 2 per pixel. */
#define DSP_CONV_GROUP_WORDS 8
/* Requantization paths of a channel (dsp_conv_channel.path). */
#define DSP_CONV_PATH_FAST 0         /* one SMLAL, output_offset folded into the rounding */
#define DSP_CONV_PATH_FAST_OFFSET 1  /* one SMLAL, output_offset added after the shift */
#define DSP_CONV_PATH_GENERIC 2      /* edgec_multiply_by_quantized_multiplier */
/* Smallest right shift of the fast requantization. With single rounding, a right shift of
 * 1 puts a rounding term in the low word, which SMMLA drops. */
#if EDGEC_SINGLE_ROUNDING
#define DSP_CONV_MIN_FAST_SHIFT 2
#else
#define DSP_CONV_MIN_FAST_SHIFT 1
#endif
/* Largest right shift with output_offset folded into the rounding term: with a larger
 * one, output_offset * 2^(31 + shift) could overflow int64. */
#define DSP_CONV_MAX_FOLDED_SHIFT 23
/* Largest right shift of the fast requantization: the rounding term stays below 2^62. */
#define DSP_CONV_MAX_FAST_SHIFT 31

/*
 * Requantization constants of one output channel, computed once per call.
 *
 * A channel whose multiplier is >= 0, whose right shift e = -shift lies in
 * [DSP_CONV_MIN_FAST_SHIFT, DSP_CONV_MAX_FAST_SHIFT] and whose output_offset lies in
 * [-128, 128] takes a fast path. With t = 31 + e, its requantized value is
 * floor((acc * multiplier + rounding) / 2^t) - correction, where acc already contains the
 * bias and rounding is:
 *   - single rounding: 2^(t - 1), with no correction;
 *   - double rounding (TFLite's default: a rounding doubling high multiply, then a
 *     rounding right shift with ties away from zero): 2^30 + 2^(t - 1). The first term
 *     rounds the high multiply (ties up), the second rounds the shift (ties up), and a
 *     correction of 0 or 1 turns a negative tie away from zero (see dsp_conv_requantize).
 * For e <= DSP_CONV_MAX_FOLDED_SHIFT, rounding also contains output_offset * 2^t, so the
 * quotient includes the offset (DSP_CONV_PATH_FAST). For larger e that term could
 * overflow int64, so the offset is added to the quotient (DSP_CONV_PATH_FAST_OFFSET).
 *
 * The product and the rounding term stay below 2^63 in magnitude, so their int64 sum is
 * exact. Because t >= 32, the quotient is the high word of the sum shifted right by
 * t - 32 = e - 1 (`shift`). A zero multiplier gives 0 for any shift, so it takes the fast
 * path with the smallest e. Other channels (left shifts, negative multipliers,
 * |output_offset| > 128) take DSP_CONV_PATH_GENERIC, the helpers of fixed_point.h.
 */
typedef struct {
    uint32_t rounding_low;  /* read together with rounding_high by one LDRD */
    int32_t rounding_high;
    int32_t bias;
    int32_t multiplier;
    int32_t shift;
    int32_t path;
} dsp_conv_channel;

/* The arguments of one call that the block loop needs. */
typedef struct {
    const int8_t *filter;
    int32_t groups;
    int32_t output_depth;
    const dsp_conv_channel *table;
    const edgec_per_channel_quant *quant;
    int32_t output_offset;
    int32_t activation_min;
    int32_t activation_max;
    int8_t *tail;    /* 4 * output_depth bytes for a last block of 2 or 3 pixels */
    int8_t *staging; /* 4 * groups + 4 bytes: one pixel's taps as int8 (conv2d_s8_dsp.c) */
} dsp_conv_layer;

/* Returns the scratch bytes of a call: the channel table, the column block of 4 pixels,
 * the tail buffer of 4 output pixels, then the staging row of one pixel's int8 taps. The
 * staging row has 4 bytes per group and 4 more for the word stores of conv2d_s8_dsp.c that
 * run past its end. */
static inline int32_t dsp_conv_scratch_bytes(int32_t output_depth, int32_t taps)
{
    const int32_t groups = (taps + 3) / 4;

    return output_depth * (int32_t)sizeof(dsp_conv_channel) +
           groups * DSP_CONV_GROUP_WORDS * (int32_t)sizeof(uint32_t) +
           DSP_CONV_BLOCK_PIXELS * output_depth + 4 * groups + 4;
}

/* Fills the channel table (see dsp_conv_channel); a NULL bias counts as zero. */
static inline void dsp_conv_prepare_channels(const edgec_conv_params *params,
                                             const edgec_per_channel_quant *quant,
                                             const int32_t *bias, int32_t output_depth,
                                             dsp_conv_channel *table)
{
    const int32_t output_offset = params->output_offset;
    int32_t channel;

    for (channel = 0; channel < output_depth; channel++) {
        dsp_conv_channel *entry = &table[channel];
        const int32_t multiplier = quant->multipliers[channel];
        const int32_t shift =
            multiplier == 0 ? -DSP_CONV_MIN_FAST_SHIFT : quant->shifts[channel];

        entry->bias = bias != NULL ? bias[channel] : 0;
        entry->multiplier = multiplier;
        entry->rounding_low = 0;
        entry->rounding_high = 0;
        entry->shift = 0;
        entry->path = DSP_CONV_PATH_GENERIC;
        if (multiplier >= 0 && shift <= -DSP_CONV_MIN_FAST_SHIFT &&
            shift >= -DSP_CONV_MAX_FAST_SHIFT && output_offset >= -128 && output_offset <= 128) {
            const int32_t total_shift = 31 - shift;
            int64_t rounding = (int64_t)1 << (total_shift - 1);

#if !EDGEC_SINGLE_ROUNDING
            rounding += (int64_t)1 << 30;
#endif
            entry->path = DSP_CONV_PATH_FAST_OFFSET;
            if (shift >= -DSP_CONV_MAX_FOLDED_SHIFT) {
                rounding += (int64_t)output_offset * ((int64_t)1 << total_shift);
                entry->path = DSP_CONV_PATH_FAST;
            }
            entry->rounding_low = (uint32_t)rounding;
            entry->rounding_high = (int32_t)edgec_shift_right_floor64(rounding, 32);
            entry->shift = -shift - 1;
        }
    }
}

/*
 * Returns the requantized value of acc, plus output_offset on DSP_CONV_PATH_FAST, before
 * the activation clamp, for a channel on a fast path (see dsp_conv_channel).
 *
 * Double rounding: let s be the rounding doubling high multiply of acc and the multiplier,
 * and u = s + 2^(e - 1) (plus output_offset * 2^e on DSP_CONV_PATH_FAST). The sum is
 * u * 2^31 plus a remainder below 2^31, so its high word is floor(u / 2) and bit 31 of its
 * low word is u mod 2. The result is floor(u / 2^e) for s >= 0, and floor((u - 1) / 2^e)
 * for s < 0, which rounds a negative tie away from zero. Subtracting 1 from u changes
 * floor(u / 2) only when u is even, that is when bit 31 of the low word is 0, and then
 * subtracting 1 from the high word does the same. s < 0 exactly when acc < 0, except for
 * s = 0 with acc < 0, where both results are equal (e >= 1 and the multiplier is >= 0).
 */
__attribute__((always_inline)) static inline int32_t
dsp_conv_requantize(int32_t acc, const dsp_conv_channel *channel)
{
    int32_t high;

#if EDGEC_SINGLE_ROUNDING
    /* The low word of the rounding term is 0 (e >= 2), so the high word of the sum is the
     * high word of the product plus that of the rounding term: one SMMLA. */
    __asm__("smmla %0, %1, %2, %3"
            : "=r"(high)
            : "r"(acc), "r"(channel->multiplier), "r"(channel->rounding_high));
#else
    uint32_t low;

    /* high:low = rounding + acc * multiplier in LDRD and SMLAL. GCC 12 compiles the int64
     * expression to a full 64-bit multiply when several outputs share the multiplier. */
    __asm__("ldrd  %0, %1, [%4]\n\t"
            "smlal %0, %1, %2, %3"
            : "=&r"(low), "=&r"(high)
            : "r"(acc), "r"(channel->multiplier), "r"(&channel->rounding_low),
              "m"(channel->rounding_low), "m"(channel->rounding_high));
    high -= (int32_t)(((uint32_t)acc & ~low) >> 31);
#endif
    return edgec_shift_right_floor(high, channel->shift);
}

/* Requantizes acc of output channel `channel` with the generic helpers, adds the output
 * offset and clamps. The slow path of the channels that the fast one does not cover. */
__attribute__((noinline, unused)) static int32_t
dsp_conv_requantize_generic(const dsp_conv_layer *layer, int32_t channel, int32_t acc)
{
    const int32_t value = edgec_multiply_by_quantized_multiplier(
        acc, layer->quant->multipliers[channel], layer->quant->shifts[channel]);

    return edgec_offset_and_clamp(value, layer->output_offset, layer->activation_min,
                                  layer->activation_max);
}

/* Sign-extends the int8 lanes 1 and 3 of value into two int16 lanes (SXTB16 ROR #8). */
static inline int32_t dsp_conv_sxtb16_ror8(uint32_t value)
{
    int32_t result;

    /* GCC 12's arm_acle.h has no __ror to fold into __sxtb16. */
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(result) : "r"(value));
    return result;
}

static inline uint32_t dsp_conv_load_word(const int8_t *source)
{
    uint32_t value;

    memcpy(&value, source, sizeof(value));
    return value;
}

/*
 * One group of 4 taps: the filter word is split into the weight lanes (w0, w2) and
 * (w1, w3), then each of the 4 pixels' two column words meets them in two SMLAD. The
 * column words are loaded 4 at a time with LDM into r4, r5, r6 and r8 (r7 is the frame
 * pointer in some builds, and r9 is reserved on some platforms).
 */
#define DSP_CONV_GROUP_STEP                              \
    "ldr     %[weights], [%[filter]], #4\n\t"            \
    "sxtb16  %[odd], %[weights], ror #8\n\t"             \
    "sxtb16  %[weights], %[weights]\n\t"                 \
    "ldmia   %[columns]!, {r4, r5, r6, r8}\n\t"          \
    "smlad   %[acc0], r4, %[weights], %[acc0]\n\t"       \
    "smlad   %[acc0], r5, %[odd], %[acc0]\n\t"           \
    "smlad   %[acc1], r6, %[weights], %[acc1]\n\t"       \
    "smlad   %[acc1], r8, %[odd], %[acc1]\n\t"           \
    "ldmia   %[columns]!, {r4, r5, r6, r8}\n\t"          \
    "smlad   %[acc2], r4, %[weights], %[acc2]\n\t"       \
    "smlad   %[acc2], r5, %[odd], %[acc2]\n\t"           \
    "smlad   %[acc3], r6, %[weights], %[acc3]\n\t"       \
    "smlad   %[acc3], r8, %[odd], %[acc3]\n\t"

/*
 * *acc_p += sum over the groups of filter row * column p (p = 0..3), modulo 2^32 like the
 * reference's int32 sum. *filter advances past the row. The first loop runs 4 groups per
 * turn (54 instructions for 64 multiply-accumulates), the second the remaining groups one
 * at a time. One assembly statement contains both loops, so that the accumulators stay in
 * the same registers.
 */
__attribute__((always_inline)) static inline void
dsp_conv_dot_4_pixels(const int8_t **filter, const uint32_t *columns, int32_t groups,
                      int32_t *acc_0, int32_t *acc_1, int32_t *acc_2, int32_t *acc_3)
{
    const int8_t *row = *filter;
    int32_t acc0 = *acc_0;
    int32_t acc1 = *acc_1;
    int32_t acc2 = *acc_2;
    int32_t acc3 = *acc_3;
    int32_t count = groups;
    uint32_t weights;
    uint32_t odd;

#if defined(__OPTIMIZE__)
    /* count runs 4 below the groups still to do while the first loop runs. */
    __asm__ volatile("subs    %[count], %[count], #4\n\t"
                     "bmi     3f\n\t"
                     "1:\n\t"
                     DSP_CONV_GROUP_STEP DSP_CONV_GROUP_STEP
                     DSP_CONV_GROUP_STEP DSP_CONV_GROUP_STEP
                     "subs    %[count], %[count], #4\n\t"
                     "bpl     1b\n\t"
                     "3:\n\t"
                     "adds    %[count], %[count], #4\n\t"
                     "beq     4f\n\t"
                     "2:\n\t"
                     DSP_CONV_GROUP_STEP
                     "subs    %[count], %[count], #1\n\t"
                     "bne     2b\n\t"
                     "4:\n\t"
                     : [acc0] "+r"(acc0), [acc1] "+r"(acc1), [acc2] "+r"(acc2),
                       [acc3] "+r"(acc3), [filter] "+r"(row), [columns] "+r"(columns),
                       [count] "+r"(count), [weights] "=&r"(weights), [odd] "=&r"(odd)
                     :
                     : "r4", "r5", "r6", "r8", "cc", "memory");
#else
    /* Without optimization the frame pointer takes a register, and GCC 12 finds no room
     * for the operands above on some cores: the same sums in C. */
    for (; count > 0; count--, columns += DSP_CONV_GROUP_WORDS, row += 4) {
        const uint32_t value = dsp_conv_load_word(row);

        weights = (uint32_t)__sxtb16((int32_t)value);
        odd = (uint32_t)dsp_conv_sxtb16_ror8(value);
        acc0 = __smlad((int32_t)columns[1], (int32_t)odd,
                       __smlad((int32_t)columns[0], (int32_t)weights, acc0));
        acc1 = __smlad((int32_t)columns[3], (int32_t)odd,
                       __smlad((int32_t)columns[2], (int32_t)weights, acc1));
        acc2 = __smlad((int32_t)columns[5], (int32_t)odd,
                       __smlad((int32_t)columns[4], (int32_t)weights, acc2));
        acc3 = __smlad((int32_t)columns[7], (int32_t)odd,
                       __smlad((int32_t)columns[6], (int32_t)weights, acc3));
    }
#endif
    *acc_0 = acc0;
    *acc_1 = acc1;
    *acc_2 = acc2;
    *acc_3 = acc3;
    *filter = row;
}

/* One group of 4 taps of one pixel: the pixel's two column words (LDRD), then on to the
 * same pixel's words in the next group, 32 bytes (DSP_CONV_GROUP_WORDS words) on. */
#define DSP_CONV_PIXEL_GROUP_STEP                          \
    "ldr     %[weights], [%[filter]], #4\n\t"              \
    "ldrd    %[even], %[odd], [%[column]], #32\n\t"        \
    "sxtb16  %[lanes], %[weights]\n\t"                     \
    "smlad   %[acc], %[even], %[lanes], %[acc]\n\t"        \
    "sxtb16  %[lanes], %[weights], ror #8\n\t"             \
    "smlad   %[acc], %[odd], %[lanes], %[acc]\n\t"

/*
 * *acc += sum over the groups of filter row * one pixel's column, like
 * dsp_conv_dot_4_pixels for a single column: 6 instructions per group of 4 taps, 4
 * groups per loop turn. LDRD needs the column word-aligned, as scratch is.
 */
__attribute__((always_inline)) static inline void
dsp_conv_dot_1_pixel(const int8_t **filter, const uint32_t *column, int32_t groups,
                     int32_t *acc)
{
    const int8_t *row = *filter;
    int32_t sum = *acc;
    int32_t count = groups;
    uint32_t weights;
    uint32_t lanes;
    uint32_t even;
    uint32_t odd;

#if defined(__OPTIMIZE__)
    __asm__ volatile("subs    %[count], %[count], #4\n\t"
                     "bmi     3f\n\t"
                     "1:\n\t"
                     DSP_CONV_PIXEL_GROUP_STEP DSP_CONV_PIXEL_GROUP_STEP
                     DSP_CONV_PIXEL_GROUP_STEP DSP_CONV_PIXEL_GROUP_STEP
                     "subs    %[count], %[count], #4\n\t"
                     "bpl     1b\n\t"
                     "3:\n\t"
                     "adds    %[count], %[count], #4\n\t"
                     "beq     4f\n\t"
                     "2:\n\t"
                     DSP_CONV_PIXEL_GROUP_STEP
                     "subs    %[count], %[count], #1\n\t"
                     "bne     2b\n\t"
                     "4:\n\t"
                     : [acc] "+r"(sum), [filter] "+r"(row), [column] "+r"(column),
                       [count] "+r"(count), [weights] "=&r"(weights), [lanes] "=&r"(lanes),
                       [even] "=&r"(even), [odd] "=&r"(odd)
                     :
                     : "cc", "memory");
#else
    /* The same sums in C, like dsp_conv_dot_4_pixels without optimization. */
    for (; count > 0; count--, column += DSP_CONV_GROUP_WORDS, row += 4) {
        weights = dsp_conv_load_word(row);
        even = column[0];
        odd = column[1];
        lanes = (uint32_t)__sxtb16((int32_t)weights);
        sum = __smlad((int32_t)even, (int32_t)lanes, sum);
        lanes = (uint32_t)dsp_conv_sxtb16_ror8(weights);
        sum = __smlad((int32_t)odd, (int32_t)lanes, sum);
    }
#endif
    *acc = sum;
    *filter = row;
}

/* Stores the low bytes of value0..value3 at output[p * depth], p = 0..3. In assembly, so
 * that GCC keeps one output pointer instead of four that it spills. */
__attribute__((always_inline)) static inline void
dsp_conv_store_4_pixels(int8_t *output, int32_t depth, int32_t value0, int32_t value1,
                        int32_t value2, int32_t value3)
{
    int8_t *second_half;

    __asm__ volatile("add   %[second], %[output], %[depth], lsl #1\n\t"
                     "strb  %[value0], [%[output]]\n\t"
                     "strb  %[value1], [%[output], %[depth]]\n\t"
                     "strb  %[value2], [%[second]]\n\t"
                     "strb  %[value3], [%[second], %[depth]]\n\t"
                     : [second] "=&r"(second_half)
                     : [output] "r"(output), [depth] "r"(depth), [value0] "r"(value0),
                       [value1] "r"(value1), [value2] "r"(value2), [value3] "r"(value3)
                     : "memory");
}

/*
 * Computes every output channel of a block of 4 consecutive output pixels from the column
 * block and writes them to output (NHWC: pixel p, channel c at output[p * output_depth +
 * c]). The callers pass a constant full_range: 1 when the activation range is the whole
 * int8 range, so that one SSAT clamps.
 */
__attribute__((always_inline)) static inline void
dsp_conv_compute_block(const dsp_conv_layer *layer, const uint32_t *columns, int8_t *output,
                       int full_range)
{
    const int8_t *filter = layer->filter;
    const int32_t depth = layer->output_depth;
    const int32_t groups = layer->groups;
    const dsp_conv_channel *entry = layer->table;
    const dsp_conv_channel *end = entry + depth;

    for (; entry != end; entry++, output++) {
        int32_t acc0 = entry->bias;
        int32_t acc1 = acc0;
        int32_t acc2 = acc0;
        int32_t acc3 = acc0;

        dsp_conv_dot_4_pixels(&filter, columns, groups, &acc0, &acc1, &acc2, &acc3);
        if (entry->path == DSP_CONV_PATH_FAST) {
            acc0 = dsp_conv_requantize(acc0, entry);
            acc1 = dsp_conv_requantize(acc1, entry);
            acc2 = dsp_conv_requantize(acc2, entry);
            acc3 = dsp_conv_requantize(acc3, entry);
        } else if (entry->path == DSP_CONV_PATH_FAST_OFFSET) {
            acc0 = dsp_conv_requantize(acc0, entry) + layer->output_offset;
            acc1 = dsp_conv_requantize(acc1, entry) + layer->output_offset;
            acc2 = dsp_conv_requantize(acc2, entry) + layer->output_offset;
            acc3 = dsp_conv_requantize(acc3, entry) + layer->output_offset;
        } else {
            const int32_t channel = (int32_t)(entry - layer->table);

            acc0 = dsp_conv_requantize_generic(layer, channel, acc0);
            acc1 = dsp_conv_requantize_generic(layer, channel, acc1);
            acc2 = dsp_conv_requantize_generic(layer, channel, acc2);
            acc3 = dsp_conv_requantize_generic(layer, channel, acc3);
        }
        /* The generic path has clamped already; clamping again changes nothing. */
        if (full_range) {
            acc0 = __ssat(acc0, 8);
            acc1 = __ssat(acc1, 8);
            acc2 = __ssat(acc2, 8);
            acc3 = __ssat(acc3, 8);
        } else {
            acc0 = edgec_clamp(acc0, layer->activation_min, layer->activation_max);
            acc1 = edgec_clamp(acc1, layer->activation_min, layer->activation_max);
            acc2 = edgec_clamp(acc2, layer->activation_min, layer->activation_max);
            acc3 = edgec_clamp(acc3, layer->activation_min, layer->activation_max);
        }
        dsp_conv_store_4_pixels(output, depth, acc0, acc1, acc2, acc3);
    }
}

/* dsp_conv_compute_block for the whole int8 activation range, and for any other range.
 * Out of line: each contains the inner loop once, and the kernels call them once per block. */
__attribute__((noinline, unused)) static void
dsp_conv_compute_block_full_range(const dsp_conv_layer *layer, const uint32_t *columns,
                                  int8_t *output)
{
    dsp_conv_compute_block(layer, columns, output, 1);
}

__attribute__((noinline, unused)) static void
dsp_conv_compute_block_clamped(const dsp_conv_layer *layer, const uint32_t *columns,
                               int8_t *output)
{
    dsp_conv_compute_block(layer, columns, output, 0);
}

/*
 * Computes every output channel of the one output pixel whose column starts at `column`
 * and writes them to output. The last block of a call takes this path when it has a
 * single pixel: the 4-pixel loop would spend 3 quarters of its work on unused columns.
 */
__attribute__((noinline, unused)) static void
dsp_conv_compute_pixel(const dsp_conv_layer *layer, const uint32_t *column, int8_t *output)
{
    const int8_t *filter = layer->filter;
    int32_t channel;

    for (channel = 0; channel < layer->output_depth; channel++) {
        const dsp_conv_channel *entry = &layer->table[channel];
        int32_t acc = entry->bias;

        dsp_conv_dot_1_pixel(&filter, column, layer->groups, &acc);
        if (entry->path == DSP_CONV_PATH_GENERIC) {
            acc = dsp_conv_requantize_generic(layer, channel, acc);
        } else {
            acc = dsp_conv_requantize(acc, entry);
            if (entry->path == DSP_CONV_PATH_FAST_OFFSET) {
                acc += layer->output_offset;
            }
            acc = edgec_clamp(acc, layer->activation_min, layer->activation_max);
        }
        output[channel] = (int8_t)acc;
    }
}

/*
 * Computes the block of `pixels` (1..4) output pixels whose columns are ready and writes
 * them to output. A last block of 2 or 3 pixels is computed into the tail buffer, and only
 * its valid pixels are copied to output.
 */
static inline void dsp_conv_run_block(const dsp_conv_layer *layer, const uint32_t *columns,
                                      int8_t *output, int32_t pixels)
{
    int8_t *destination = pixels == DSP_CONV_BLOCK_PIXELS ? output : layer->tail;

    if (pixels == 1) {
        dsp_conv_compute_pixel(layer, columns, output);
        return;
    }
    if (layer->activation_min == -128 && layer->activation_max == 127) {
        dsp_conv_compute_block_full_range(layer, columns, destination);
    } else {
        dsp_conv_compute_block_clamped(layer, columns, destination);
    }
    if (destination != output) {
        memcpy(output, destination, (size_t)(pixels * layer->output_depth));
    }
}

/* Writes the int8 values of `value`, sign-extended, as the 4 taps of one group of a
 * pixel's column, and returns the column's next group. One STRD with post-increment:
 * GCC 12 writes the two words with two STR. */
__attribute__((always_inline)) static inline uint32_t *
dsp_conv_put_group(uint32_t *column, uint32_t value)
{
    const uint32_t even = (uint32_t)__sxtb16(value);
    const uint32_t odd = (uint32_t)dsp_conv_sxtb16_ror8(value);

    __asm__ volatile("strd  %[even], %[odd], [%[column]], %[step]"
                     : [column] "+r"(column)
                     : [even] "r"(even), [odd] "r"(odd),
                       [step] "i"(DSP_CONV_GROUP_WORDS * (int)sizeof(uint32_t))
                     : "memory");
    return column;
}

/* Writes int8 tap value `value` at tap index `tap` of the pixel whose column starts at
 * `column` (the pixel's words in group 0). */
static inline void dsp_conv_put_tap(uint32_t *column, int32_t tap, int32_t value)
{
    /* Halfword slot of tap j within its pixel's two words: j = 0, 1, 2, 3 -> 0, 2, 1, 3. */
    const int32_t j = tap & 3;
    const int32_t slot = ((j & 1) << 1) | (j >> 1);
    const int16_t half = (int16_t)value;

    memcpy((int16_t *)(void *)(column + (tap >> 2) * DSP_CONV_GROUP_WORDS) + slot, &half,
           sizeof(half));
}

/* Copies `count` int8 input values from `source` to the taps tap, tap + 1, ... of a
 * pixel's column: one word of 4 taps at a time where the taps start a group. */
static inline void dsp_conv_put_run(uint32_t *column, int32_t tap, const int8_t *source,
                                    int32_t count)
{
    uint32_t *words;

    while (count > 0 && (tap & 3) != 0) {
        dsp_conv_put_tap(column, tap++, *source++);
        count--;
    }
    words = column + (tap >> 2) * DSP_CONV_GROUP_WORDS;
    while (count >= 4) {
        const uint32_t value = dsp_conv_load_word(source);

        words = dsp_conv_put_group(words, value);
        source += 4;
        tap += 4;
        count -= 4;
    }
    while (count > 0) {
        dsp_conv_put_tap(column, tap++, *source++);
        count--;
    }
}

/* Sign-extends `words` words of int8 input values from `source` into a pixel's column,
 * from the group that `column` points at on. */
static inline void dsp_conv_put_words(uint32_t *column, const int8_t *source, int32_t words)
{
    while (words > 0) {
        const uint32_t value = dsp_conv_load_word(source);

        column = dsp_conv_put_group(column, value);
        source += 4;
        words--;
    }
}

/* Sign-extends `groups` words of int8 taps from `source` into a pixel's column. */
static inline void dsp_conv_expand_bytes(uint32_t *column, const int8_t *source,
                                         int32_t groups)
{
    int32_t group;

    for (group = 0; group < groups; group++) {
        const uint32_t value = dsp_conv_load_word(source + 4 * group);

        column = dsp_conv_put_group(column, value);
    }
}

/* Sets `count` taps from tap on of a pixel's column to `value` (the input zero point). */
static inline void dsp_conv_fill_run(uint32_t *column, int32_t tap, int32_t value,
                                     int32_t count)
{
    const uint32_t pair = ((uint32_t)value & 0xFFFFu) * 0x10001u;
    uint32_t *words;

    while (count > 0 && (tap & 3) != 0) {
        dsp_conv_put_tap(column, tap++, value);
        count--;
    }
    words = column + (tap >> 2) * DSP_CONV_GROUP_WORDS;
    while (count >= 4) {
        words[0] = pair;
        words[1] = pair;
        words += DSP_CONV_GROUP_WORDS;
        tap += 4;
        count -= 4;
    }
    while (count > 0) {
        dsp_conv_put_tap(column, tap++, value);
        count--;
    }
}

/* Returns whether the arguments are valid as the reference conv2d checks them, the call
 * has a scratch buffer aligned to 4 bytes (LDRD, LDM and STRD need it), and the filter
 * offset is the 0 that the folded bias needs. */
static inline int dsp_conv_arguments_valid(const edgec_conv_params *params,
                                           const edgec_dims *input_dims,
                                           const edgec_dims *filter_dims,
                                           const edgec_dims *output_dims, const void *scratch)
{
    if (scratch == NULL || ((uintptr_t)scratch & 3u) != 0 || params->filter_offset != 0) {
        return 0;
    }
    return edgec_conv_dims_valid(params, input_dims, filter_dims, output_dims) &&
           edgec_activation_range_s8_valid(params->activation_min, params->activation_max);
}

/* Fills the channel table and returns the layer description; *columns gets the column
 * block. Scratch is laid out as dsp_conv_scratch_bytes describes. */
static inline dsp_conv_layer dsp_conv_set_up(const edgec_conv_params *params,
                                             const edgec_per_channel_quant *quant,
                                             const int8_t *filter, const int32_t *bias,
                                             int32_t output_depth, int32_t taps,
                                             void *scratch, uint32_t **columns)
{
    dsp_conv_layer layer;
    dsp_conv_channel *table = (dsp_conv_channel *)scratch;

    layer.filter = filter;
    layer.groups = (taps + 3) / 4;
    layer.output_depth = output_depth;
    layer.table = table;
    layer.quant = quant;
    layer.output_offset = params->output_offset;
    layer.activation_min = params->activation_min;
    layer.activation_max = params->activation_max;
    *columns = (uint32_t *)(void *)(table + output_depth);
    layer.tail = (int8_t *)(void *)(*columns + layer.groups * DSP_CONV_GROUP_WORDS);
    layer.staging = layer.tail + DSP_CONV_BLOCK_PIXELS * output_depth;
    dsp_conv_prepare_channels(params, quant, bias, output_depth, table);
    return layer;
}

#endif /* EDGEC_DSP_CONV_CORE_H */
