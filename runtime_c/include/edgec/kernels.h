/*
 * edgec runtime: integer kernels called by the generated model.c.
 *
 * Every kernel is a pure function of its arguments: no malloc, no printf, no global state,
 * no floating point (the float I/O helpers live in io_float.h). Parameters are computed by
 * the compiler at build time; the kernels only compute. Their arithmetic is specified by
 * the reference interpreter (compiler/edgec/reference/int_ops.py) and must match it bit
 * for bit; the fixed-point helpers are in fixed_point.h.
 *
 * Conventions (as CMSIS-NN):
 *   - activations are NHWC int8 (int16 in the *_s16 kernels); input_offset = -input_zero_point,
 *     output_offset = output_zero_point; shift > 0 is a left shift;
 *   - activation_min/max are the fused clamp in the output's quantized domain;
 *   - bias may be NULL.
 * Kernels return EDGEC_OK, or EDGEC_ERROR_ARGUMENT when an argument is invalid: a size,
 * stride, window, sign, permutation or pad out of range, or an activation range outside
 * the output type's range ([-128, 127] for int8). They check all arguments before writing,
 * so on error the output is untouched.
 */
#ifndef EDGEC_KERNELS_H
#define EDGEC_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    EDGEC_OK = 0,
    EDGEC_ERROR_ARGUMENT = 1
} edgec_status;

/* Shape of a 4-D NHWC tensor (filters: OHWI for conv, 1HW(C*M) for depthwise). */
typedef struct {
    int32_t n;
    int32_t h;
    int32_t w;
    int32_t c;
} edgec_dims;

/* Per-output-channel requantization: one Q31 multiplier and one shift per channel. */
typedef struct {
    const int32_t *multipliers;
    const int32_t *shifts;
} edgec_per_channel_quant;

typedef struct {
    int32_t input_offset;
    int32_t filter_offset;
    int32_t output_offset;
    int32_t stride_h;
    int32_t stride_w;
    int32_t dilation_h;
    int32_t dilation_w;
    int32_t pad_top;    /* padding before the first row; rows past the input read as zero point */
    int32_t pad_left;
    int32_t depth_multiplier; /* depthwise only: output channel c * M + m reads input c */
    int32_t activation_min;
    int32_t activation_max;
} edgec_conv_params;

/* Convolution: input [n,h,w,c], filter OHWI [o,kh,kw,c], bias [o], output [n,oh,ow,o]. */
edgec_status edgec_conv2d_s8(const edgec_conv_params *params,
                             const edgec_per_channel_quant *quant,
                             const edgec_dims *input_dims, const int8_t *input,
                             const edgec_dims *filter_dims, const int8_t *filter,
                             const int32_t *bias,
                             const edgec_dims *output_dims, int8_t *output);

/* Depthwise convolution: filter [1,kh,kw,c*M], bias [c*M], output [n,oh,ow,c*M]. */
edgec_status edgec_depthwise_conv2d_s8(const edgec_conv_params *params,
                                       const edgec_per_channel_quant *quant,
                                       const edgec_dims *input_dims, const int8_t *input,
                                       const edgec_dims *filter_dims, const int8_t *filter,
                                       const int32_t *bias,
                                       const edgec_dims *output_dims, int8_t *output);

typedef struct {
    int32_t input_offset;
    int32_t filter_offset;
    int32_t output_offset;
    int32_t activation_min;
    int32_t activation_max;
} edgec_fc_params;

/* Fully connected: input [rows, input_depth], filter [output_depth, input_depth],
 * bias [output_depth], output [rows, output_depth]. */
edgec_status edgec_fully_connected_s8(const edgec_fc_params *params,
                                      const edgec_per_channel_quant *quant,
                                      int32_t rows, int32_t input_depth, const int8_t *input,
                                      int32_t output_depth, const int8_t *filter,
                                      const int32_t *bias, int8_t *output);

/*
 * int4 weights (the *_s8_s4 kernels): int8 activations as above, and weights symmetric in
 * [-7, 7] with params->filter_offset 0, packed per output channel. Each output channel c
 * has K reduction values. For conv2d they are filter_h * filter_w * input channels in the
 * OHWI order (h, w, c), for depthwise filter_h * filter_w in the order (h, w), and for
 * fully connected input_depth. They take (K + 1) / 2 bytes, starting at byte
 * c * ((K + 1) / 2). Value 2j sits in the low nibble of byte j and value 2j + 1 in the high
 * nibble, as 4-bit two's complement. An odd K ends each row with a zero high nibble. The
 * depthwise filter is packed by output channel, not in the 1HW(C*M) order of the int8
 * kernel.
 *
 * group_multipliers NULL: per-channel scales; the accumulator is
 * sum_k q_k * (x_k + input_offset) and group_size is not read. Otherwise channel c's K
 * values form groups of group_size >= 1 consecutive values (the last one may be shorter),
 * groups = ceil(K / group_size), and group_multipliers[c * groups + g] is the group's
 * multiplier in [1, 255]. The accumulator is sum_g m[c][g] * acc_g, where acc_g sums
 * q_k * (x_k + input_offset) over the group. The bias and the per-channel quant then carry
 * the 1/255 of the group scale. The compiler checks that these sums fit in int32.
 */
