/*
 * edgec reference kernel: elementwise add or subtract of int8 tensors with broadcasting.
 * Both inputs are shifted left by params->left_shift, rescaled to a common scale with
 * their own multipliers, added (or subtracted), and rescaled to the output scale. The
 * arithmetic is the reference interpreter's add/sub (compiler/edgec/reference/int_ops.py),
 * which is TFLite's int8 Add/Sub. Sums wrap modulo 2^32 as in the interpreter. With the
 * compiler's parameters (left_shift 20, input multipliers below 1/2) they stay below 2^29.
 */
#include "edgec/fixed_point.h"
#include "edgec/kernel_checks.h"
#include "edgec/kernels.h"

/* Returns one output value of input1 + sign * input2 (sign is 1 or -1). */
static int8_t add_one(const edgec_add_params *params, int32_t sign, int32_t input1_value,
                      int32_t input2_value)
{
    const int32_t shifted1 =
        edgec_shift_left_wrap(input1_value + params->input1_offset, params->left_shift);
    const int32_t shifted2 =
        edgec_shift_left_wrap(input2_value + params->input2_offset, params->left_shift);
    const int32_t scaled1 = edgec_multiply_by_quantized_multiplier(
        shifted1, params->input1_multiplier, params->input1_shift);
    const int32_t scaled2 = edgec_multiply_by_quantized_multiplier(
        shifted2, params->input2_multiplier, params->input2_shift);
    const int32_t raw_sum = sign > 0 ? edgec_add_wrap(scaled1, scaled2)
                                     : edgec_subtract_wrap(scaled1, scaled2);
    const int32_t raw_output = edgec_multiply_by_quantized_multiplier(
        raw_sum, params->output_multiplier, params->output_shift);

    return (int8_t)edgec_offset_and_clamp(raw_output, params->output_offset,
                                          params->activation_min, params->activation_max);
}

edgec_status edgec_add_s8(const edgec_add_params *params, int32_t sign,
                          const edgec_broadcast *broadcast,
                          const int8_t *input1, const int8_t *input2, int8_t *output)
{
    const int32_t *shape = broadcast->shape;
    const int32_t *strides1 = broadcast->input1_strides;
    const int32_t *strides2 = broadcast->input2_strides;
    int32_t i0;
    int32_t i1;
    int32_t i2;
    int32_t i3;

    if ((sign != 1 && sign != -1) || !edgec_broadcast_valid(broadcast) || params->left_shift < 0) {
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
                    *output++ = add_one(params, sign, row1[i3 * strides1[3]],
                                        row2[i3 * strides2[3]]);
                }
            }
        }
    }
    return EDGEC_OK;
}
