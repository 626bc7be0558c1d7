/*
 * edgec reference kernel: clamp of an int8 tensor to [activation_min, activation_max]
 * (a standalone Relu, Relu6 or Clip whose input and output share quantization).
 */
#include "edgec/fixed_point.h"
#include "edgec/kernel_checks.h"
#include "edgec/kernels.h"

edgec_status edgec_clip_s8(int32_t activation_min, int32_t activation_max, int32_t size,
                           const int8_t *input, int8_t *output)
{
    int32_t i;

    if (size < 0 || !edgec_activation_range_s8_valid(activation_min, activation_max)) {
        return EDGEC_ERROR_ARGUMENT;
    }
    /* Element i is read before it is written, so input == output works. */
    for (i = 0; i < size; i++) {
        output[i] = (int8_t)edgec_clamp(input[i], activation_min, activation_max);
    }
    return EDGEC_OK;
}
