/*
 * edgec reference kernel: fully connected layer with int8 activations, packed int4 weights
 * (per channel or per group) and per-output-channel requantization. The arithmetic is the
 * reference interpreter's fully_connected (compiler/edgec/reference/int_ops.py) on int4
 * weights; kernels.h describes the packing and the group multipliers. The loops are in
 * edgec/kernels_fully_connected_core.h.
 */
#include <stddef.h>

#include "edgec/kernel_checks.h"
#include "edgec/kernels.h"
#include "edgec/kernels_fully_connected_core.h"

edgec_status edgec_fully_connected_s8_s4(const edgec_fc_params *params,
                                         const edgec_per_channel_quant *quant,
                                         int32_t rows, int32_t input_depth, const int8_t *input,
                                         int32_t output_depth, const uint8_t *filter,
                                         int32_t group_size, const uint8_t *group_multipliers,
                                         const int32_t *bias, int8_t *output)
{
    if (rows < 0 || input_depth < 1 || output_depth < 1 || params->filter_offset != 0) {
        return EDGEC_ERROR_ARGUMENT;
    }
    if (group_multipliers != NULL && group_size < 1) {
        return EDGEC_ERROR_ARGUMENT;
    }
    if (!edgec_activation_range_s8_valid(params->activation_min, params->activation_max)) {
        return EDGEC_ERROR_ARGUMENT;
    }

    edgec_fully_connected_rows_s4(params, quant, rows, input_depth, input, output_depth, filter,
                                  group_size, group_multipliers, bias, output, NULL);
    return EDGEC_OK;
}
