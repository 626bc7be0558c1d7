/*
 * edgec runtime: Helium (MVE) requantization of four int32 accumulators at once, for the
 * kernels in runtime_c/kernels/mve. Include only where the extension exists.
 *
 * The result is bit-exact with edgec_add_wrap, edgec_multiply_by_quantized_multiplier and
 * edgec_offset_and_clamp of fixed_point.h, in both rounding modes:
 *
 * Double rounding (the default, TFLite's): the scalar form is a wrapping left shift by
 * max(shift, 0), a saturating rounding doubling high multiply, then a right shift by
 * e = max(-shift, 0) rounding ties away from zero. VSHL by a lane count shifts left with
 * wrap-around and gives 0 from 32 on, as edgec_shift_left_wrap does. VQRDMULH computes
 * floor((x * m + 2^30) / 2^31), saturated, which is the scalar helper's value for every
 * pair (its nudge 1 - 2^30 followed by truncation toward zero rounds negative products the
 * same way). VRSHL by -e computes floor((h + 2^(e-1)) / 2^e) without intermediate
 * overflow, which rounds ties up, so one is subtracted first from negative h when e > 0:
 * for h < 0, floor((h - 1 + 2^(e-1)) / 2^e) is h / 2^e rounded half away from zero. The
 * subtraction cannot overflow because VQRDMULH never returns INT32_MIN (|x * m| <= 2^62
 * and x * m = -2^62 needs x or m = 2^31). For e >= 32 both forms give 0 for every h other
 * than INT32_MIN. The shift counts are clamped to [0, 32] and [-63, 0] because VSHL and
 * VRSHL read only the low byte of a count.
 *
 * When activation_min >= output_offset, a negative h gives a result <= 0 with either tie
 * rounding, and the clamp raises both to activation_min, so the tie correction is skipped.
 *
 * Single rounding (EDGEC_SINGLE_ROUNDING=1): (x * m + 2^(t-1)) >> t with t = 31 - shift.
 * For shift <= -1, t = 31 + u with u = min(-shift, 31) >= 1, and with H = floor(x * m /
 * 2^31), which VQDMULH returns, floor((x * m + 2^(t-1)) / 2^t) equals floor((H + 2^(u-1)) /
 * 2^u), a VRSHL by -u: the low 31 bits of the product cannot carry into the rounded part.
 * VQDMULH saturates only for x = m = INT32_MIN, where the rounded quotient is the same. A
 * shift of 0 or more has no such two-instruction form: then the kernels requantize lane by
 * lane with the scalar helpers (EDGEC_MVE_REQUANT_SCALAR).
 *
 * A kernel picks one mode per call with edgec_mve_requant_mode and passes it as a constant
 * to the inlined loops, so that each copy contains only the instructions its mode needs.
 */
#ifndef EDGEC_MVE_REQUANTIZE_H
#define EDGEC_MVE_REQUANTIZE_H

#include <arm_mve.h>
#include <stdint.h>

#include "edgec/fixed_point.h"
#include "edgec/kernels.h"
#include "edgec/mve_copy.h"

/*
 * Requantization modes. Bit 0: the tie correction of negative values is skipped because
 * the clamp hides it. Bit 1: every shift is a plain right shift that VRSHL takes as it is
 * ([-63, 0] with double rounding, [-31, -1] with single rounding), so no left shift and no
 * clamping of shift counts is needed. EDGEC_MVE_REQUANT_SCALAR: lane by lane.
 */
#define EDGEC_MVE_REQUANT_TIES_CLAMPED 1
#define EDGEC_MVE_REQUANT_RIGHT_SHIFTS 2
#define EDGEC_MVE_REQUANT_SCALAR 4

/* Output offset and fused clamp of a requantizing kernel. */
typedef struct {
    int32_t output_offset;
    int32x4_t activation_min;
    int32x4_t activation_max;
} edgec_mve_output_stage;

