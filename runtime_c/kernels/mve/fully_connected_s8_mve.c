/*
 * edgec Helium (MVE) kernel: fully connected layer with int8 activations and weights,
 * per-channel requantization and the input offset folded into the bias (kernels_mve.h).
 * Each input row is multiplied with eight output channels per block (edgec_mve_dot_single)
 * into int32 sums in scratch, which are then requantized four lanes at a time.
 *
 * Filter layout (arranged at compile time): output channels padded with zero weights to a
 * multiple of 8 and the input depth padded with zeros to steps * 16, stored as blocks of 8
 * channels. Inside a block come, for each 16-byte step, the 16 weights of each channel.
 *
 * Scratch: the sums (8 int32 per block), then, when the depth is not a multiple of 16, a
 * copy of the row padded to steps * 16 bytes, so that the last step reads no byte past
 * the row. The bytes past the depth may hold anything, because their weights are 0.
 */
#include <stddef.h>

#include "edgec/kernel_checks.h"
#include "edgec/kernels_mve.h"
#include "edgec/mve_copy.h"
#include "edgec/mve_dot.h"
#include "edgec/mve_requantize.h"

/* Output channels of one edgec_mve_dot_single block. */
#define BLOCK_CHANNELS 8

/* Returns whether the sizes, clamp range, filter offset, bias and scratch are valid. */
static int fully_connected_arguments_valid(const edgec_fc_params *params, int32_t rows,
                                           int32_t input_depth, int32_t output_depth,
                                           const int32_t *bias, const void *scratch)
{
    if (rows < 0 || input_depth < 1 || output_depth < 1) {
        return 0;
    }
    if (params->filter_offset != 0 || bias == NULL || scratch == NULL) {
        return 0;
    }
    return edgec_activation_range_s8_valid(params->activation_min, params->activation_max);
}

EDGEC_MVE_INLINE void multiply_rows(const edgec_per_channel_quant *quant, int32_t rows,
                                    int32_t input_depth, const int8_t *input,
                                    int32_t output_depth, const int8_t *filter,
                                    const int32_t *bias, int8_t *output, int32_t *sums,
                                    const edgec_mve_output_stage *stage, int mode)
{
    const int32_t steps = edgec_mve_steps(input_depth);
    const int32_t blocks = (output_depth + BLOCK_CHANNELS - 1) / BLOCK_CHANNELS;
    int8_t *const padded_row = (int8_t *)(sums + blocks * BLOCK_CHANNELS);
    int32_t row;

    for (row = 0; row < rows; row++) {
        const int8_t *vector = input + row * input_depth;

        if (input_depth % EDGEC_MVE_STEP_BYTES != 0) {
            edgec_mve_copy(padded_row, vector, input_depth);
            vector = padded_row;
        }
        edgec_mve_dot_single(vector, filter, steps, blocks, sums);
        edgec_mve_requantize_row(sums, bias, quant, output_depth, stage, mode, output);
        output += output_depth;
    }
}

edgec_status edgec_fully_connected_s8_mve(const edgec_fc_params *params,
                                          const edgec_per_channel_quant *quant,
                                          int32_t rows, int32_t input_depth, const int8_t *input,
                                          int32_t output_depth, const int8_t *filter,
                                          const int32_t *bias, int8_t *output, void *scratch)
{
    edgec_mve_output_stage stage;
    int mode;

    if (!fully_connected_arguments_valid(params, rows, input_depth, output_depth, bias,
                                         scratch)) {
        return EDGEC_ERROR_ARGUMENT;
    }

    stage = edgec_mve_make_output_stage(params->output_offset, params->activation_min,
                                        params->activation_max);
    mode = edgec_mve_requant_mode(quant->shifts, output_depth, params->output_offset,
                                  params->activation_min);
#define MULTIPLY_ROWS(constant_mode)                                                     \
    multiply_rows(quant, rows, input_depth, input, output_depth, filter, bias, output,    \
                  (int32_t *)scratch, &stage, constant_mode)
    EDGEC_MVE_DISPATCH_MODE(mode, MULTIPLY_ROWS);
#undef MULTIPLY_ROWS
    return EDGEC_OK;
}
