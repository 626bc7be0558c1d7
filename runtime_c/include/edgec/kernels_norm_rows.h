/*
 * edgec runtime: the integer steps of layer normalization shared by the layer_norm kernels
 * (edgec_layer_norm_s8, _s16, _s8_s16 and _s16_s16). They are the C form of
 * layer_norm_rows in compiler/edgec/reference/int_norm.py and return the same values for
 * every argument the kernels accept (kernels_norm.h lists the ranges).
 *
 * Per row, from S = sum x and Q = sum x^2 over the N = depth elements:
 *   V = N*Q - S^2, scaled by 4^k with the epsilon term into D in [2^59, 2^62];
 *   r = floor(sqrt(D)) and reciprocal = round(2^54 / r), the row's only division.
 * Per element: z = round((N*x - S) * reciprocal / 2^(30 - k)) is the normalized value in
 * Q24, and round((round(z * multiplier / 2^right_shift) + offset) / 2^16) the output,
 * clamped to the int8 or int16 range. All rounding is to nearest with ties toward
 * +infinity.
 */
#ifndef EDGEC_KERNELS_NORM_ROWS_H
#define EDGEC_KERNELS_NORM_ROWS_H

#include <stdint.h>

#include "edgec/fixed_point.h"
#include "edgec/kernels_norm.h"

#define EDGEC_LAYER_NORM_VARIANCE_BITS 61
#define EDGEC_LAYER_NORM_RECIPROCAL_BITS 54
#define EDGEC_LAYER_NORM_Q24_SHIFT 30 /* reciprocal bits minus the 24 bits of z */
#define EDGEC_LAYER_NORM_OFFSET_BITS 16
#define EDGEC_LAYER_NORM_MAX_RIGHT_SHIFT 62
#define EDGEC_LAYER_NORM_MAX_OFFSET ((int64_t)1 << 56)
#define EDGEC_LAYER_NORM_MIN_EPSILON_EXPONENT (-200)
#define EDGEC_LAYER_NORM_MAX_EPSILON_EXPONENT 30

/* round(value / 2^shift) with ties toward +infinity, for shift in [0, 62]. The caller keeps
 * |value| + 2^(shift - 1) below 2^63. */
static inline int64_t edgec_layer_norm_round_shift(int64_t value, int32_t shift)
{
    const int64_t half = ((int64_t)1 << shift) >> 1;

    return edgec_shift_right_floor64(value + half, shift);
}

/* Number of significant bits of value (0 for 0). */
static inline int32_t edgec_layer_norm_bit_length(uint64_t value)
{
    const uint32_t high = (uint32_t)(value >> 32);

    if (high != 0) {
        return 64 - edgec_count_leading_zeros32(high);
    }
    return 32 - edgec_count_leading_zeros32((uint32_t)value);
}

