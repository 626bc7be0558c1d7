/*
 * edgec reference kernel: int16 to int8 requantization, where a 16x8 layer feeds an int8
 * layer. The arithmetic is the reference interpreter's integer quantize
 * (compiler/edgec/reference/int_ops.py), which is TFLite's Requantize with an int16 input.
 */
#include "edgec/fixed_point.h"
#include "edgec/kernel_checks.h"
#include "edgec/kernels.h"

edgec_status edgec_requantize_s16_s8(const edgec_requantize_params *params, int32_t size,
                                     const int16_t *input, int8_t *output)
{
    int32_t i;

    if (size < 0 || params->input_offset < -32768 || params->input_offset > 32768 ||
        !edgec_activation_range_s8_valid(params->activation_min, params->activation_max)) {
        return EDGEC_ERROR_ARGUMENT;
    }

    for (i = 0; i < size; i++) {
        /* |input + input_offset| <= 65536: the sum fits easily in int32. */
        const int32_t value = edgec_multiply_by_quantized_multiplier(
            input[i] + params->input_offset, params->output_multiplier, params->output_shift);

        output[i] = (int8_t)edgec_offset_and_clamp(value, params->output_offset,
                                                   params->activation_min,
                                                   params->activation_max);
    }
    return EDGEC_OK;
}
