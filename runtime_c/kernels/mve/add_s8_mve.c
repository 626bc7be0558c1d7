/*
 * edgec Helium (MVE) kernel: elementwise add or subtract of two int8 tensors of the
 * output's shape (no broadcasting), with TFLite's int8 rescaling to a common scale as the
 * reference kernel edgec_add_s8 does it, four elements per int32 vector:
 *   shifted = (input + input_offset) << left_shift      one VMLAS: input * 2^left_shift
 *                                                        + input_offset * 2^left_shift
 *   scaled  = multiply_by_quantized_multiplier(shifted)  per input (mve_requantize.h)
 *   output  = clamp(multiply_by_quantized_multiplier(scaled1 +- scaled2) + output_offset)
 * The products and sums wrap modulo 2^32 like the reference's (edgec_shift_left_wrap,
 * edgec_add_wrap); the rescaling is bit-exact in both rounding modes, and lane by lane
 * with the scalar helpers when single rounding meets a shift of 0 or more.
 *
 * Element i of the output is written after element i of both inputs is read, in
 * increasing order, so the output may overlap an input at the same address.
 */
#include "edgec/kernel_checks.h"
#include "edgec/kernels_mve.h"
#include "edgec/mve_requantize.h"

/* Returns whether every dimension of size > 1 has the contiguous stride in `strides`. */
static int contiguous(const int32_t shape[4], const int32_t strides[4])
{
    int32_t stride = 1;
    int axis;

    for (axis = 3; axis >= 0; axis--) {
        if (shape[axis] < 0 || (shape[axis] > 1 && strides[axis] != stride)) {
            return 0;
        }
        stride *= shape[axis];
    }
    return 1;
}

/* The rescaling of one input: its offset and left shift as one multiply-add, then its
 * multiplier. */
typedef struct {
    int32x4_t left_factor; /* 2^left_shift in every lane, 0 from 2^32 on */
    int32_t shifted_offset; /* input_offset * 2^left_shift, modulo 2^32 */
    edgec_mve_uniform_quant quant;
} input_scale;

static input_scale input_scale_of(int32_t offset, int32_t multiplier, int32_t shift,
                                  int32_t left_shift)
{
    input_scale scale;
    const uint32_t factor = left_shift < 32 ? (uint32_t)1 << left_shift : 0u;

    scale.left_factor = vdupq_n_s32(edgec_wrap_int32(factor));
    scale.shifted_offset = edgec_wrap_int32((uint32_t)offset * factor);
    scale.quant = edgec_mve_uniform_quant_of(0, multiplier, shift);
    return scale;
}

/* Returns the rescaled values of four input elements. The tie correction is always on:
 * no clamp follows. */
EDGEC_MVE_INLINE int32x4_t rescale(int32x4_t values, const input_scale *scale, int mode)
{
    const int32x4_t shifted = vmlasq_n_s32(values, scale->left_factor, scale->shifted_offset);

    return edgec_mve_scale_uniform(shifted, &scale->quant,
                                   mode & ~EDGEC_MVE_REQUANT_TIES_CLAMPED);
}

/* Returns one output value the reference's way, for EDGEC_MVE_REQUANT_SCALAR. */
static int32_t add_one(const edgec_add_params *params, int32_t sign, int32_t input1_value,
                       int32_t input2_value)
{
    const int32_t scaled1 = edgec_multiply_by_quantized_multiplier(
        edgec_shift_left_wrap(input1_value + params->input1_offset, params->left_shift),
        params->input1_multiplier, params->input1_shift);
    const int32_t scaled2 = edgec_multiply_by_quantized_multiplier(
        edgec_shift_left_wrap(input2_value + params->input2_offset, params->left_shift),
        params->input2_multiplier, params->input2_shift);
    const int32_t raw_sum = sign > 0 ? edgec_add_wrap(scaled1, scaled2)
                                     : edgec_subtract_wrap(scaled1, scaled2);

    return edgec_offset_and_clamp(
        edgec_multiply_by_quantized_multiplier(raw_sum, params->output_multiplier,
                                               params->output_shift),
        params->output_offset, params->activation_min, params->activation_max);
}

