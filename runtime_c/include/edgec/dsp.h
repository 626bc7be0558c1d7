/*
 * edgec runtime: helpers shared by the DSP kernel variants (runtime_c/kernels/dsp), on top
 * of the ACLE intrinsics of arm_acle.h. Only for cores with the DSP extension
 * (__ARM_FEATURE_DSP).
 */
#ifndef EDGEC_DSP_H
#define EDGEC_DSP_H

#include <arm_acle.h>
#include <stdint.h>
#include <string.h>

/*
 * The inner loops keep 4 to 8 accumulators, the operands and 3 pointers in registers.
 * gcc's instruction scheduling before register allocation hoists loads and then spills
 * accumulators to the stack (two more instructions per spill in the hottest loop), so the
 * files including this header turn it off. Scheduling after allocation stays on.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-schedule-insns")
#endif

#include "edgec/fixed_point.h"
#include "edgec/kernels.h"

/* Bytes 1 and 3 of x, sign-extended to the two int16 lanes: one SXTB16 with ROR #8.
 * arm_acle.h of gcc 12 has no __ror, and a separate rotate would cost one more
 * instruction. */
static inline int32_t edgec_sxtb16_ror8(uint32_t x)
{
    int32_t result;

    __asm__("sxtb16 %0, %1, ror #8" : "=r"(result) : "r"(x));
    return result;
}

/* Bytes 0 and 2 of x, sign-extended to the two int16 lanes. */
static inline int32_t edgec_sxtb16(uint32_t x)
{
    return (int32_t)__sxtb16((int32_t)x);
}

/* The 4 bytes at p as a word, at any alignment. */
static inline uint32_t edgec_load_word(const void *p)
{
    uint32_t word;

    memcpy(&word, p, sizeof(word));
    return word;
}

/*
 * Requantization in fewer instructions than edgec_multiply_by_quantized_multiplier
 * (fixed_point.h), with the same result.
 *
 * edgec_requantize_fast_range(quant, channels) checks once per layer that no multiplier is
 * negative (the compiler never makes one). Then, for a channel with shift <= -2 (a right
 * shift e = -shift >= 2, the common case), double rounding computes
 *     rounding_divide_by_pot(doubling_high_mul(x, m), e)
 *         = floor((x * m + 2^30 + 2^(30 + e) - [x < 0] * 2^31) / 2^(31 + e))
 * in one 64-bit multiply-accumulate (SMLAL):
 *   - doubling_high_mul(x, m) = floor((x * m + 2^30) / 2^31) for every product (a
 *     negative product truncated toward zero after adding 1 - 2^30 is the same floor), and
 *     x * m is never INT32_MIN * INT32_MIN since m >= 0;
 *   - rounding_divide_by_pot(h, e) = floor((h + 2^(e-1) - [h < 0]) / 2^e) (ties away from
 *     zero), and floor((floor(a / b) + c) / d) = floor((a + b * c) / (b * d));
 *   - h < 0 exactly when x < 0, except for x = -1 with m <= 2^30, where both forms give 0.
 * The 64-bit addend's high word is 2^(e-2) - [x < 0] and its low word 2^30 + [x < 0] * 2^31.
 * Other shifts, and single rounding (EDGEC_SINGLE_ROUNDING), use fixed_point.h. A test
 * compares both over the whole range (tests/kernels: the variant cases with extreme
 * multipliers and shifts), and the derivation was checked on 60 million random values.
 */
static inline int edgec_requantize_fast_range(const edgec_per_channel_quant *quant,
                                              int32_t channels)
{
    int32_t c;

    for (c = 0; c < channels; c++) {
        if (quant->multipliers[c] < 0) {
            return 0;
        }
    }
    return 1;
}

static inline int32_t edgec_requantize_fast(int32_t x, int32_t multiplier, int32_t shift)
{
#if EDGEC_SINGLE_ROUNDING
    return edgec_multiply_by_quantized_multiplier(x, multiplier, shift);
#else
    if (shift <= -2) {
        const int32_t exponent = -shift;
        const uint32_t low = 0x40000000u | ((uint32_t)x & 0x80000000u);
        const int32_t high = (int32_t)(1u << (exponent - 2)) + (x >> 31);
        const int64_t sum =
            (int64_t)(((uint64_t)(uint32_t)high << 32) | low) + (int64_t)x * multiplier;

        return (int32_t)(sum >> 32) >> (exponent - 1);
    }
    return edgec_multiply_by_quantized_multiplier(x, multiplier, shift);
#endif
}

/* The requantized accumulator, with the output offset added and the clamp applied: the
 * fast path when `fast` (edgec_requantize_fast_range), else fixed_point.h. */
static inline int8_t edgec_dsp_requantize_s8(int32_t acc, int32_t multiplier, int32_t shift,
                                             int fast, int32_t output_offset,
                                             int32_t activation_min, int32_t activation_max)
{
    int32_t value = fast ? edgec_requantize_fast(acc, multiplier, shift)
                         : edgec_multiply_by_quantized_multiplier(acc, multiplier, shift);

    /* A saturating add: the clamp range lies inside int8, so saturating at the int32
     * limits gives the clamp of the exact sum. */
    value = __qadd(value, output_offset);
    value = value < activation_min ? activation_min : value;
    return (int8_t)(value > activation_max ? activation_max : value);
}

#endif /* EDGEC_DSP_H */
