/*
 * edgec DSP kernel variant: depthwise convolution of any filter size, stride, dilation,
 * padding and depth multiplier, int8, with the input offset folded into the bias. Same
 * result as the reference edgec_depthwise_conv2d_s8.
 *
 * For each output pixel the kernel first lists the input pixel of every tap in scratch,
 * pointing taps outside the input at a pixel of zero points. With a depth multiplier M
 * above 1 it then copies each tap's input channels into scratch, each byte M times, so
 * that the taps line up with the output channels, and lists the copies instead. Each
 * group of 4 output channels sums over the list. Per tap that is one unaligned LDR of the
 * 4 channel bytes, SXTB16 into the lanes (c0, c2) and (c1, c3), and SMLABB/SMLATT against
 * the filter arranged at compile time (variants_dsp.arrange_depthwise_filter). The filter
 * contains, per group and tap, the doubled weights (w0, w2) and (w1, w3) as int16 pairs.
 * The accumulator is twice the sum, and dsp_dw_requantize.h requantizes it. The last partial group, and every
 * channel when one channel's requantization does not fit the fast form, take a scalar
 * loop with fixed_point.h's requantization.
 *
 * Scratch (variants_dsp.depthwise_scratch computes the same size), with
 * G = ceil(output channels / 4): G blocks of 64 bytes (doubled biases and requantization
 * records), the zero-point pixel (input channels rounded up to 4 bytes), one pointer per
 * tap, and with M above 1 the expanded taps (4G bytes per tap).
 *
 * Pixels are computed in the reference kernel's order. The memory planner's window rule
 * keeps each pixel's output below every input byte that it and the later pixels read, so
 * the output may overlap the input as it does for the reference kernel.
 */
#include <stddef.h>
#include <string.h>

#include "edgec/dsp.h"
#include "edgec/dsp_dw_requantize.h"
#include "edgec/kernel_checks.h"
#include "edgec/kernels_dsp.h"

/* Filter words of one group and one tap: (w0, w2) and (w1, w3). */
#define TAP_WORDS 2

/* Doubled biases and requantization records of one group of 4 channels, in channel
 * order. */
typedef struct {
    int32_t twice_bias[4];
    edgec_dsp_dw_requant requant[4];
} group_block;

/* Returns whether the arguments suit this variant, as the reference kernel checks them. */
static int arguments_valid(const edgec_conv_params *params, const edgec_dims *input_dims,
                           const edgec_dims *filter_dims, const edgec_dims *output_dims,
                           const int32_t *bias, const void *scratch)
{
    if (!edgec_depthwise_dims_valid(params, input_dims, filter_dims, output_dims)) {
        return 0;
    }
    /* Folded input offset: a symmetric filter, and padding reads the int8 zero point. */
    if (params->filter_offset != 0 || params->input_offset < -127 ||
        params->input_offset > 128 || bias == NULL || scratch == NULL) {
        return 0;
    }
    return edgec_activation_range_s8_valid(params->activation_min, params->activation_max);
}

/*
 * Fills the group blocks and returns whether every channel fits the fast requantization:
 * with `taps` products of int8 values the sum is below taps * 2^14 in magnitude, and the
 * bias must keep the accumulator below 2^30.
 */
static int prepare_blocks(group_block *blocks, int32_t groups, int32_t channels, int32_t taps,
                          const edgec_per_channel_quant *quant, const int32_t *bias,
                          int32_t output_offset)
{
    const int64_t bias_limit = ((int64_t)1 << 30) - (int64_t)taps * 16384;
    int fast = 1;
    int32_t channel;

    for (channel = 0; channel < groups * 4; channel++) {
        group_block *block = &blocks[channel / 4];
        int32_t value = 0;
        int32_t multiplier = 0;
        int32_t shift = -1;

        if (channel < channels) {
            value = bias[channel];
            multiplier = quant->multipliers[channel];
            shift = quant->shifts[channel];
        }
        if (!edgec_dsp_dw_requant_fits(multiplier, shift, output_offset) ||
            (int64_t)value <= -bias_limit || (int64_t)value >= bias_limit) {
            fast = 0;
            value = 0;
            multiplier = 0;
            shift = -1;
        }
        block->twice_bias[channel % 4] = 2 * value;
        edgec_dsp_dw_requant_init(&block->requant[channel % 4], multiplier, shift,
                                  edgec_clamp(output_offset, -128, 128));
    }
    return fast;
}

/* Copies the taps' input channels to `expanded` (stride `expanded_stride` bytes per tap),
 * each byte depth_multiplier times, and points the list at the copies. */