/* floor(sqrt(value)) for value <= 2^62, one result bit per step. */
static inline uint64_t edgec_layer_norm_integer_sqrt(uint64_t value)
{
    uint64_t root = 0;
    uint64_t bit = (uint64_t)1 << 62;

    while (bit > value) {
        bit >>= 2;
    }
    while (bit != 0) {
        if (value >= root + bit) {
            value -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    return root;
}

/* round(mantissa * 2^(exponent + shift)), ties up; 0 when exponent + shift <= -32, where
 * the value is below 1/2. */
static inline int64_t edgec_layer_norm_scaled_epsilon(int32_t mantissa, int32_t exponent,
                                                      int32_t shift)
{
    const int32_t total = exponent + shift;

    if (mantissa == 0 || total <= -32) {
        return 0;
    }
    if (total >= 0) {
        /* Below 2^62: k was chosen so that epsilon * 4^k < 2^62. */
        return (int64_t)mantissa << total;
    }
    return edgec_layer_norm_round_shift(mantissa, -total);
}

/*
 * Computes the row's reciprocal of sqrt(V + epsilon term) from V = N*Q - S^2 >= 0 and sets
 * *z_shift to 30 - k. The reciprocal is at most 2^24.5 because the scaled variance is at
 * least 2^59, and 0 when V = 0: every centered value is 0 then.
 */
static inline int32_t edgec_layer_norm_reciprocal(const edgec_layer_norm_params *params,
                                                  int64_t variance, int32_t *z_shift)
{
    int32_t length = edgec_layer_norm_bit_length((uint64_t)variance);
    int32_t k;
    uint64_t scaled;
    uint64_t root;

    if (params->epsilon_mantissa > 0 && 31 + params->epsilon_exponent > length) {
        length = 31 + params->epsilon_exponent;
    }
    /* length <= 61, so k >= 0, and (V + E) * 4^k lies in [2^59, 2^62). */
    k = (EDGEC_LAYER_NORM_VARIANCE_BITS - length) / 2;
    *z_shift = EDGEC_LAYER_NORM_Q24_SHIFT - k;
    if (variance == 0) {
        return 0;
    }
    scaled = ((uint64_t)variance << (2 * k)) +
             (uint64_t)edgec_layer_norm_scaled_epsilon(params->epsilon_mantissa,
                                                       params->epsilon_exponent, 2 * k);
    root = edgec_layer_norm_integer_sqrt(scaled);
    return (int32_t)((((uint64_t)1 << EDGEC_LAYER_NORM_RECIPROCAL_BITS) + (root >> 1)) / root);
}

/*
 * Returns the output of one element in output steps, before the clamp to the output type,
 * from its centered value N*x - S (|centered| <= 2^30) and channel c's parameters.
 * |centered * reciprocal| < 2^55, the Q24 value z is below 2^31 in magnitude, so
 * |z * multiplier| < 2^62 for any int32 multiplier. With |offset| <= 2^56 the sum stays
 * below 2^62.1 for every right shift in 0..62, whatever the output type.
 */
static inline int64_t edgec_layer_norm_output_value(int32_t centered, int32_t reciprocal,
                                                    int32_t z_shift,
                                                    const edgec_layer_norm_channels *channels,
                                                    int32_t c)
{
    /* Both products are 32 x 32 -> 64-bit multiplies (SMULL on Arm). */
    const int32_t z =
        (int32_t)edgec_layer_norm_round_shift((int64_t)centered * reciprocal, z_shift);
    const int64_t fixed = edgec_layer_norm_round_shift((int64_t)z * channels->multipliers[c],
                                                       channels->right_shifts[c]) +
                          channels->offsets[c];

    return edgec_layer_norm_round_shift(fixed, EDGEC_LAYER_NORM_OFFSET_BITS);
}

/* The int8 output of one element: edgec_layer_norm_output_value clamped to [-128, 127]. */
static inline int8_t edgec_layer_norm_output_s8(int32_t centered, int32_t reciprocal,
                                                int32_t z_shift,
                                                const edgec_layer_norm_channels *channels,
                                                int32_t c)
{
    const int64_t value =
        edgec_layer_norm_output_value(centered, reciprocal, z_shift, channels, c);

    if (value < INT8_MIN) {
        return INT8_MIN;
    }
    return (int8_t)(value > INT8_MAX ? INT8_MAX : value);
}

/* The int16 output of one element: edgec_layer_norm_output_value clamped to
 * [-32768, 32767]. */
static inline int16_t edgec_layer_norm_output_s16(int32_t centered, int32_t reciprocal,
                                                  int32_t z_shift,
                                                  const edgec_layer_norm_channels *channels,
                                                  int32_t c)
{
    const int64_t value =
        edgec_layer_norm_output_value(centered, reciprocal, z_shift, channels, c);

    if (value < INT16_MIN) {
        return INT16_MIN;
    }
    return (int16_t)(value > INT16_MAX ? INT16_MAX : value);
}

/*
 * Returns V = N*Q - S^2 of one int8 row of depth N (x = q + input_offset) and stores S in
 * *sum. |x| <= 255 and N <= 8192 keep |S| < 2^21 and Q < 2^30 (int32).
 */
static inline int64_t edgec_layer_norm_variance_s8(const int8_t *row, int32_t depth,
                                                   int32_t input_offset, int32_t *sum)
{
    int32_t total = 0;
    int32_t sum_of_squares = 0;
    int32_t c;

    for (c = 0; c < depth; c++) {
        const int32_t value = row[c] + input_offset;

        total += value;
        sum_of_squares += value * value;
    }
    *sum = total;
    return (int64_t)depth * sum_of_squares - (int64_t)total * total;
}

/*
 * Returns V = N*Q - S^2 of one int16 row of depth N (zero point 0) and stores S in *sum.
 * |x| <= 2^15 and N <= 8192 keep |S| <= 2^28 (int32) and Q <= 2^43.
 */
static inline int64_t edgec_layer_norm_variance_s16(const int16_t *row, int32_t depth,
                                                    int32_t *sum)
{
    int32_t total = 0;
    int64_t sum_of_squares = 0;
    int32_t c;

    for (c = 0; c < depth; c++) {
        total += row[c];
        sum_of_squares += (int64_t)row[c] * row[c];
    }
    *sum = total;
    return (int64_t)depth * sum_of_squares - (int64_t)total * total;
}

/*
 * Checks the arguments shared by the layer_norm kernels: rows >= 0, depth in 1..8192, input_offset
 * in [offset_min, offset_max], an epsilon mantissa of 0 or in [2^30, 2^31) with an
 * exponent in -200..30, and per channel a right shift in 0..62 and |offset| <= 2^56.
 */
static inline int edgec_layer_norm_arguments_valid(const edgec_layer_norm_params *params,
                                                   const edgec_layer_norm_channels *channels,
                                                   int32_t rows, int32_t offset_min,
                                                   int32_t offset_max)
{
    int32_t c;

    if (rows < 0 || params->depth < 1 || params->depth > EDGEC_LAYER_NORM_MAX_DEPTH) {
        return 0;
    }
    if (params->input_offset < offset_min || params->input_offset > offset_max) {
        return 0;
    }
    if (params->epsilon_mantissa != 0 && params->epsilon_mantissa < ((int32_t)1 << 30)) {
        return 0;
    }
    if (params->epsilon_mantissa < 0 ||
        params->epsilon_exponent < EDGEC_LAYER_NORM_MIN_EPSILON_EXPONENT ||
        params->epsilon_exponent > EDGEC_LAYER_NORM_MAX_EPSILON_EXPONENT) {
        return 0;
    }
    for (c = 0; c < params->depth; c++) {
        const int64_t offset = channels->offsets[c];

        if (channels->right_shifts[c] < 0 ||
            channels->right_shifts[c] > EDGEC_LAYER_NORM_MAX_RIGHT_SHIFT ||
            offset < -EDGEC_LAYER_NORM_MAX_OFFSET || offset > EDGEC_LAYER_NORM_MAX_OFFSET) {
            return 0;
        }
    }
    return 1;
}

#endif /* EDGEC_KERNELS_NORM_ROWS_H */
