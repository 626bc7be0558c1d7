/*
 * edgec reference kernel: batched int8 matrix product with an int8 output (kernels_matmul.h).
 * The arithmetic is the reference interpreter's batch_matmul
 * (compiler/edgec/reference/int_matmul.py).
 *
 * Error bound, against the exact product of the dequantized inputs clamped to the int8
 * range: at most 3/4 output step with double rounding and 1/2 step with single rounding
 * (EDGEC_SINGLE_ROUNDING). The Q31 multiplier adds 2^-31 times the exact output in steps.
 */
#include <stddef.h>

#include "edgec/fixed_point.h"
#include "edgec/kernel_checks.h"
#include "edgec/kernels.h"
#include "edgec/kernels_matmul_core.h"

edgec_status edgec_batch_matmul_s8(const edgec_batch_matmul_params *params, int32_t batches,
                                   int32_t rows, int32_t depth, int32_t columns,
                                   const int8_t *input1, const int8_t *input2, int8_t *output)
{
    int32_t acc[EDGEC_BATCH_MATMUL_TILE];
    int32_t batch;
    int32_t i;
    int32_t j0;
    int32_t j;

    if (batches < 0 || rows < 0 || columns < 0 || depth < 1 ||
        depth > EDGEC_BATCH_MATMUL_MAX_DEPTH) {
        return EDGEC_ERROR_ARGUMENT;
    }
    if (params->input1_offset < -127 || params->input1_offset > 128 ||
        params->input2_offset < -127 || params->input2_offset > 128 ||
        params->output_multiplier < 0) {
        return EDGEC_ERROR_ARGUMENT;
    }
    if (!edgec_activation_range_s8_valid(params->activation_min, params->activation_max)) {
        return EDGEC_ERROR_ARGUMENT;
    }

    for (batch = 0; batch < batches; batch++) {
        const int8_t *matrix1 = input1 + (size_t)batch * (size_t)rows * (size_t)depth;
        const int8_t *matrix2 = input2 + (size_t)batch * (size_t)depth * (size_t)columns;

        for (i = 0; i < rows; i++) {
            const int8_t *row = matrix1 + (size_t)i * (size_t)depth;

            for (j0 = 0; j0 < columns; j0 += EDGEC_BATCH_MATMUL_TILE) {
                const int32_t width = columns - j0 < EDGEC_BATCH_MATMUL_TILE
                                          ? columns - j0
                                          : EDGEC_BATCH_MATMUL_TILE;

                edgec_batch_matmul_tile(row, matrix2 + j0, depth, columns, width,
                                        params->input1_offset, params->input2_offset, acc);
                for (j = 0; j < width; j++) {
                    const int32_t value = edgec_multiply_by_quantized_multiplier(
                        acc[j], params->output_multiplier, params->output_shift);

                    *output++ = (int8_t)edgec_offset_and_clamp(value, params->output_offset,
                                                               params->activation_min,
                                                               params->activation_max);
                }
            }
        }
    }
    return EDGEC_OK;
}
