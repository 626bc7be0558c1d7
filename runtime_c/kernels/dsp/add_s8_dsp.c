/*
 * edgec DSP kernel variant: elementwise add or subtract of two int8 tensors of the same
 * shape. Same result as the reference edgec_add_s8 (TFLite's int8 Add/Sub): each input
 * shifted left by left_shift and rescaled to a common scale with its own multiplier, the
 * two summed, then rescaled to the output scale.
 *
 * The rescaled input depends only on the int8 value. So for tensors of at least
 * TABLE_MIN_SIZE elements the kernel first tabulates both inputs as 2 x 256 int32 (2 KB)
 * in the scratch buffer the compiler plans for the call. The sign of a subtraction is
 * folded into the second table. Per element that leaves 2 LDRB, 2 table loads, one ADD
 * and the output requantization.
 *
 * The fast form applies when the output multiplier, shift and offset fit
 * dsp_dw_requantize.h and both inputs fit fast_table_fits (the compiler's parameters do:
 * left shift 20, input shifts in [-22, 0]). The tables then hold doubled values computed
 * with SMMLAR (about 9 instructions per entry), and the output takes SMMLAR, ASR and SSAT
 * with its constants in registers: about 11 instructions per element with the loads and
 * the loop. Otherwise the tables come from fixed_point.h and so does the output of each
 * element. Smaller tensors, broadcasts (which the variant's predicate excludes) and calls
 * without scratch run the reference arithmetic.
 *
 * Element i of the output is written after element i of both inputs is read, and no input
 * element is read after that, so the output may share an input's buffer.
 */
#include <string.h>

#include "edgec/dsp.h"
#include "edgec/dsp_dw_requantize.h"
#include "edgec/kernel_checks.h"
#include "edgec/kernels_dsp.h"

/* Minimum element count for which the tables are built. Measured on cortex-m4 (QEMU
 * icount), the 512 table values take about 4,600 instructions and each element then
 * about 11 instead of about 143, so the tables pay off from about 35 elements. */
#define TABLE_MIN_SIZE 64

/* Returns whether both inputs are dense tensors of the broadcast shape: the same
 * element order as the output, with no broadcast axis. */
static int same_shape(const edgec_broadcast *broadcast)
{
    int32_t step = 1;
    int axis;

    for (axis = 3; axis >= 0; axis--) {
        if (broadcast->shape[axis] != 1 && (broadcast->input1_strides[axis] != step ||
                                            broadcast->input2_strides[axis] != step)) {
            return 0;
        }
        step *= broadcast->shape[axis];
    }
    return 1;
}

/* Returns input `value` shifted left and rescaled: the reference kernel's scaled1/2. */
static int32_t rescale_input(int32_t value, int32_t offset, int32_t left_shift,
                             int32_t multiplier, int32_t shift)
{
    return edgec_multiply_by_quantized_multiplier(edgec_shift_left_wrap(value + offset, left_shift),
                                                  multiplier, shift);
}

/* Returns one output value of scaled1 + scaled2 (the second already carries the sign),
 * with the reference kernel's wrapping sum. */
static int8_t output_value(const edgec_add_params *params, int32_t scaled1, int32_t scaled2)
{
    const int32_t raw_output = edgec_multiply_by_quantized_multiplier(
        edgec_add_wrap(scaled1, scaled2), params->output_multiplier, params->output_shift);

    return (int8_t)edgec_offset_and_clamp(raw_output, params->output_offset,
                                          params->activation_min, params->activation_max);
}

/* Returns scaled2 with the sign of the operation applied, modulo 2^32 as the reference
 * kernel's subtract_wrap does. */
static int32_t signed_scaled(int32_t sign, int32_t scaled)
{
    return sign > 0 ? scaled : edgec_subtract_wrap(0, scaled);
}