/* Returns the outputs of four elements. `mode` and `subtract` must be constants. */
EDGEC_MVE_INLINE int32x4_t add_four(int32x4_t values1, int32x4_t values2,
                                    const input_scale *scale1, const input_scale *scale2,
                                    const edgec_mve_uniform_quant *output_quant,
                                    const edgec_mve_output_stage *stage, int mode,
                                    int subtract)
{
    const int32x4_t scaled1 = rescale(values1, scale1, mode);
    const int32x4_t scaled2 = rescale(values2, scale2, mode);
    const int32x4_t raw_sum = subtract ? vsubq_s32(scaled1, scaled2) : vaddq_s32(scaled1, scaled2);

    return edgec_mve_offset_and_clamp(edgec_mve_scale_uniform(raw_sum, output_quant, mode),
                                      stage);
}

EDGEC_MVE_INLINE void add_elements(const edgec_add_params *params, int32_t count,
                                   const int8_t *input1, const int8_t *input2, int8_t *output,
                                   int mode, int subtract)
{
    const input_scale scale1 = input_scale_of(params->input1_offset, params->input1_multiplier,
                                              params->input1_shift, params->left_shift);
    const input_scale scale2 = input_scale_of(params->input2_offset, params->input2_multiplier,
                                              params->input2_shift, params->left_shift);
    const edgec_mve_uniform_quant output_quant =
        edgec_mve_uniform_quant_of(0, params->output_multiplier, params->output_shift);
    const edgec_mve_output_stage stage = edgec_mve_make_output_stage(
        params->output_offset, params->activation_min, params->activation_max);
    const int32_t full = count - count % 4;
    int32_t index;

    for (index = 0; index < full; index += 4) {
        const int32x4_t result =
            add_four(vldrbq_s32(input1 + index), vldrbq_s32(input2 + index), &scale1, &scale2,
                     &output_quant, &stage, mode, subtract);

        vstrbq_s32(output + index, result);
    }
    if (full < count) {
        const mve_pred16_t active = vctp32q((uint32_t)(count - full));
        const int32x4_t result = add_four(vldrbq_z_s32(input1 + full, active),
                                          vldrbq_z_s32(input2 + full, active), &scale1,
                                          &scale2, &output_quant, &stage, mode, subtract);

        vstrbq_p_s32(output + full, result, active);
    }
}

/*
 * Returns the requantization mode of the three rescalings (mve_requantize.h): right
 * shifts only when all three are, ties hidden by the clamp as the output's are, and lane
 * by lane when any of them needs it.
 */
static int add_mode(const edgec_add_params *params)
{
    const int32_t shifts[3] = {params->input1_shift, params->input2_shift, params->output_shift};

    return edgec_mve_requant_mode(shifts, 3, params->output_offset, params->activation_min);
}

edgec_status edgec_add_s8_mve(const edgec_add_params *params, int32_t sign,
                              const edgec_broadcast *broadcast,
                              const int8_t *input1, const int8_t *input2, int8_t *output)
{
    const int32_t *shape = broadcast->shape;
    int32_t count;
    int32_t index;
    int mode;

    if ((sign != 1 && sign != -1) || params->left_shift < 0 ||
        !contiguous(shape, broadcast->input1_strides) ||
        !contiguous(shape, broadcast->input2_strides)) {
        return EDGEC_ERROR_ARGUMENT;
    }
    if (!edgec_activation_range_s8_valid(params->activation_min, params->activation_max)) {
        return EDGEC_ERROR_ARGUMENT;
    }

    count = shape[0] * shape[1] * shape[2] * shape[3];
    mode = add_mode(params);
    if (mode == EDGEC_MVE_REQUANT_SCALAR) {
        for (index = 0; index < count; index++) {
            output[index] = (int8_t)add_one(params, sign, input1[index], input2[index]);
        }
        return EDGEC_OK;
    }
#define ADD(constant_mode)                                                             \
    do {                                                                               \
        if (sign > 0) {                                                                \
            add_elements(params, count, input1, input2, output, constant_mode, 0);      \
        } else {                                                                       \
            add_elements(params, count, input1, input2, output, constant_mode, 1);      \
        }                                                                              \
    } while (0)
    EDGEC_MVE_DISPATCH_MODE(mode, ADD);
#undef ADD
    return EDGEC_OK;
}
