/* edgec runtime: prototypes of the batch_matmul, gather and masked_mean kernels (conventions in kernels.h). */
#ifndef EDGEC_KERNELS_MATMUL_H
#define EDGEC_KERNELS_MATMUL_H

#include "edgec/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest batch_matmul depth: depth * 255 * 255 must stay below 2^31 in the int32 sum. */
#define EDGEC_BATCH_MATMUL_MAX_DEPTH 33025
/* Largest masked_mean row count: rows * 255 must stay below 2^31 in the int32 sum. */
#define EDGEC_MASKED_MEAN_MAX_ROWS 8421504

typedef struct {
    int32_t input1_offset;     /* -input1 zero point, in [-127, 128] */
    int32_t input2_offset;     /* -input2 zero point, in [-127, 128] */
    int32_t output_offset;     /* output zero point; 0 for the int16 output */
    int32_t output_multiplier; /* Q31 multiplier of alpha * s1 * s2 / s_out, >= 0 */
    int32_t output_shift;      /* > 0 is a left shift */
    int32_t activation_min;
    int32_t activation_max;
} edgec_batch_matmul_params;

/*
 * Batched matrix product: input1 [batches, rows, depth] times input2 [batches, depth,
 * columns] gives output [batches, rows, columns], all row-major. Each output is
 *   acc = sum_k (input1[b][i][k] + input1_offset) * (input2[b][k][j] + input2_offset)
 * requantized with edgec_multiply_by_quantized_multiplier (fixed_point.h), plus
 * output_offset, clamped to [activation_min, activation_max].
 * Valid arguments: batches, rows and columns >= 0, depth in [1,
 * EDGEC_BATCH_MATMUL_MAX_DEPTH], offsets in range, output_multiplier >= 0 and the activation
 * range inside the output type. The compiler also keeps a left shift from wrapping the
 * accumulator, which these kernels do not check.
 */
edgec_status edgec_batch_matmul_s8(const edgec_batch_matmul_params *params, int32_t batches,
                                   int32_t rows, int32_t depth, int32_t columns,
                                   const int8_t *input1, const int8_t *input2, int8_t *output);

/* The same product with an int16 output of zero point 0 (output_offset must be 0), for a
 * softmax that takes int16 input. */
edgec_status edgec_batch_matmul_s8_s16(const edgec_batch_matmul_params *params,
                                       int32_t batches, int32_t rows, int32_t depth,
                                       int32_t columns, const int8_t *input1,
                                       const int8_t *input2, int16_t *output);

/*
 * Row gather: output row i is table row indices[i], row_size bytes each, for count indices.
 * An index in [-table_rows, -1] selects row table_rows + index. Returns EDGEC_ERROR_ARGUMENT,
 * without writing, when an index is outside [-table_rows, table_rows - 1] or a size is
 * negative (table_rows must be >= 1). The output has the table's quantization.
 */
edgec_status edgec_gather_s8(int32_t table_rows, int32_t row_size, const int8_t *table,
                             int32_t count, const int32_t *indices, int8_t *output);

typedef struct {
    int32_t input_offset;      /* -input zero point, in [-127, 128] */
    int32_t output_offset;
    int32_t output_multiplier; /* Q31 multiplier of s_in / s_out, >= 0 */
    int32_t output_shift;      /* > 0 is a left shift */
    int32_t activation_min;
    int32_t activation_max;
} edgec_masked_mean_params;

/*
 * Masked mean over rows: input [batches, rows, channels], mask [batches, rows] (a row counts
 * when its mask value is not 0), output [batches, channels]. With n counted rows:
 *   sum = sum over counted rows of (input + input_offset)
 *   r = edgec_multiply_by_quantized_multiplier(sum, output_multiplier, output_shift)
 *   output = clamp(output_offset + r / n rounded half away from zero)
 * and clamp(output_offset) when n is 0. Valid arguments: batches and channels >= 0, rows in
 * [0, EDGEC_MASKED_MEAN_MAX_ROWS], input_offset in range, output_multiplier >= 0 and the
 * activation range inside [-128, 127].
 */
edgec_status edgec_masked_mean_s8(const edgec_masked_mean_params *params, int32_t batches,
                                  int32_t rows, int32_t channels, const int8_t *input,
                                  const int32_t *mask, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* EDGEC_KERNELS_MATMUL_H */