/* The reference arithmetic for any broadcast, one element at a time. */
static void add_broadcast(const edgec_add_params *params, int32_t sign,
                          const edgec_broadcast *broadcast, const int8_t *input1,
                          const int8_t *input2, int8_t *output)
{
    const int32_t *shape = broadcast->shape;
    const int32_t *strides1 = broadcast->input1_strides;
    const int32_t *strides2 = broadcast->input2_strides;
    int32_t i0;
    int32_t i1;
    int32_t i2;
    int32_t i3;

    for (i0 = 0; i0 < shape[0]; i0++) {
        for (i1 = 0; i1 < shape[1]; i1++) {
            for (i2 = 0; i2 < shape[2]; i2++) {
                const int8_t *row1 = input1 + i0 * strides1[0] + i1 * strides1[1] +
                                     i2 * strides1[2];
                const int8_t *row2 = input2 + i0 * strides2[0] + i1 * strides2[1] +
                                     i2 * strides2[2];

                for (i3 = 0; i3 < shape[3]; i3++) {
                    const int32_t scaled1 = rescale_input(
                        row1[i3 * strides1[3]], params->input1_offset, params->left_shift,
                        params->input1_multiplier, params->input1_shift);
                    const int32_t scaled2 = rescale_input(
                        row2[i3 * strides2[3]], params->input2_offset, params->left_shift,
                        params->input2_multiplier, params->input2_shift);

                    *output++ = output_value(params, scaled1, signed_scaled(sign, scaled2));
                }
            }
        }
    }
}

/*
 * Returns whether fill_fast_table may tabulate the input: a non-negative multiplier, a
 * shift in [-22, 0] and |(value + offset) * 2^left_shift| below 2^29 for every int8 value
 * (the rescaled values are then below 2^29 too, so two of them sum below 2^30).
 */
static int fast_table_fits(int32_t offset, int32_t left_shift, int32_t multiplier,
                           int32_t shift)
{
    const int64_t low = (int64_t)offset - 128;
    const int64_t high = (int64_t)offset + 127;
    const int64_t largest = low < 0 && -low > high ? -low : high;

    return multiplier >= 0 && shift >= -22 && shift <= 0 && left_shift < 29 &&
           largest < ((int64_t)1 << (29 - left_shift));
}

/*
 * Fills `table` (indexed by the byte's bit pattern, value & 0xFF) with twice the rescaled
 * values of an input accepted by fast_table_fits, times `sign`: edgec_dsp_dw_multiply on
 * 2x, or SMMLAR(2x, m, 0), the doubling high multiply alone, for shift 0.
 */
static void fill_fast_table(int32_t offset, int32_t left_shift, int32_t multiplier,
                            int32_t shift, int32_t sign, int32_t *table)
{
    const int32_t step = 2 * (1 << left_shift);
    const int32_t factor = 2 * sign;
    int32_t twice_x = (offset - 128) * step;
    int32_t value;

    if (shift < 0) {
        edgec_dsp_dw_requant record;

        edgec_dsp_dw_requant_init(&record, multiplier, shift, 0);
        for (value = -128; value < 128; value++) {
            table[value & 0xFF] = factor * edgec_dsp_dw_multiply(twice_x, &record);
            twice_x += step;
        }
    } else {
        for (value = -128; value < 128; value++) {
            table[value & 0xFF] = factor * edgec_dsp_smmlar(twice_x, multiplier, 0);
            twice_x += step;
        }
    }
}

/* Fills `table` with the rescaled values of any input, times `sign` modulo 2^32 (the
 * reference's subtract_wrap). */
static void fill_exact_table(const edgec_add_params *params, int32_t offset,
                             int32_t multiplier, int32_t shift, int32_t sign, int32_t *table)
{
    int32_t value;

    for (value = -128; value < 128; value++) {
        table[value & 0xFF] = signed_scaled(
            sign, rescale_input(value, offset, params->left_shift, multiplier, shift));
    }
}

/* One element of the fast form: doubled table values, requantized with `requant`; the
 * post-incremented pointers become LDRB/STRB with writeback. */
#define FAST_ELEMENT()                                                                    \
    do {                                                                                  \
        const int32_t twice_sum = table1[*input1++] + table2[*input2++];                 \
        *output++ = (int8_t)edgec_dsp_dw_requantize(twice_sum, &requant);                \
    } while (0)

/* The tabulated add with the fast output requantization (full activation range): the
 * tables hold doubled values. */
