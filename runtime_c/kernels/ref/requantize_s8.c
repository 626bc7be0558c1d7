/*
 * edgec reference kernel: int8 to int8 requantization (a new scale and zero point). The
 * arithmetic is the reference interpreter's int8 quantize
 * (compiler/edgec/reference/int_ops.py), which is TFLite's Requantize.
 */
#include "edgec/fixed_point.h"
#include "edgec/kernel_checks.h"
#include "edgec/kernels.h"

edgec_status edgec_requantize_s8(const edgec_requantize_params *params, int32_t size,
                                 const int8_t *input, int8_t *output)
{
    int32_t i;

    if (size < 0 ||
        !edgec_activation_range_s8_valid(params->activation_min, params->activation_max)) {
        return EDGEC_ERROR_ARGUMENT;
    }

    for (i = 0; i < size; i++) {
        /* The offset is a negated int8 zero point: the sum fits easily in int32. */
        const int32_t value = edgec_multiply_by_quantized_multiplier(
            input[i] + params->input_offset, params->output_multiplier, params->output_shift);

        output[i] = (int8_t)edgec_offset_and_clamp(value, params->output_offset,
                                                   params->activation_min,
                                                   params->activation_max);
    }
    return EDGEC_OK;
}