/* Requantization parameters of four consecutive output channels, one per lane. */
typedef struct {
    int32x4_t bias;
    int32x4_t multiplier;
    int32x4_t left_shift;  /* unused in the right-shift modes and with single rounding */
    int32x4_t right_shift; /* minus the right shift, the count of a VRSHL */
} edgec_mve_channel_quant;

/* Returns the output stage of an offset and a clamp range. */
static inline edgec_mve_output_stage edgec_mve_make_output_stage(int32_t output_offset,
                                                                 int32_t activation_min,
                                                                 int32_t activation_max)
{
    edgec_mve_output_stage stage;

    stage.output_offset = output_offset;
    stage.activation_min = vdupq_n_s32(activation_min);
    stage.activation_max = vdupq_n_s32(activation_max);
    return stage;
}

/* Returns the requantization mode for `count` channel shifts, an output offset and a
 * clamp (see the file comment). */
static inline int edgec_mve_requant_mode(const int32_t *shifts, int32_t count,
                                         int32_t output_offset, int32_t activation_min)
{
#if EDGEC_SINGLE_ROUNDING
    const int32_t lowest = -31;
    const int32_t highest = -1;
#else
    const int32_t lowest = -63;
    const int32_t highest = 0;
#endif
    int mode = activation_min >= output_offset ? EDGEC_MVE_REQUANT_TIES_CLAMPED : 0;
    int right_shifts = 1;
    int32_t channel;

    for (channel = 0; channel < count; channel++) {
        if (shifts[channel] < lowest || shifts[channel] > highest) {
            right_shifts = 0;
        }
#if EDGEC_SINGLE_ROUNDING
        if (shifts[channel] > -1) {
            return EDGEC_MVE_REQUANT_SCALAR;
        }
#endif
    }
    return right_shifts ? mode | EDGEC_MVE_REQUANT_RIGHT_SHIFTS : mode;
}

/* Derives the shift counts of `mode` from the lanes' shifts. */
EDGEC_MVE_INLINE void edgec_mve_set_shifts(edgec_mve_channel_quant *q, int32x4_t shift,
                                           int mode)
{
    const int32x4_t zero = vdupq_n_s32(0);

    if (mode & EDGEC_MVE_REQUANT_RIGHT_SHIFTS) {
        q->left_shift = zero;
        q->right_shift = shift;
        return;
    }
#if EDGEC_SINGLE_ROUNDING
    q->left_shift = zero;
    q->right_shift = vmaxq_s32(vminq_s32(shift, zero), vdupq_n_s32(-31));
#else
    q->left_shift = vminq_s32(vmaxq_s32(shift, zero), vdupq_n_s32(32));
    q->right_shift = vmaxq_s32(vminq_s32(shift, zero), vdupq_n_s32(-63));
#endif
}

/* Loads the parameters of the four channels at bias, multipliers and shifts. */
EDGEC_MVE_INLINE edgec_mve_channel_quant edgec_mve_load_quant(const int32_t *bias,
                                                              const int32_t *multipliers,
                                                              const int32_t *shifts, int mode)
{
    edgec_mve_channel_quant q;

    q.bias = vldrwq_s32(bias);
    q.multiplier = vldrwq_s32(multipliers);
    edgec_mve_set_shifts(&q, vldrwq_s32(shifts), mode);
    return q;
}

/* Loads the parameters of the first `count` < 4 channels, as edgec_mve_load_quant does.
 * The other lanes read no memory and are 0. */
EDGEC_MVE_INLINE edgec_mve_channel_quant edgec_mve_load_quant_tail(const int32_t *bias,
                                                                   const int32_t *multipliers,
                                                                   const int32_t *shifts,
                                                                   int32_t count, int mode)
{
    const mve_pred16_t active = vctp32q((uint32_t)count);
    edgec_mve_channel_quant q;

    q.bias = vldrwq_z_s32(bias, active);
    q.multiplier = vldrwq_z_s32(multipliers, active);
    edgec_mve_set_shifts(&q, vldrwq_z_s32(shifts, active), mode);
    return q;
}

