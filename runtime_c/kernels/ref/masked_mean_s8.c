/*
 * edgec reference kernel: mean over the rows whose mask value is not 0 (kernels_matmul.h),
 * the mean pooling of a sentence encoder. The arithmetic is the reference interpreter's
 * masked_mean (compiler/edgec/reference/int_matmul.py).
 *
 * Error bound, against the float masked mean of the dequantized input clamped to the int8
 * range: at most 7/8 output step with double rounding and 3/4 step with single rounding
 * (EDGEC_SINGLE_ROUNDING). The Q31 multiplier adds 2^-31 times the exact mean in steps.
 * With every row masked the output is the output zero point, which is the float result
 * 0.0 exactly.
 */
#include <stddef.h>

#include "edgec/fixed_point.h"
#include "edgec/kernel_checks.h"
#include "edgec/kernels.h"

/* Channels summed at once. Their int32 sums stay on the stack, 64 bytes of a 160-byte
 * Cortex-M4 frame. */
#define MASKED_MEAN_TILE 16

/* value / count rounded half away from zero, for count >= 1. */
static int32_t divide_round_half_away(int32_t value, int32_t count)
{
    const int64_t magnitude = value < 0 ? -(int64_t)value : (int64_t)value;
    const int64_t quotient = (magnitude + count / 2) / count;

    return (int32_t)(value < 0 ? -quotient : quotient);
}

edgec_status edgec_masked_mean_s8(const edgec_masked_mean_params *params, int32_t batches,
                                  int32_t rows, int32_t channels, const int8_t *input,
                                  const int32_t *mask, int8_t *output)
{
    int32_t sums[MASKED_MEAN_TILE];
    int32_t batch;
    int32_t c0;

    if (batches < 0 || rows < 0 || rows > EDGEC_MASKED_MEAN_MAX_ROWS || channels < 0) {
        return EDGEC_ERROR_ARGUMENT;
    }
    if (params->input_offset < -127 || params->input_offset > 128 ||
        params->output_multiplier < 0) {
        return EDGEC_ERROR_ARGUMENT;
    }
    if (!edgec_activation_range_s8_valid(params->activation_min, params->activation_max)) {
        return EDGEC_ERROR_ARGUMENT;
    }

    for (batch = 0; batch < batches; batch++) {
        const int8_t *matrix = input + (size_t)batch * (size_t)rows * (size_t)channels;
        const int32_t *row_mask = mask + (size_t)batch * (size_t)rows;
        int32_t count = 0;
        int32_t t;

        for (t = 0; t < rows; t++) {
            count += row_mask[t] != 0;
        }
        /* Rows are contiguous, so each tile of channels reads the counted rows in order. */
        for (c0 = 0; c0 < channels; c0 += MASKED_MEAN_TILE) {
            const int32_t width =
                channels - c0 < MASKED_MEAN_TILE ? channels - c0 : MASKED_MEAN_TILE;
            int32_t j;

            for (j = 0; j < width; j++) {
                sums[j] = 0;
            }
            /* |sum of inputs| <= 128 * rows, and with the offsets added at most
             * 255 * rows < 2^31 (rows <= EDGEC_MASKED_MEAN_MAX_ROWS). */
            for (t = 0; t < rows; t++) {
                const int8_t *values = matrix + (size_t)t * (size_t)channels + c0;

                if (row_mask[t] == 0) {
                    continue;
                }
                for (j = 0; j < width; j++) {
                    sums[j] += values[j];
                }
            }
            for (j = 0; j < width; j++) {
                int32_t mean = 0;

                if (count > 0) {
                    const int32_t rescaled = edgec_multiply_by_quantized_multiplier(
                        sums[j] + params->input_offset * count, params->output_multiplier,
                        params->output_shift);

                    mean = divide_round_half_away(rescaled, count);
                }
                *output++ = (int8_t)edgec_offset_and_clamp(mean, params->output_offset,
                                                           params->activation_min,
                                                           params->activation_max);
            }
        }
    }
    return EDGEC_OK;
}
