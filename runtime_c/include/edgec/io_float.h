/*
 * edgec runtime: float <-> integer conversion at the model boundary.
 *
 * Only the float I/O helpers of the generated model_io.c call these; model_invoke never
 * does, so the inference path stays integer-only. The arithmetic is TFLite's:
 * quantize computes roundf(x / scale) + zero_point in float32 and saturates;
 * dequantize computes (float)(scale * (q - zero_point)) in double.
 */
#ifndef EDGEC_IO_FLOAT_H
#define EDGEC_IO_FLOAT_H

#include <stdint.h>

void edgec_quantize_f32_s8(int32_t size, float scale, int32_t zero_point,
                           const float *input, int8_t *output);

void edgec_dequantize_s8_f32(int32_t size, float scale, int32_t zero_point,
                             const int8_t *input, float *output);

#endif /* EDGEC_IO_FLOAT_H */