/* Adds the output offset and clamps, as edgec_offset_and_clamp: the saturating add gives
 * the same clamped value as the scalar int64 sum. */
EDGEC_MVE_INLINE int32x4_t edgec_mve_offset_and_clamp(int32x4_t value,
                                                      const edgec_mve_output_stage *stage)
{
    return vminq_s32(vmaxq_s32(vqaddq_n_s32(value, stage->output_offset),
                               stage->activation_min),
                     stage->activation_max);
}

/*
 * Returns clamp(multiply_by_quantized_multiplier(acc + bias) + output_offset) of each lane,
 * with the bias added modulo 2^32, in one of the vector modes.
 */
EDGEC_MVE_INLINE int32x4_t edgec_mve_requantize(int32x4_t acc, const edgec_mve_channel_quant *q,
                                                const edgec_mve_output_stage *stage, int mode)
{
    const int32x4_t sum = vaddq_s32(acc, q->bias);
    int32x4_t scaled;

#if EDGEC_SINGLE_ROUNDING
    (void)mode;
    scaled = vrshlq_s32(vqdmulhq_s32(sum, q->multiplier), q->right_shift);
#else
    int32x4_t high;

    if (mode & EDGEC_MVE_REQUANT_RIGHT_SHIFTS) {
        high = vqrdmulhq_s32(sum, q->multiplier);
    } else {
        high = vqrdmulhq_s32(vshlq_s32(sum, q->left_shift), q->multiplier);
    }
    if (!(mode & EDGEC_MVE_REQUANT_TIES_CLAMPED)) {
        /* -1 in the lanes where high < 0 and the right shift is positive. */
        high = vaddq_s32(high, vshrq_n_s32(vandq_s32(high, q->right_shift), 31));
    }
    scaled = vrshlq_s32(high, q->right_shift);
#endif
    return edgec_mve_offset_and_clamp(scaled, stage);
}

/* Requantization parameters of one output channel, applied to all four lanes (four
 * pixels of that channel). */
typedef struct {
    int32_t bias;
    int32_t multiplier;
    int32_t left_shift;  /* unused in the right-shift modes and with single rounding */
    int32_t right_shift; /* minus the right shift, the count of a VRSHL */
    int32_t shift;       /* the channel's shift as given, for EDGEC_MVE_REQUANT_SCALAR */
} edgec_mve_uniform_quant;

/* Returns the parameters of one channel (the scalar forms of edgec_mve_set_shifts). */
static inline edgec_mve_uniform_quant edgec_mve_uniform_quant_of(int32_t bias,
                                                                 int32_t multiplier,
                                                                 int32_t shift)
{
    edgec_mve_uniform_quant q;

    q.bias = bias;
    q.multiplier = multiplier;
    q.shift = shift;
#if EDGEC_SINGLE_ROUNDING
    q.left_shift = 0;
    q.right_shift = shift > 0 ? 0 : (shift < -31 ? -31 : shift);
#else
    q.left_shift = shift < 0 ? 0 : (shift > 32 ? 32 : shift);
    q.right_shift = shift > 0 ? 0 : (shift < -63 ? -63 : shift);
#endif
    return q;
}

/*
 * Returns multiply_by_quantized_multiplier(x) of each lane with one multiplier and shift
 * for all four lanes, in one of the vector modes (not EDGEC_MVE_REQUANT_SCALAR). The
 * bias and the clamp are the caller's.
 */
