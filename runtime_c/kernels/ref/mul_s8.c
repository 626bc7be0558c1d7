/*
 * edgec reference kernel: elementwise multiply of int8 tensors with broadcasting. The
 * product of the offset inputs is requantized to the output scale. The arithmetic is the
 * reference interpreter's mul (compiler/edgec/reference/int_ops.py), which is TFLite's
 * int8 Mul.
 */
#include "edgec/fixed_point.h"
#include "edgec/kernel_checks.h"
#include "edgec/kernels.h"

edgec_status edgec_mul_s8(const edgec_mul_params *params, const edgec_broadcast *broadcast,
                          const int8_t *input1, const int8_t *input2, int8_t *output)
{
    const int32_t *shape = broadcast->shape;
    const int32_t *strides1 = broadcast->input1_strides;
    const int32_t *strides2 = broadcast->input2_strides;
    int32_t i0;
    int32_t i1;
    int32_t i2;
    int32_t i3;

    if (!edgec_broadcast_valid(broadcast)) {
        return EDGEC_ERROR_ARGUMENT;
    }
    if (!edgec_activation_range_s8_valid(params->activation_min, params->activation_max)) {
        return EDGEC_ERROR_ARGUMENT;
    }

    for (i0 = 0; i0 < shape[0]; i0++) {
        for (i1 = 0; i1 < shape[1]; i1++) {
            for (i2 = 0; i2 < shape[2]; i2++) {
                const int8_t *row1 = input1 + i0 * strides1[0] + i1 * strides1[1] +
                                     i2 * strides1[2];
                const int8_t *row2 = input2 + i0 * strides2[0] + i1 * strides2[1] +
                                     i2 * strides2[2];

                for (i3 = 0; i3 < shape[3]; i3++) {
                    /* Offsets are negated int8 zero points, so the product is at most
                     * 255 * 255 in magnitude. */
                    const int32_t product = (row1[i3 * strides1[3]] + params->input1_offset) *
                                            (row2[i3 * strides2[3]] + params->input2_offset);
                    const int32_t value = edgec_multiply_by_quantized_multiplier(
                        product, params->output_multiplier, params->output_shift);

                    *output++ = (int8_t)edgec_offset_and_clamp(value, params->output_offset,
                                                               params->activation_min,
                                                               params->activation_max);
                }
            }
        }
    }
    return EDGEC_OK;
}