edgec_status edgec_conv2d_s8_s4(const edgec_conv_params *params,
                                const edgec_per_channel_quant *quant,
                                const edgec_dims *input_dims, const int8_t *input,
                                const edgec_dims *filter_dims, const uint8_t *filter,
                                int32_t group_size, const uint8_t *group_multipliers,
                                const int32_t *bias,
                                const edgec_dims *output_dims, int8_t *output);

edgec_status edgec_depthwise_conv2d_s8_s4(const edgec_conv_params *params,
                                          const edgec_per_channel_quant *quant,
                                          const edgec_dims *input_dims, const int8_t *input,
                                          const edgec_dims *filter_dims, const uint8_t *filter,
                                          int32_t group_size, const uint8_t *group_multipliers,
                                          const int32_t *bias,
                                          const edgec_dims *output_dims, int8_t *output);

edgec_status edgec_fully_connected_s8_s4(const edgec_fc_params *params,
                                         const edgec_per_channel_quant *quant,
                                         int32_t rows, int32_t input_depth, const int8_t *input,
                                         int32_t output_depth, const uint8_t *filter,
                                         int32_t group_size, const uint8_t *group_multipliers,
                                         const int32_t *bias, int8_t *output);

/*
 * int16 activations with int8 weights (the *_s16 kernels, TFLite's 16x8 mode). Input and
 * output are int16 with zero point 0, so params->input_offset, filter_offset and
 * output_offset must be 0, and the weights are int8 symmetric. The bias (NULL or one int64
 * per output channel) has scale input_scale * weight_scale[c]. The accumulator is int64: the
 * sum of filter * input over the taps inside the input, plus the bias modulo 2^64. It is
 * requantized with edgec_multiply_by_quantized_multiplier_int64 (fixed_point.h) and clamped
 * to [activation_min, activation_max] within [-32768, 32767]. Every multiplier must be >= 0
 * and every shift in [-31, 7]. The compiler keeps |accumulator| below 2^47, the range that
 * TFLite's int64 requantization accepts.
 */
edgec_status edgec_conv2d_s16(const edgec_conv_params *params,
                              const edgec_per_channel_quant *quant,
                              const edgec_dims *input_dims, const int16_t *input,
                              const edgec_dims *filter_dims, const int8_t *filter,
                              const int64_t *bias,
                              const edgec_dims *output_dims, int16_t *output);

edgec_status edgec_depthwise_conv2d_s16(const edgec_conv_params *params,
                                        const edgec_per_channel_quant *quant,
                                        const edgec_dims *input_dims, const int16_t *input,
                                        const edgec_dims *filter_dims, const int8_t *filter,
                                        const int64_t *bias,
                                        const edgec_dims *output_dims, int16_t *output);

edgec_status edgec_fully_connected_s16(const edgec_fc_params *params,
                                       const edgec_per_channel_quant *quant,
                                       int32_t rows, int32_t input_depth, const int16_t *input,
                                       int32_t output_depth, const int8_t *filter,
                                       const int64_t *bias, int16_t *output);

typedef struct {
    int32_t filter_h;
    int32_t filter_w;
    int32_t stride_h;
    int32_t stride_w;
    int32_t pad_top;
    int32_t pad_left;
    int32_t activation_min;
    int32_t activation_max;
} edgec_pool_params;

/* Average pooling: mean over the in-bounds taps of each window, rounded half away from
 * zero. Input and output share scale and zero point. A window with no in-bounds tap is an
 * invalid argument. */
edgec_status edgec_avg_pool2d_s8(const edgec_pool_params *params,
                                 const edgec_dims *input_dims, const int8_t *input,
                                 const edgec_dims *output_dims, int8_t *output);

edgec_status edgec_max_pool2d_s8(const edgec_pool_params *params,
                                 const edgec_dims *input_dims, const int8_t *input,
                                 const edgec_dims *output_dims, int8_t *output);

/* Broadcasting for elementwise ops: the output shape padded to 4-D, and each input's
 * element strides on those 4 dims (0 on a broadcast dim). */
