/*
 * edgec reference kernel: int8 to int16 requantization, where an int8 layer feeds a 16x8
 * layer. The arithmetic is the reference interpreter's integer quantize
 * (compiler/edgec/reference/int_ops.py), which is TFLite's Requantize with an int16 output.
 */
#include "edgec/fixed_point.h"
#include "edgec/kernel_checks.h"
#include "edgec/kernels.h"

edgec_status edgec_requantize_s8_s16(const edgec_requantize_params *params, int32_t size,
                                     const int8_t *input, int16_t *output)
{
    int32_t i;

    if (size < 0 || params->input_offset < -32768 || params->input_offset > 32768 ||
        !edgec_activation_range_valid(params->activation_min, params->activation_max, -32768,
                                      32767)) {
        return EDGEC_ERROR_ARGUMENT;
    }

    for (i = 0; i < size; i++) {
        const int32_t value = edgec_multiply_by_quantized_multiplier(
            input[i] + params->input_offset, params->output_multiplier, params->output_shift);

        output[i] = (int16_t)edgec_offset_and_clamp(value, params->output_offset,
                                                    params->activation_min,
                                                    params->activation_max);
    }
    return EDGEC_OK;
}
