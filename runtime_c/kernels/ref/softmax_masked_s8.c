/*
 * edgec reference kernel: softmax over the last axis of an int8 tensor with an optional
 * mask. The output is int8 with scale 1/256 and zero point -128. The arithmetic is
 * softmax_rows of compiler/edgec/reference/int_attention.py, which is TFLite's int8 Softmax
 * (gemmlowp's fixed-point exp and reciprocal) plus the mask. edgec/kernels_softmax_core.h
 * lists its steps and shares them with edgec_softmax_s16_s8. Without a mask (mask NULL) it
 * computes what edgec_softmax_s8 computes for depth <= 8191.
 *
 * Error bound (tests/reference/test_attention_error_bounds.py, int8 input scales 0.01 ..
 * 0.2, depth 1 .. 64, with and without masks): at most 0.52 output LSB (1/256) from the
 * float64 softmax over the kept positions, with the float probability capped at 255/256
 * (the largest output). So the error reaches 1 LSB only for a probability near 1.
 */
#include "edgec/kernels.h"
#include "edgec/kernels_softmax_core.h"

edgec_status edgec_softmax_masked_s8(const edgec_softmax_params *params, int32_t rows,
                                     int32_t depth, const int8_t *input, const int32_t *mask,
                                     int8_t *output)
{
    if (rows < 0 || depth < 1 || depth > EDGEC_SOFTMAX_MAX_MASKED_DEPTH ||
        params->input_left_shift < 0 || params->diff_min > 0) {
        return EDGEC_ERROR_ARGUMENT;
    }
    edgec_softmax_masked_rows(params, rows, depth, input, (int32_t)sizeof *input, mask, output);
    return EDGEC_OK;
}
