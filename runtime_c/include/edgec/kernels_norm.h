/* edgec runtime: prototypes of the layer_norm and l2_normalize kernels (conventions in kernels.h). */
#ifndef EDGEC_KERNELS_NORM_H
#define EDGEC_KERNELS_NORM_H

#include "edgec/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Maximum length of the normalized axis of the layer_norm kernels. */
#define EDGEC_LAYER_NORM_MAX_DEPTH 8192
/* Maximum depth of edgec_l2_normalize_s8: 33025 * 255^2 is the largest sum of squares below
 * 2^31. */
#define EDGEC_L2_NORMALIZE_MAX_DEPTH 33025

/*
 * Row parameters of layer_norm. epsilon_mantissa * 2^epsilon_exponent is
 * depth^2 * epsilon / input_scale^2, the epsilon in the kernel's units.
 */
typedef struct {
    int32_t depth;            /* N, the length of the normalized last axis: 1..8192 */
    int32_t input_offset;     /* -input_zero_point: -127..128 for int8, 0 for int16 */
    int32_t epsilon_mantissa; /* 0, or in [2^30, 2^31) */
    int32_t epsilon_exponent; /* -200..30 */
} edgec_layer_norm_params;

/*
 * Per-channel parameters of layer_norm, depth values each. multipliers[c] and
 * right_shifts[c] (0..62) scale the Q24 normalized value to Q16 output steps, which is
 * gamma[c] / output_scale. offsets[c] (|offset| <= 2^56) is
 * (beta[c] / output_scale + output_zero_point) in Q16. With any int32 multiplier and
 * these ranges, the int64 arithmetic of every layer_norm kernel cannot overflow.
 */
typedef struct {
    const int32_t *multipliers;
    const int32_t *right_shifts;
    const int64_t *offsets;
} edgec_layer_norm_channels;

/*
 * Layer normalization over the last axis: input [rows, depth], output [rows, depth].
 * The arithmetic is the reference interpreter's layer_norm_rows
 * (compiler/edgec/reference/int_norm.py): integer mean and variance of each row, an
 * integer square root and one division per row, then per element two multiplies and
 * rounding shifts. Ties round toward +infinity. Returns EDGEC_ERROR_ARGUMENT, without
 * writing the output, when rows < 0 or a parameter is outside the ranges above.
 *
 * The name gives the input type, then the output type when it is int16:
 *   edgec_layer_norm_s8       int8 input (any zero point), int8 output (any zero point);
 *   edgec_layer_norm_s16      int16 input (zero point 0, input_offset 0), int8 output;
 *   edgec_layer_norm_s8_s16   int8 input, int16 output (zero point 0);
 *   edgec_layer_norm_s16_s16  int16 input and output, both with zero point 0.
 * The four share their parameters and differ only in the input loads and in the output
 * clamp: [-128, 127] or [-32768, 32767].
 */
edgec_status edgec_layer_norm_s8(const edgec_layer_norm_params *params,
                                 const edgec_layer_norm_channels *channels, int32_t rows,
                                 const int8_t *input, int8_t *output);

edgec_status edgec_layer_norm_s16(const edgec_layer_norm_params *params,
                                  const edgec_layer_norm_channels *channels, int32_t rows,
                                  const int16_t *input, int8_t *output);

edgec_status edgec_layer_norm_s8_s16(const edgec_layer_norm_params *params,
                                     const edgec_layer_norm_channels *channels, int32_t rows,
                                     const int8_t *input, int16_t *output);

edgec_status edgec_layer_norm_s16_s16(const edgec_layer_norm_params *params,
                                      const edgec_layer_norm_channels *channels, int32_t rows,
                                      const int16_t *input, int16_t *output);

/*
 * L2 normalization over the last axis as TFLite's int8 L2Normalization: input [rows, depth]
 * with input_offset = -input_zero_point in -127..128; output int8 with scale 1/128 and zero
 * point 0. An all-zero row gives zeros. depth must be 1..33025 and rows >= 0.
 */
edgec_status edgec_l2_normalize_s8(int32_t input_offset, int32_t rows, int32_t depth,
                                   const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* EDGEC_KERNELS_NORM_H */
