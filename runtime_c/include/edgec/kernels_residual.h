/*
 * edgec runtime: prototypes of the kernels of an int16 residual stream (conventions in
 * kernels.h). A transformer keeps the values that its residual adds read and write in
 * int16, while its linear layers still read int8 activations.
 */
#ifndef EDGEC_KERNELS_RESIDUAL_H
#define EDGEC_KERNELS_RESIDUAL_H

#include "edgec/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Fully connected layer with an int8 input and an int16 output: input [rows, input_depth]
 * int8, filter [output_depth, input_depth] int8, bias NULL or [output_depth] int32, output
 * [rows, output_depth] int16 with zero point 0. The int32 accumulator and its
 * requantization are those of edgec_fully_connected_s8, including params->input_offset and
 * filter_offset. Only the clamp differs: [activation_min, activation_max] must lie within
 * [-32768, 32767]. params->output_offset must be 0. Returns EDGEC_ERROR_ARGUMENT when
 * rows < 0, input_depth < 1, output_depth < 1 or a parameter is outside these ranges.
 */
edgec_status edgec_fully_connected_s8_s16(const edgec_fc_params *params,
                                          const edgec_per_channel_quant *quant,
                                          int32_t rows, int32_t input_depth,
                                          const int8_t *input, int32_t output_depth,
                                          const int8_t *filter, const int32_t *bias,
                                          int16_t *output);

/*
 * The same with packed int4 weights, per channel (group_multipliers NULL) or per group, as
 * edgec_fully_connected_s8_s4 takes them (kernels.h): params->filter_offset must be 0, and
 * group_size >= 1 when group_multipliers is not NULL.
 */
edgec_status edgec_fully_connected_s8_s4_s16(const edgec_fc_params *params,
                                             const edgec_per_channel_quant *quant,
                                             int32_t rows, int32_t input_depth,
                                             const int8_t *input, int32_t output_depth,
                                             const uint8_t *filter, int32_t group_size,
                                             const uint8_t *group_multipliers,
                                             const int32_t *bias, int16_t *output);

/*
 * Elementwise add of two int16 tensors of `size` values each into an int16 output, all
 * with zero point 0: TFLite's general int16 ADD. Each value x of input k becomes
 * x * 2^left_shift, rescaled with input k's multiplier and shift. The two are summed, and
 * the sum is rescaled with the output multiplier and shift, then clamped to
 * [activation_min, activation_max]. The rescalings are edgec_multiply_by_quantized_multiplier
 * (fixed_point.h). Valid arguments: size >= 0; left_shift in [0, 15]; input and output
 * offsets 0; multipliers >= 0 and shifts <= 0 (real multipliers below 1), so no value
 * leaves int32; the activation range within [-32768, 32767]. The compiler passes
 * left_shift 15 and input multipliers of at most 1/2. The kernel reads both inputs'
 * value i before it writes output value i, so the output may be either input's buffer.
 */
edgec_status edgec_add_s16(const edgec_add_params *params, int32_t size, const int16_t *input1,
                           const int16_t *input2, int16_t *output);

#ifdef __cplusplus
}
#endif

#endif /* EDGEC_KERNELS_RESIDUAL_H */