EDGEC_MVE_INLINE int32x4_t edgec_mve_scale_uniform(int32x4_t x, const edgec_mve_uniform_quant *q,
                                                   int mode)
{
#if EDGEC_SINGLE_ROUNDING
    (void)mode;
    return vrshlq_n_s32(vqdmulhq_n_s32(x, q->multiplier), q->right_shift);
#else
    int32x4_t high;

    if (mode & EDGEC_MVE_REQUANT_RIGHT_SHIFTS) {
        high = vqrdmulhq_n_s32(x, q->multiplier);
    } else {
        high = vqrdmulhq_n_s32(vshlq_r_s32(x, q->left_shift), q->multiplier);
    }
    if (!(mode & EDGEC_MVE_REQUANT_TIES_CLAMPED)) {
        high = vaddq_s32(high, vshrq_n_s32(vandq_s32(high, vdupq_n_s32(q->right_shift)), 31));
    }
    return vrshlq_n_s32(high, q->right_shift);
#endif
}

/* As edgec_mve_requantize with one channel's parameters for all four lanes. */
EDGEC_MVE_INLINE int32x4_t edgec_mve_requantize_uniform(int32x4_t acc,
                                                        const edgec_mve_uniform_quant *q,
                                                        const edgec_mve_output_stage *stage,
                                                        int mode)
{
    const int32x4_t sum = vaddq_n_s32(acc, q->bias);

    if (mode == EDGEC_MVE_REQUANT_SCALAR) {
        const int32_t activation_min = vgetq_lane_s32(stage->activation_min, 0);
        const int32_t activation_max = vgetq_lane_s32(stage->activation_max, 0);
        int32_t values[4];
        int32_t lane;

        vst1q_s32(values, sum);
        for (lane = 0; lane < 4; lane++) {
            values[lane] = edgec_offset_and_clamp(
                edgec_multiply_by_quantized_multiplier(values[lane], q->multiplier, q->shift),
                stage->output_offset, activation_min, activation_max);
        }
        return vld1q_s32(values);
    }
    return edgec_mve_offset_and_clamp(edgec_mve_scale_uniform(sum, q, mode), stage);
}

/*
 * The scalar form of edgec_mve_requantize for the first `count` lanes (the others are 0),
 * with each lane's bias, multiplier and shift at bias[lane], multipliers[lane] and
 * shifts[lane]: the EDGEC_MVE_REQUANT_SCALAR mode.
 */
static inline int32x4_t edgec_mve_requantize_lanes(int32x4_t acc, const int32_t *bias,
                                                   const int32_t *multipliers,
                                                   const int32_t *shifts, int32_t count,
                                                   const edgec_mve_output_stage *stage)
{
    const int32_t activation_min = vgetq_lane_s32(stage->activation_min, 0);
    const int32_t activation_max = vgetq_lane_s32(stage->activation_max, 0);
    int32_t values[4];
    int32_t lane;

    vst1q_s32(values, acc);
    for (lane = 0; lane < 4; lane++) {
        if (lane < count) {
            const int32_t scaled = edgec_multiply_by_quantized_multiplier(
                edgec_add_wrap(values[lane], bias[lane]), multipliers[lane], shifts[lane]);

            values[lane] = edgec_offset_and_clamp(scaled, stage->output_offset, activation_min,
                                                  activation_max);
        } else {
            values[lane] = 0;
        }
    }
    return vld1q_s32(values);
}

/*
 * Requantizes four channels of one pixel and stores the first `count` of them as int8 at
 * `output`: in a vector `mode` with `q`, or lane by lane with the channels' parameters at
 * bias, multipliers and shifts (EDGEC_MVE_REQUANT_SCALAR).
 */
EDGEC_MVE_INLINE void edgec_mve_requantize_store(int8_t *output, int32x4_t acc,
                                                 const edgec_mve_channel_quant *q,
                                                 const int32_t *bias, const int32_t *multipliers,
                                                 const int32_t *shifts, int32_t count,
                                                 const edgec_mve_output_stage *stage, int mode)
{
    int32x4_t result;

    if (mode == EDGEC_MVE_REQUANT_SCALAR) {
        result = edgec_mve_requantize_lanes(acc, bias, multipliers, shifts, count, stage);
    } else {
        result = edgec_mve_requantize(acc, q, stage, mode);
    }
    if (count == 4) {
        vstrbq_s32(output, result);
    } else {
        vstrbq_p_s32(output, result, vctp32q((uint32_t)count));
    }
}

