/*
 * edgec runtime: optimized kernel variants for the Helium (MVE, Armv8.1-M: Cortex-M55).
 *
 * Each variant is one file runtime_c/kernels/mve/<name>.c using arm_mve.h intrinsics, and is
 * chosen by the compiler (compiler/edgec/lower/variants_mve.py) for the nodes its predicates
 * accept. It has the signature of its reference kernel in kernels.h and matches it bit for
 * bit, with these differences (compiler/edgec/lower/variants.py states them in full):
 *   - filter: the variant's own compile-time layout of the int8 weights;
 *   - bias: never NULL; bias[c] + input_offset * sum of channel c's weights (folded), so
 *     the kernel accumulates input * filter only and padded taps read the zero point;
 *   - scratch (conv, depthwise, fully connected): a buffer of the size the compiler
 *     planned for the call, aligned to 16 bytes, or NULL when it planned none.
 * The declarations are visible on every target; the definitions compile only where
 * the extension exists.
 */
#ifndef EDGEC_KERNELS_MVE_H
#define EDGEC_KERNELS_MVE_H

#include <stdint.h>

#include "edgec/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1x1 convolution, no padding, any stride. */
edgec_status edgec_conv2d_s8_1x1_mve(const edgec_conv_params *params,
                                     const edgec_per_channel_quant *quant,
                                     const edgec_dims *input_dims, const int8_t *input,
                                     const edgec_dims *filter_dims, const int8_t *filter,
                                     const int32_t *bias,
                                     const edgec_dims *output_dims, int8_t *output, void *scratch);

/* Any convolution (im2col into scratch). */
edgec_status edgec_conv2d_s8_mve(const edgec_conv_params *params,
                                 const edgec_per_channel_quant *quant,
                                 const edgec_dims *input_dims, const int8_t *input,
                                 const edgec_dims *filter_dims, const int8_t *filter,
                                 const int32_t *bias,
                                 const edgec_dims *output_dims, int8_t *output, void *scratch);

/* 3x3 depthwise convolution, depth multiplier 1, no dilation. */
edgec_status edgec_depthwise_conv2d_s8_3x3_mve(const edgec_conv_params *params,
                                               const edgec_per_channel_quant *quant,
                                               const edgec_dims *input_dims, const int8_t *input,
                                               const edgec_dims *filter_dims, const int8_t *filter,
                                               const int32_t *bias,
                                               const edgec_dims *output_dims, int8_t *output, void *scratch);

/* Any depthwise convolution. */
edgec_status edgec_depthwise_conv2d_s8_mve(const edgec_conv_params *params,
                                           const edgec_per_channel_quant *quant,
                                           const edgec_dims *input_dims, const int8_t *input,
                                           const edgec_dims *filter_dims, const int8_t *filter,
                                           const int32_t *bias,
                                           const edgec_dims *output_dims, int8_t *output, void *scratch);

/* Fully connected. */
edgec_status edgec_fully_connected_s8_mve(const edgec_fc_params *params,
                                          const edgec_per_channel_quant *quant,
                                          int32_t rows, int32_t input_depth, const int8_t *input,
                                          int32_t output_depth, const int8_t *filter,
                                          const int32_t *bias, int8_t *output, void *scratch);

/* Average and max pooling: bias, filter and scratch do not apply; same contract as ref. */
edgec_status edgec_avg_pool2d_s8_mve(const edgec_pool_params *params,
                                     const edgec_dims *input_dims, const int8_t *input,
                                     const edgec_dims *output_dims, int8_t *output);

edgec_status edgec_max_pool2d_s8_mve(const edgec_pool_params *params,
                                     const edgec_dims *input_dims, const int8_t *input,
                                     const edgec_dims *output_dims, int8_t *output);

/* Add or subtract of two same-shape inputs (no broadcast). */
edgec_status edgec_add_s8_mve(const edgec_add_params *params, int32_t sign,
                              const edgec_broadcast *broadcast,
                              const int8_t *input1, const int8_t *input2, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* EDGEC_KERNELS_MVE_H */
