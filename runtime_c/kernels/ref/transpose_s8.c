/*
 * edgec reference kernel: transpose of an int8 tensor padded to 4-D. Output dimension i is
 * input dimension perm[i], as numpy.transpose(input, perm).
 */
#include "edgec/kernels.h"

/* Returns whether the shape is non-negative and perm is a permutation of 0..3. */
static int transpose_arguments_valid(const int32_t input_shape[4], const int32_t perm[4])
{
    int seen[4] = {0, 0, 0, 0};
    int axis;

    for (axis = 0; axis < 4; axis++) {
        if (input_shape[axis] < 0 || perm[axis] < 0 || perm[axis] > 3 || seen[perm[axis]]) {
            return 0;
        }
        seen[perm[axis]] = 1;
    }
    return 1;
}

edgec_status edgec_transpose_s8(const int32_t input_shape[4], const int32_t perm[4],
                                const int8_t *input, int8_t *output)
{
    int32_t input_strides[4];
    int32_t shape[4];   /* output shape */
    int32_t strides[4]; /* input stride of each output dimension */
    int32_t i0;
    int32_t i1;
    int32_t i2;
    int32_t i3;
    int axis;

    if (!transpose_arguments_valid(input_shape, perm)) {
        return EDGEC_ERROR_ARGUMENT;
    }
    input_strides[3] = 1;
    for (axis = 2; axis >= 0; axis--) {
        input_strides[axis] = input_strides[axis + 1] * input_shape[axis + 1];
    }
    for (axis = 0; axis < 4; axis++) {
        shape[axis] = input_shape[perm[axis]];
        strides[axis] = input_strides[perm[axis]];
    }

    for (i0 = 0; i0 < shape[0]; i0++) {
        for (i1 = 0; i1 < shape[1]; i1++) {
            for (i2 = 0; i2 < shape[2]; i2++) {
                const int8_t *row = input + i0 * strides[0] + i1 * strides[1] + i2 * strides[2];

                for (i3 = 0; i3 < shape[3]; i3++) {
                    *output++ = row[i3 * strides[3]];
                }
            }
        }
    }
    return EDGEC_OK;
}