static void expand_taps(const int8_t **taps, int32_t tap_count, int32_t input_c,
                        int32_t depth_multiplier, int8_t *expanded, int32_t expanded_stride)
{
    int32_t tap;

    for (tap = 0; tap < tap_count; tap++) {
        const int8_t *in = taps[tap];
        int8_t *out = expanded + tap * expanded_stride;
        int8_t *end = out + input_c * depth_multiplier;
        int32_t copies = 0;

        /* The byte replicated into a halfword or a word: one store per input byte. */
        if (depth_multiplier == 2) {
            for (; out < end; out += 2) {
                const uint16_t pair = (uint16_t)(0x0101u * (uint8_t)*in++);

                memcpy(out, &pair, sizeof(pair));
            }
        } else if (depth_multiplier == 4) {
            for (; out < end; out += 4) {
                const uint32_t quad = 0x01010101u * (uint8_t)*in++;

                memcpy(out, &quad, sizeof(quad));
            }
        }
        /* One loop over the output channels with a running input channel: a loop over the
         * copies of one byte would become a memset call per input channel. */
        while (out < end) {
            *out++ = *in;
            if (++copies == depth_multiplier) {
                copies = 0;
                in++;
            }
        }
        taps[tap] = expanded + tap * expanded_stride;
    }
}

/* Lists the input pixel of each tap of the output pixel whose window starts at (top,
 * left): a pointer into `sample`, or `zero_pixel` outside the input. */
static void list_taps(const int8_t **taps, const int8_t *sample, const int8_t *zero_pixel,
                      const edgec_conv_params *params, const edgec_dims *input_dims,
                      const edgec_dims *filter_dims, int32_t top, int32_t left)
{
    int32_t filter_y;
    int32_t filter_x;

    for (filter_y = 0; filter_y < filter_dims->h; filter_y++) {
        const int32_t y = top + filter_y * params->dilation_h;
        const int row_inside = y >= 0 && y < input_dims->h;

        for (filter_x = 0; filter_x < filter_dims->w; filter_x++) {
            const int32_t x = left + filter_x * params->dilation_w;

            *taps++ = (row_inside && x >= 0 && x < input_dims->w)
                          ? sample + (y * input_dims->w + x) * input_dims->c
                          : zero_pixel;
        }
    }
}

/*
 * Computes the first `groups` groups of 4 output channels of one output pixel with the
 * fast requantization (saturation to [-128, 127], no other clamp). Each listed tap
 * contains the group's 4 channel bytes at offset 4 * group: the input pixel at depth
 * multiplier 1, its expanded copy otherwise.
 */
static void fast_pixel(const int8_t *const *taps, int32_t tap_count, int32_t groups,
                       const int32_t *filter, const group_block *blocks, int8_t *out)
{
    int32_t group;

    for (group = 0; group < groups; group++) {
        const group_block *block = &blocks[group];
        const int32_t *weights = filter + group * tap_count * TAP_WORDS;
        const int32_t offset = 4 * group;
        int32_t sum0 = block->twice_bias[0];
        int32_t sum1 = block->twice_bias[1];
        int32_t sum2 = block->twice_bias[2];
        int32_t sum3 = block->twice_bias[3];
        int32_t tap;

        for (tap = 0; tap < tap_count; tap++) {
            const uint32_t word = edgec_load_word(taps[tap] + offset);
            const int32_t even = edgec_sxtb16(word);
            const int32_t odd = edgec_sxtb16_ror8(word);
            const int32_t weights_even = weights[0];
            const int32_t weights_odd = weights[1];

            sum0 = __smlabb(even, weights_even, sum0);
            sum2 = __smlatt(even, weights_even, sum2);
            sum1 = __smlabb(odd, weights_odd, sum1);
            sum3 = __smlatt(odd, weights_odd, sum3);
            weights += TAP_WORDS;
        }
        out[offset] = (int8_t)edgec_dsp_dw_requantize(sum0, &block->requant[0]);
        out[offset + 1] = (int8_t)edgec_dsp_dw_requantize(sum1, &block->requant[1]);
        out[offset + 2] = (int8_t)edgec_dsp_dw_requantize(sum2, &block->requant[2]);
        out[offset + 3] = (int8_t)edgec_dsp_dw_requantize(sum3, &block->requant[3]);
    }
}

/*
 * Computes output channels [first_channel, output_c) of one output pixel one at a time,
 * with fixed_point.h's requantization and the activation clamp. Output channel c reads
 * channel c / depth_multiplier of the listed taps (1 for expanded taps).
 */