/* Loads the parameters of `count` <= 4 channels in a vector `mode` (nothing for
 * EDGEC_MVE_REQUANT_SCALAR). */
EDGEC_MVE_INLINE edgec_mve_channel_quant edgec_mve_load_block_quant(const int32_t *bias,
                                                                    const int32_t *multipliers,
                                                                    const int32_t *shifts,
                                                                    int32_t count, int mode)
{
    edgec_mve_channel_quant q;

    if (mode == EDGEC_MVE_REQUANT_SCALAR) {
        q.bias = vdupq_n_s32(0);
        q.multiplier = q.bias;
        q.left_shift = q.bias;
        q.right_shift = q.bias;
        return q;
    }
    if (count == 4) {
        return edgec_mve_load_quant(bias, multipliers, shifts, mode);
    }
    return edgec_mve_load_quant_tail(bias, multipliers, shifts, count, mode);
}

/*
 * Requantizes the `channels` consecutive sums of one pixel (or fully connected row) and
 * stores them at output. `mode` must be a constant (edgec_mve_requant_mode).
 */
EDGEC_MVE_INLINE void edgec_mve_requantize_row(const int32_t *sums, const int32_t *bias,
                                               const edgec_per_channel_quant *quant,
                                               int32_t channels,
                                               const edgec_mve_output_stage *stage, int mode,
                                               int8_t *output)
{
    /* Walking pointers, because the int8 stores below may alias *quant. */
    const int32_t *multipliers = quant->multipliers;
    const int32_t *shifts = quant->shifts;
    const int32_t tail = channels % 4;
    int32_t blocks = channels / 4;
    edgec_mve_channel_quant q;

    for (; blocks > 0; blocks--) {
        q = edgec_mve_load_block_quant(bias, multipliers, shifts, 4, mode);
        edgec_mve_requantize_store(output, vldrwq_s32(sums), &q, bias, multipliers, shifts, 4,
                                   stage, mode);
        sums += 4;
        bias += 4;
        multipliers += 4;
        shifts += 4;
        output += 4;
    }
    if (tail > 0) {
        q = edgec_mve_load_block_quant(bias, multipliers, shifts, tail, mode);
        edgec_mve_requantize_store(output, vldrwq_s32(sums), &q, bias, multipliers, shifts,
                                   tail, stage, mode);
    }
}

/* Calls `call` (a function-like macro of one constant mode) with the run-time `mode` as a
 * constant, so that each requantization mode gets its own inlined copy. */
#define EDGEC_MVE_DISPATCH_MODE(mode, call)                                              \
    do {                                                                                \
        switch (mode) {                                                                 \
        case 0:                                                                         \
            call(0);                                                                    \
            break;                                                                      \
        case EDGEC_MVE_REQUANT_TIES_CLAMPED:                                            \
            call(EDGEC_MVE_REQUANT_TIES_CLAMPED);                                       \
            break;                                                                      \
        case EDGEC_MVE_REQUANT_RIGHT_SHIFTS:                                            \
            call(EDGEC_MVE_REQUANT_RIGHT_SHIFTS);                                       \
            break;                                                                      \
        case EDGEC_MVE_REQUANT_RIGHT_SHIFTS | EDGEC_MVE_REQUANT_TIES_CLAMPED:           \
            call(EDGEC_MVE_REQUANT_RIGHT_SHIFTS | EDGEC_MVE_REQUANT_TIES_CLAMPED);      \
            break;                                                                      \
        default:                                                                        \
            call(EDGEC_MVE_REQUANT_SCALAR);                                             \
            break;                                                                      \
        }                                                                               \
    } while (0)

#endif /* EDGEC_MVE_REQUANTIZE_H */