typedef struct {
    int32_t shape[4];
    int32_t input1_strides[4];
    int32_t input2_strides[4];
} edgec_broadcast;

typedef struct {
    int32_t left_shift;
    int32_t input1_offset;
    int32_t input1_multiplier;
    int32_t input1_shift;
    int32_t input2_offset;
    int32_t input2_multiplier;
    int32_t input2_shift;
    int32_t output_offset;
    int32_t output_multiplier;
    int32_t output_shift;
    int32_t activation_min;
    int32_t activation_max;
} edgec_add_params;

/* Add (sign = 1) or subtract (sign = -1) with TFLite's int8 rescaling to a common scale. */
edgec_status edgec_add_s8(const edgec_add_params *params, int32_t sign,
                          const edgec_broadcast *broadcast,
                          const int8_t *input1, const int8_t *input2, int8_t *output);

typedef struct {
    int32_t input1_offset;
    int32_t input2_offset;
    int32_t output_offset;
    int32_t output_multiplier;
    int32_t output_shift;
    int32_t activation_min;
    int32_t activation_max;
} edgec_mul_params;

edgec_status edgec_mul_s8(const edgec_mul_params *params, const edgec_broadcast *broadcast,
                          const int8_t *input1, const int8_t *input2, int8_t *output);

typedef struct {
    int32_t input_multiplier;
    int32_t input_left_shift;
    int32_t diff_min;
} edgec_softmax_params;

/* Softmax over the last axis: input [rows, depth]; output scale 1/256, zero point -128. */
edgec_status edgec_softmax_s8(const edgec_softmax_params *params, int32_t rows, int32_t depth,
                              const int8_t *input, int8_t *output);

typedef struct {
    int32_t input_offset;
    int32_t output_offset;
    int32_t output_multiplier;
    int32_t output_shift;
    int32_t activation_min;
    int32_t activation_max;
} edgec_requantize_params;

typedef struct {
    int32_t input_offset;
    int32_t count;             /* elements averaged into each output value */
    int32_t output_multiplier; /* input_scale / output_scale / count, as TFLite's MEAN */
    int32_t output_shift;
    int32_t output_offset;
    int32_t activation_min;
    int32_t activation_max;
} edgec_mean_params;

/* Mean over the axes of a tensor padded to 4-D whose reduce_axes[i] is 1; the output contains
 * the remaining dims in order. */
edgec_status edgec_mean_s8(const edgec_mean_params *params, const int32_t input_shape[4],
                           const int32_t reduce_axes[4], const int8_t *input, int8_t *output);

/* int8 -> int8 with a new scale and zero point. */
edgec_status edgec_requantize_s8(const edgec_requantize_params *params, int32_t size,
                                 const int8_t *input, int8_t *output);

/* int8 -> int16 and int16 -> int8 with the arithmetic of edgec_requantize_s8 (TFLite's
 * Requantize). input_offset must be in [-32768, 32768] and the activation range within the
 * output type's range. */
edgec_status edgec_requantize_s8_s16(const edgec_requantize_params *params, int32_t size,
                                     const int8_t *input, int16_t *output);

edgec_status edgec_requantize_s16_s8(const edgec_requantize_params *params, int32_t size,
                                     const int16_t *input, int8_t *output);

/* Clamp to [activation_min, activation_max]; input and output may be the same buffer. */
edgec_status edgec_clip_s8(int32_t activation_min, int32_t activation_max, int32_t size,
                           const int8_t *input, int8_t *output);

/* Transpose of a tensor padded to 4-D: output dim i is input dim perm[i]. */
edgec_status edgec_transpose_s8(const int32_t input_shape[4], const int32_t perm[4],
                                const int8_t *input, int8_t *output);

/* Concatenation: viewed as [outer, sum(axis sizes) * inner]; input k contributes
 * copy_sizes[k] = its axis size * inner bytes per outer row. */
edgec_status edgec_concat_s8(int32_t outer, int32_t count, const int8_t *const *inputs,
                             const int32_t *copy_sizes, int8_t *output);

/* Constant padding of a tensor padded to 4-D with pad_value (the zero point). */
edgec_status edgec_pad_s8(const int32_t input_shape[4], const int32_t pads_before[4],
                          const int32_t pads_after[4], int8_t pad_value,
                          const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif

/* The transformer kernels. */
#include "edgec/kernels_attention.h"
#include "edgec/kernels_matmul.h"
#include "edgec/kernels_norm.h"
#include "edgec/kernels_residual.h"

#endif /* EDGEC_KERNELS_H */
