/* Reference int8 mean over axes (TFLite's MEAN); see edgec/kernels.h. */
#include "edgec/fixed_point.h"
#include "edgec/kernels.h"

edgec_status edgec_mean_s8(const edgec_mean_params *params, const int32_t input_shape[4],
                           const int32_t reduce_axes[4], const int8_t *input, int8_t *output)
{
    int32_t outer[4]; /* extent of each dim in the output loop (1 on a reduced dim) */
    int32_t inner[4]; /* extent of each dim in the reduction loop (1 on a kept dim) */
    int32_t strides[4];
    int32_t o[4], r[4];
    int32_t axis;

    strides[3] = 1;
    for (axis = 2; axis >= 0; --axis) {
        strides[axis] = strides[axis + 1] * input_shape[axis + 1];
    }
    for (axis = 0; axis < 4; ++axis) {
        outer[axis] = reduce_axes[axis] ? 1 : input_shape[axis];
        inner[axis] = reduce_axes[axis] ? input_shape[axis] : 1;
    }
    if (params->count < 1) {
        return EDGEC_ERROR_ARGUMENT;
    }
    for (o[0] = 0; o[0] < outer[0]; ++o[0])
    for (o[1] = 0; o[1] < outer[1]; ++o[1])
    for (o[2] = 0; o[2] < outer[2]; ++o[2])
    for (o[3] = 0; o[3] < outer[3]; ++o[3]) {
        /* |sum| <= 128 * count: no int32 overflow below 16 million elements. */
        int32_t sum = 0;
        int32_t result;
        for (r[0] = 0; r[0] < inner[0]; ++r[0])
        for (r[1] = 0; r[1] < inner[1]; ++r[1])
        for (r[2] = 0; r[2] < inner[2]; ++r[2])
        for (r[3] = 0; r[3] < inner[3]; ++r[3]) {
            sum += input[(o[0] + r[0]) * strides[0] + (o[1] + r[1]) * strides[1]
                         + (o[2] + r[2]) * strides[2] + (o[3] + r[3]) * strides[3]];
        }
        sum += params->input_offset * params->count;
        result = edgec_multiply_by_quantized_multiplier(sum, params->output_multiplier,
                                                        params->output_shift);
        result += params->output_offset;
        *output++ = (int8_t)edgec_clamp(result, params->activation_min, params->activation_max);
    }
    return EDGEC_OK;
}
