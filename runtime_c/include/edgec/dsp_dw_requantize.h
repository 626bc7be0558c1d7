/*
 * edgec runtime: per-channel requantization of the DSP depthwise kernels (and of
 * add_s8_dsp's output).
 *
 * A depthwise output sums only filter_h * filter_w products, so the step-by-step
 * requantization of fixed_point.h (shift, doubling high multiply, rounding divide, offset,
 * clamp) would cost more instructions than the multiply-accumulates. For the usual
 * parameters the kernels get the same value from one SMMLAR (or SMMLA), one shift and one
 * saturation. The accumulator must contain twice the sum, so the depthwise kernels double
 * the weights and the bias, and add_s8_dsp its tabulated inputs:
 *
 * Let x be the int32 accumulator with |x| < 2^30, m >= 0 the multiplier, s in [-22, -1] the
 * shift (a right shift r = -s), z in [-128, 128] the output offset, and
 * h = floor((x * m + 2^30) / 2^31). Then
 *
 *   edgec_multiply_by_quantized_multiplier(x, m, s) + z
 *     = floor((h + 2^(r-1) - [h < 0]) / 2^r) + z                      (double rounding)
 *     = floor((h + A) / 2^r),  A = 2^(r-1) + z * 2^r - [x < 0]
 *     = floor(floor((A * 2^32 + 2x * m + 2^31) / 2^32) / 2^r)
 *     = SMMLAR(2x, m, A) >> r
 *
 * h is the doubling high multiply of fixed_point.h (its saturating case needs
 * m == INT32_MIN) and the rounding divide rounds half away from zero. A is an integer, so
 * it moves inside the floors. [h < 0] may be replaced by [x < 0]: x < 0 gives h <= 0, and
 * for h == 0 both choices give 0 when r >= 1. SMMLAR(a, b, c) is the high word of
 * c * 2^32 + a * b + 2^31, that is floor((c * 2^32 + a * b + 2^31) / 2^32), exact here
 * because |A| < 2^30 and |2x * m| < 2^62 keep the sum inside int64.
 *
 * With EDGEC_SINGLE_ROUNDING the value is floor((x * m + 2^(30+r) + z * 2^(31+r)) / 2^(31+r))
 * (31 - s >= 32, so fixed_point.h never saturates the quotient), which is
 * SMMLA(2x, m, 2^(r-1) + z * 2^r) >> r with the truncating SMMLA.
 *
 * Channels outside that range (left shifts, shift 0, shifts below -22, output offsets
 * outside [-128, 128], biases that could push |x| to 2^30) use edgec_dsp_dw_requantize_exact,
 * which is fixed_point.h itself. The variant tests cover shifts -1, -8, -21 and -22 on the
 * fast form and the fallback beyond them. Only compilers with the ACLE build these files;
 * they shift negative signed values arithmetically, which the code below relies on.
 */
#ifndef EDGEC_DSP_DW_REQUANTIZE_H
#define EDGEC_DSP_DW_REQUANTIZE_H

#include <stdint.h>

#include <arm_acle.h>

#include "edgec/fixed_point.h"

/* A channel of a 3x3 window is on the fast path when |bias| is below this: 2^30 minus the
 * largest sum of 9 products of int8 values (9 * 128 * 128), so that |x| < 2^30. */
#define EDGEC_DSP_DW_FAST_BIAS_LIMIT_3X3 (1073741824 - 147456)

/* Requantization constants of one output channel. */
typedef struct {
    int32_t addend;     /* 2^(r-1) + z * 2^r: A without its sign term */
    int32_t multiplier; /* m, the Q31 multiplier */
    int32_t shift;      /* r, the right shift after the multiply */
} edgec_dsp_dw_requant;

/* Returns whether the SMMLAR form above is exact for a channel's multiplier, shift and
 * output offset (the kernel checks the bias bound itself). */
static inline int edgec_dsp_dw_requant_fits(int32_t multiplier, int32_t shift,
                                            int32_t output_offset)
{
    return multiplier >= 0 && shift >= -22 && shift <= -1 && output_offset >= -128 &&
           output_offset <= 128;
}

/* Fills *record for a channel accepted by edgec_dsp_dw_requant_fits. */
static inline void edgec_dsp_dw_requant_init(edgec_dsp_dw_requant *record, int32_t multiplier,
                                             int32_t shift, int32_t output_offset)
{
    const int32_t right_shift = -shift;

    record->addend = (int32_t)(((int64_t)1 << (right_shift - 1)) +
                               (int64_t)output_offset * ((int64_t)1 << right_shift));
    record->multiplier = multiplier;
    record->shift = right_shift;
}

/* The high word of acc * 2^32 + a * b + 2^31 (SMMLAR). */
static inline int32_t edgec_dsp_smmlar(int32_t a, int32_t b, int32_t acc)
{
    int32_t high;

    __asm__("smmlar %0, %1, %2, %3" : "=r"(high) : "r"(a), "r"(b), "r"(acc));
    return high;
}

/* The high word of acc * 2^32 + a * b (SMMLA). */
static inline int32_t edgec_dsp_smmla(int32_t a, int32_t b, int32_t acc)
{
    int32_t high;

    __asm__("smmla %0, %1, %2, %3" : "=r"(high) : "r"(a), "r"(b), "r"(acc));
    return high;
}

/*
 * Returns edgec_multiply_by_quantized_multiplier(x, m, s) + z for twice_acc = 2x, from a
 * record of edgec_dsp_dw_requant_init, without saturation: the formula above (SMMLAR and
 * ASR, and one ADD for the sign term of double rounding).
 */
static inline int32_t edgec_dsp_dw_multiply(int32_t twice_acc, const edgec_dsp_dw_requant *record)
{
#if EDGEC_SINGLE_ROUNDING
    return edgec_dsp_smmla(twice_acc, record->multiplier, record->addend) >> record->shift;
#else
    /* A = addend - [x < 0]: twice_acc >> 31 is -1 for a negative accumulator, else 0. */
    return edgec_dsp_smmlar(twice_acc, record->multiplier,
                            record->addend + (twice_acc >> 31)) >> record->shift;
#endif
}

/*
 * Returns the requantized value of the accumulator x given as twice_acc = 2x, plus the
 * output offset, saturated to [-128, 127]: edgec_dsp_dw_multiply and SSAT.
 */
static inline int32_t edgec_dsp_dw_requantize(int32_t twice_acc,
                                              const edgec_dsp_dw_requant *record)
{
    return __ssat(edgec_dsp_dw_multiply(twice_acc, record), 8);
}

/* Returns fixed_point.h's requantization of acc, offset and clamped: the general path. */
static inline int32_t edgec_dsp_dw_requantize_exact(int32_t acc, int32_t multiplier,
                                                    int32_t shift, int32_t output_offset,
                                                    int32_t activation_min,
                                                    int32_t activation_max)
{
    return edgec_offset_and_clamp(edgec_multiply_by_quantized_multiplier(acc, multiplier, shift),
                                  output_offset, activation_min, activation_max);
}

#endif /* EDGEC_DSP_DW_REQUANTIZE_H */
