/*
 * edgec runtime: float <-> int8 conversion at the model boundary, with TFLite's
 * arithmetic. Only the generated float I/O helpers call these; the inference path is
 * integer-only. The results equal the reference interpreter's quantize and dequantize
 * (compiler/edgec/reference/int_ops.py) for finite inputs whose quotient x / scale is
 * below 2^63 in magnitude.
 */
#include <math.h>

#include "edgec/io_float.h"

/*
 * output = clamp(roundf(x / scale) + zero_point, -128, 127): float32 division, rounding
 * half away from zero. The clamp is applied to the rounded float before its conversion
 * to an integer, so large values saturate instead of overflowing; NaN gives -128.
 */
void edgec_quantize_f32_s8(int32_t size, float scale, int32_t zero_point,
                           const float *input, int8_t *output)
{
    const float lowest = (float)(-128 - zero_point);
    const float highest = (float)(127 - zero_point);
    int32_t i;

    for (i = 0; i < size; i++) {
        const float rounded = roundf(input[i] / scale);

        if (!(rounded >= lowest)) {
            output[i] = -128;
        } else if (rounded > highest) {
            output[i] = 127;
        } else {
            output[i] = (int8_t)((int32_t)rounded + zero_point);
        }
    }
}

/* output = (float)(scale * (q - zero_point)), the product taken in double. */
void edgec_dequantize_s8_f32(int32_t size, float scale, int32_t zero_point,
                             const int8_t *input, float *output)
{
    int32_t i;

    for (i = 0; i < size; i++) {
        output[i] = (float)((double)scale * (double)(input[i] - zero_point));
    }
}
