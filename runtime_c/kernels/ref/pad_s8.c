/*
 * edgec reference kernel: constant padding of an int8 tensor padded to 4-D. Output
 * dimension i has pads_before[i] + input_shape[i] + pads_after[i] elements; elements
 * outside the input get pad_value (the zero point, so they read as real 0.0).
 */
#include "edgec/kernels.h"

/* Returns whether the shape and every pad are non-negative. */
static int pad_arguments_valid(const int32_t input_shape[4], const int32_t pads_before[4],
                               const int32_t pads_after[4])
{
    int axis;

    for (axis = 0; axis < 4; axis++) {
        if (input_shape[axis] < 0 || pads_before[axis] < 0 || pads_after[axis] < 0) {
            return 0;
        }
    }
    return 1;
}

/* Returns whether index lies inside the input along `axis` once shifted by the pad. */
static int inside(int32_t index, int axis, const int32_t input_shape[4],
                  const int32_t pads_before[4])
{
    return index >= pads_before[axis] && index < pads_before[axis] + input_shape[axis];
}

edgec_status edgec_pad_s8(const int32_t input_shape[4], const int32_t pads_before[4],
                          const int32_t pads_after[4], int8_t pad_value,
                          const int8_t *input, int8_t *output)
{
    int32_t shape[4]; /* output shape */
    int32_t i0;
    int32_t i1;
    int32_t i2;
    int32_t i3;
    int axis;

    if (!pad_arguments_valid(input_shape, pads_before, pads_after)) {
        return EDGEC_ERROR_ARGUMENT;
    }
    for (axis = 0; axis < 4; axis++) {
        shape[axis] = pads_before[axis] + input_shape[axis] + pads_after[axis];
    }

    /* The input is read in order: each element inside it is the next input element. */
    for (i0 = 0; i0 < shape[0]; i0++) {
        for (i1 = 0; i1 < shape[1]; i1++) {
            for (i2 = 0; i2 < shape[2]; i2++) {
                const int row_inside = inside(i0, 0, input_shape, pads_before) &&
                                       inside(i1, 1, input_shape, pads_before) &&
                                       inside(i2, 2, input_shape, pads_before);

                for (i3 = 0; i3 < shape[3]; i3++) {
                    if (row_inside && inside(i3, 3, input_shape, pads_before)) {
                        *output++ = *input++;
                    } else {
                        *output++ = pad_value;
                    }
                }
            }
        }
    }
    return EDGEC_OK;
}
