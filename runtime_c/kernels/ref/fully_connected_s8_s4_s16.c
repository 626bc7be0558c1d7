/*
 * edgec reference kernel: fully connected layer with int8 activations, packed int4 weights
 * (per channel or per group), an int32 bias and per-output-channel requantization, writing
 * int16 outputs (zero point 0). The arithmetic is the reference interpreter's
 * fully_connected for an int8 input, int4 weights and an int16 output
 * (compiler/edgec/reference/int_ops.py): edgec_fully_connected_s8_s4's, with the clamp
 * range of int16. The loops are in edgec/kernels_fully_connected_core.h.
 *
 * Error bound: as edgec_fully_connected_s8_s16 (fully_connected_s8_s16.c), against the
 * float layer on the int4 weights times their per-group multipliers.
 */
#include <stddef.h>

#include "edgec/kernel_checks.h"
#include "edgec/kernels.h"
#include "edgec/kernels_fully_connected_core.h"

edgec_status edgec_fully_connected_s8_s4_s16(const edgec_fc_params *params,
                                             const edgec_per_channel_quant *quant,
                                             int32_t rows, int32_t input_depth,
                                             const int8_t *input, int32_t output_depth,
                                             const uint8_t *filter, int32_t group_size,
                                             const uint8_t *group_multipliers,
                                             const int32_t *bias, int16_t *output)
{
    if (rows < 0 || input_depth < 1 || output_depth < 1 || params->filter_offset != 0 ||
        params->output_offset != 0) {
        return EDGEC_ERROR_ARGUMENT;
    }
    if (group_multipliers != NULL && group_size < 1) {
        return EDGEC_ERROR_ARGUMENT;
    }
    if (!edgec_activation_range_valid(params->activation_min, params->activation_max, -32768,
                                      32767)) {
        return EDGEC_ERROR_ARGUMENT;
    }

    edgec_fully_connected_rows_s4(params, quant, rows, input_depth, input, output_depth, filter,
                                  group_size, group_multipliers, bias, NULL, output);
    return EDGEC_OK;
}
