/*
 * edgec reference kernel: concatenation of int8 tensors along one axis. The output is
 * viewed as `outer` rows, and output row r is row r of each input in turn. A row of input
 * k is copy_sizes[k] bytes long: its size along the axis times the sizes of the axes after
 * it. Inputs and output share quantization, so this is a byte copy.
 */
#include "edgec/kernels.h"

edgec_status edgec_concat_s8(int32_t outer, int32_t count, const int8_t *const *inputs,
                             const int32_t *copy_sizes, int8_t *output)
{
    int32_t row;
    int32_t k;
    int32_t i;

    if (outer < 0 || count < 0) {
        return EDGEC_ERROR_ARGUMENT;
    }
    for (k = 0; k < count; k++) {
        if (copy_sizes[k] < 0) {
            return EDGEC_ERROR_ARGUMENT;
        }
    }

    for (row = 0; row < outer; row++) {
        for (k = 0; k < count; k++) {
            const int8_t *source = inputs[k] + row * copy_sizes[k];

            for (i = 0; i < copy_sizes[k]; i++) {
                *output++ = source[i];
            }
        }
    }
    return EDGEC_OK;
}
