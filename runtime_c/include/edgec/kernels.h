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
 *   - activations are NHWC int8; input_offset = -input_zero_point,
 *     output_offset = output_zero_point; shift > 0 is a left shift;
 *   - activation_min/max are the fused clamp in the output's quantized domain;
 *   - bias may be NULL.
 * Kernels return EDGEC_OK, or EDGEC_ERROR_ARGUMENT when an argument is invalid: a size,
 * stride, window, sign, permutation or pad out of range, or an activation range outside
 * [-128, 127]. They check all arguments before writing, so on error the output is untouched.
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

#endif /* EDGEC_KERNELS_H */