static void add_fast(const int32_t *table1, const int32_t *table2,
                     const edgec_dsp_dw_requant *constants, int32_t size,
                     const uint8_t *input1, const uint8_t *input2, int8_t *output)
{
    const edgec_dsp_dw_requant requant = *constants;
    const uint8_t *end = input1 + (size & ~7);

    while (input1 < end) {
        FAST_ELEMENT();
        FAST_ELEMENT();
        FAST_ELEMENT();
        FAST_ELEMENT();
        FAST_ELEMENT();
        FAST_ELEMENT();
        FAST_ELEMENT();
        FAST_ELEMENT();
    }
    for (size &= 7; size > 0; size--) {
        FAST_ELEMENT();
    }
}

/* Clamps `size` int8 values to [minimum, maximum], 4 at a time with SSUB8 and SEL. */
static void clamp_values(int8_t *values, int32_t size, int32_t minimum, int32_t maximum)
{
    const uint32_t minimums = 0x01010101u * (uint8_t)minimum;
    const uint32_t maximums = 0x01010101u * (uint8_t)maximum;
    int32_t i = 0;

    for (; i + 4 <= size; i += 4) {
        uint32_t word = edgec_load_word(values + i);

        (void)__ssub8(word, minimums); /* GE flags: word >= minimum, per byte */
        word = __sel(word, minimums);
        (void)__ssub8(word, maximums); /* GE flags: word >= maximum, per byte */
        word = __sel(maximums, word);
        memcpy(values + i, &word, sizeof(word));
    }
    for (; i < size; i++) {
        values[i] = (int8_t)edgec_clamp(values[i], minimum, maximum);
    }
}

/* The tabulated add for parameters outside the fast form: fixed_point.h per element. */
static void add_tabulated(const edgec_add_params *params, const int32_t *table1,
                          const int32_t *table2, int32_t size, const int8_t *input1,
                          const int8_t *input2, int8_t *output)
{
    int32_t i;

    for (i = 0; i < size; i++) {
        output[i] = output_value(params, table1[(uint8_t)input1[i]], table2[(uint8_t)input2[i]]);
    }
}

edgec_status edgec_add_s8_dsp(const edgec_add_params *params, int32_t sign,
                              const edgec_broadcast *broadcast,
                              const int8_t *input1, const int8_t *input2, int8_t *output,
                              void *scratch)
{
    const int32_t *shape = broadcast->shape;
    int32_t *table1 = (int32_t *)scratch;
    int32_t *table2 = table1 + 256;
    int32_t size;

    if ((sign != 1 && sign != -1) || !edgec_broadcast_valid(broadcast) || params->left_shift < 0) {
        return EDGEC_ERROR_ARGUMENT;
    }
    if (!edgec_activation_range_s8_valid(params->activation_min, params->activation_max)) {
        return EDGEC_ERROR_ARGUMENT;
    }
    size = shape[0] * shape[1] * shape[2] * shape[3];
    if (!same_shape(broadcast) || size < TABLE_MIN_SIZE || scratch == NULL) {
        add_broadcast(params, sign, broadcast, input1, input2, output);
        return EDGEC_OK;
    }

    if (edgec_dsp_dw_requant_fits(params->output_multiplier, params->output_shift,
                                  params->output_offset) &&
        fast_table_fits(params->input1_offset, params->left_shift, params->input1_multiplier,
                        params->input1_shift) &&
        fast_table_fits(params->input2_offset, params->left_shift, params->input2_multiplier,
                        params->input2_shift)) {
        edgec_dsp_dw_requant requant;

        fill_fast_table(params->input1_offset, params->left_shift, params->input1_multiplier,
                        params->input1_shift, 1, table1);
        fill_fast_table(params->input2_offset, params->left_shift, params->input2_multiplier,
                        params->input2_shift, sign, table2);
        edgec_dsp_dw_requant_init(&requant, params->output_multiplier, params->output_shift,
                                  params->output_offset);
        add_fast(table1, table2, &requant, size, (const uint8_t *)input1,
                 (const uint8_t *)input2, output);
        if (params->activation_min != -128 || params->activation_max != 127) {
            clamp_values(output, size, params->activation_min, params->activation_max);
        }
    } else {
        fill_exact_table(params, params->input1_offset, params->input1_multiplier,
                         params->input1_shift, 1, table1);
        fill_exact_table(params, params->input2_offset, params->input2_multiplier,
                         params->input2_shift, sign, table2);
        add_tabulated(params, table1, table2, size, input1, input2, output);
    }
    return EDGEC_OK;
}