static void general_pixel(const int8_t *const *taps, int32_t tap_count, int32_t first_channel,
                          int32_t output_c, int32_t depth_multiplier, const int32_t *filter,
                          const edgec_conv_params *params, const edgec_per_channel_quant *quant,
                          const int32_t *bias, int8_t *out)
{
    int32_t channel;

    for (channel = first_channel; channel < output_c; channel++) {
        const int32_t input_channel = channel / depth_multiplier;
        /* The channel's weight is lane channel % 4 of the group's tap words. */
        const int16_t *weights = (const int16_t *)(const void *)(filter + (channel / 4) *
                                                                              tap_count *
                                                                              TAP_WORDS);
        const int32_t lane = 2 * (channel & 1) + ((channel >> 1) & 1);
        int32_t sum = 0;
        int32_t tap;

        for (tap = 0; tap < tap_count; tap++) {
            sum += taps[tap][input_channel] * weights[2 * TAP_WORDS * tap + lane];
        }
        /* The weights are doubled, so the sum is even: halving it is exact. */
        out[channel] = (int8_t)edgec_dsp_dw_requantize_exact(
            edgec_add_wrap(sum / 2, bias[channel]), quant->multipliers[channel],
            quant->shifts[channel], params->output_offset, params->activation_min,
            params->activation_max);
    }
}

edgec_status edgec_depthwise_conv2d_s8_dsp(const edgec_conv_params *params,
                                           const edgec_per_channel_quant *quant,
                                           const edgec_dims *input_dims, const int8_t *input,
                                           const edgec_dims *filter_dims, const int8_t *filter,
                                           const int32_t *bias,
                                           const edgec_dims *output_dims, int8_t *output,
                                           void *scratch)
{
    const int32_t output_c = output_dims->c;
    const int32_t groups = (output_c + 3) / 4;
    const int32_t tap_count = filter_dims->h * filter_dims->w;
    const int32_t input_size = input_dims->h * input_dims->w * input_dims->c;
    const int32_t zero_pixel_size = 4 * ((input_dims->c + 3) / 4);
    const int full_range = params->activation_min == -128 && params->activation_max == 127;
    group_block *blocks = (group_block *)scratch;
    int8_t *zero_pixel = (int8_t *)(blocks + groups);
    const int8_t **taps = (const int8_t **)(void *)(zero_pixel + zero_pixel_size);
    int8_t *expanded = (int8_t *)(void *)(taps + tap_count);
    const int expand = params->depth_multiplier > 1;
    /* The filter array is 4-byte aligned (variants_dsp arranges it as int16 pairs). */
    const int32_t *weights = (const int32_t *)(const void *)filter;
    int32_t fast_groups = 0;
    int32_t batch;
    int32_t out_y;
    int32_t out_x;

    if (!arguments_valid(params, input_dims, filter_dims, output_dims, bias, scratch)) {
        return EDGEC_ERROR_ARGUMENT;
    }
    if (prepare_blocks(blocks, groups, output_c, tap_count, quant, bias,
                       params->output_offset)) {
        fast_groups = output_c / 4;
    }
    memset(zero_pixel, -params->input_offset, (size_t)zero_pixel_size);

    for (batch = 0; batch < input_dims->n; batch++) {
        const int8_t *sample = input + batch * input_size;

        for (out_y = 0; out_y < output_dims->h; out_y++) {
            const int32_t top = out_y * params->stride_h - params->pad_top;

            for (out_x = 0; out_x < output_dims->w; out_x++) {
                const int32_t left = out_x * params->stride_w - params->pad_left;

                list_taps(taps, sample, zero_pixel, params, input_dims, filter_dims, top,
                          left);
                if (expand) {
                    expand_taps(taps, tap_count, input_dims->c, params->depth_multiplier,
                                expanded, 4 * groups);
                }
                fast_pixel(taps, tap_count, fast_groups, weights, blocks, output);
                if (fast_groups > 0 && !full_range) {
                    int32_t channel;

                    for (channel = 0; channel < 4 * fast_groups; channel++) {
                        output[channel] = (int8_t)edgec_clamp(
                            output[channel], params->activation_min, params->activation_max);
                    }
                }
                general_pixel(taps, tap_count, 4 * fast_groups, output_c,
                              expand ? 1 : params->depth_multiplier, weights, params, quant,
                              bias, output);
                output += output_c;
            }
        }
    }
    return EDGEC_OK;
}
