/*
 * edgec reference kernel: GELU of an int8 tensor by table lookup, output int8. The compiler
 * (compiler/edgec/lower/params_attention.py) fills the 256-entry table with the float64
 * GELU x * Phi(x) of every dequantized input, rounded half away from zero to the output's
 * quantization and clamped to int8. The kernel only indexes it. The reference is gelu in
 * compiler/edgec/reference/int_attention.py.
 *
 * Error bound (tests/reference/test_attention_error_bounds.py, all 256 inputs for several
 * scales and zero points): |dequantized output - gelu(dequantized input)| <= 0.5 output LSB
 * plus float64 rounding, except where the output clamps to -128 or 127.
 */
#include "edgec/kernels.h"

edgec_status edgec_gelu_s8(const int8_t table[256], int32_t size, const int8_t *input,
                           int8_t *output)
{
    int32_t i;

    if (size < 0 || table == NULL) {
        return EDGEC_ERROR_ARGUMENT;
    }
    /* Each element is read before it is written, so input == output works. */
    for (i = 0; i < size; i++) {
        output[i] = table[(int32_t)input[i] + 128];
    }
    return EDGEC_OK;
}
