/* edgec runtime: prototypes of the softmax and gelu kernels of the attention blocks
 * (conventions in kernels.h). */
#ifndef EDGEC_KERNELS_ATTENTION_H
#define EDGEC_KERNELS_ATTENTION_H

#include "edgec/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest depth of edgec_softmax_masked_s8 and edgec_softmax_s16_s8: each exp adds at most
 * 2^19 to their uint32 sum of exps, which therefore cannot wrap. */
#define EDGEC_SOFTMAX_MAX_MASKED_DEPTH 8191

/*
 * Softmax over the last axis with an optional mask: input [rows, depth] (int8 of any zero
 * point, or int16 with zero point 0), output int8 with scale 1/256 and zero point -128.
 * params are edgec_softmax_s8's (input_left_shift >= 0, diff_min <= 0). depth is in
 * [1, EDGEC_SOFTMAX_MAX_MASKED_DEPTH].
 *
 * mask: NULL (every position is used) or depth int32 values applied to every row.
 * Positions with mask[c] == 0 are left out of the row maximum and the sum of exps and
 * output -128. When every mask value is 0, every row is uniform. Each position then
 * outputs round(256 / depth) - 128 with ties away from zero (127 for depth 1), but -128
 * from depth 512 on, because every probability is at most 1/512 there.
 * Without a mask, edgec_softmax_masked_s8 computes what edgec_softmax_s8 computes.
 */
edgec_status edgec_softmax_masked_s8(const edgec_softmax_params *params, int32_t rows,
                                     int32_t depth, const int8_t *input, const int32_t *mask,
                                     int8_t *output);

edgec_status edgec_softmax_s16_s8(const edgec_softmax_params *params, int32_t rows,
                                  int32_t depth, const int16_t *input, const int32_t *mask,
                                  int8_t *output);

/*
 * GELU by table lookup over size elements: output[i] = table[input[i] + 128], where the
 * compiler computed table[k] as the output of input value k - 128. input and output may be
 * the same buffer.
 */
edgec_status edgec_gelu_s8(const int8_t table[256], int32_t size, const int8_t *input,
                           int8_t *output);

/* Parameters of edgec_gelu_s16_s8, computed by the compiler from the input and output
 * scales. */
typedef struct {
    /* t = |x| / sqrt(2) in Q2.29 is (|q| * input_multiplier + 2^(shift - 1)) >> shift with
     * shift = input_right_shift, in [1, 62], and input_multiplier >= 0. */
    int32_t input_multiplier;
    int32_t input_right_shift;
    /* Requantization of q * (1 + erf), with 1 + erf in units of 2^-15, by input scale /
     * (2^16 * output scale), with output_shift <= 0. */
    int32_t output_multiplier;
    int32_t output_shift;
    int32_t output_offset;
} edgec_gelu_s16_params;

/*
 * GELU of size int16 inputs (zero point 0) with I-BERT's second-order erf polynomial
 * (i-GELU), int8 outputs with output_offset as their zero point. Within 0.5 output LSB +
 * 0.0185 of the exact GELU wherever the output does not clamp (see gelu_s16_s8.c).
 */
edgec_status edgec_gelu_s16_s8(const edgec_gelu_s16_params *params, int32_t size,
                               const int16_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* EDGEC_KERNELS_ATTENTION_H */
