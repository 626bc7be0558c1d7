/*
 * edgec DSP kernel variant: 3x3 depthwise convolution, depth multiplier 1, no dilation, any
 * stride and padding, int8, with the input offset folded into the bias. Same result as the
 * reference edgec_depthwise_conv2d_s8.
 *
 * Design (the cost that counts is instructions per output):
 *   - Pair columns. Scratch contains a ring of 3 input rows. Each ring row is cut into
 *     pair columns k = 0, 1, ...: padded columns 2k and 2k + 1. For each channel a pair
 *     column contains one word, the int16 pair (x[2k], x[2k+1]). Columns and rows outside
 *     the input contain the input zero point, so every output reads a full 3x3 window
 *     without bounds checks. A ring row is filled once per input row.
 *   - Filter (variants_dsp.arrange_depthwise_3x3_filter, arranged at compile time): per
 *     channel and filter row, the int16 pairs W01 = (w0, w1) and W12 = (w1, w2), doubled.
 *     Then two neighbouring outputs x, x + 1 at stride 1 (pair column k = x / 2) take
 *         out[x]     += SMLAD(P(k), W01) + SMLABT(P(k + 1), W12)   (x[x] w0 + x[x+1] w1, x[x+2] w2)
 *         out[x + 1] += SMLATB(P(k), W01) + SMLAD(P(k + 1), W12)  (x[x+1] w0, x[x+2] w1 + x[x+3] w2)
 *     At stride 2, out[x] reads P(x) and P(x + 1), out[x + 1] reads P(x + 1) and P(x + 2).
 *     Per filter row and pair of channels: 4 LDRD and 8 multiply-accumulates for 2 outputs
 *     each, so about 9 instructions per output for the 9 taps.
 *   - Doubled weights and bias make the accumulator 2x, which dsp_dw_requantize.h turns
 *     into the output with SMMLAR, ASR and SSAT (about 7 instructions per output with the
 *     loads of its constants, precomputed once per call).
 *   - The ring row holding filter row r rotates from output row to output row. The output
 *     loops are instantiated for the 3 rotations so that every load has a constant offset.
 *   - Channels go in groups of 4, split into the halves (c0, c2) and (c1, c3). Channels
 *     that do not fill a group, strides above 2 and channels whose requantization does not
 *     fit the fast form take a general loop with fixed_point.h's requantization.
 *
 * Layouts, with G = ceil(channels / 4) groups and K = ((output_w - 1) * stride_w + 2) / 2 + 1
 * pair columns (variants_dsp.depthwise_3x3_scratch computes the same scratch size):
 *   - filter: per group, per half, per filter row, the words W01(a), W01(b), W12(a), W12(b)
 *     of the half's channels a, b: 24 words per group;
 *   - scratch: G blocks of 64 bytes with the doubled biases and the requantization
 *     records, each in the channel order c0, c2, c1, c3. Then the zero-point pixel (4G
 *     bytes), and the ring of G * K * 48 bytes: per group, per pair column, per ring row,
 *     the words of c0, c2, c1, c3.
 *
 * In place: before output row y is written, every input row it reads is in the ring, and
 * the memory planner's window rule keeps output row y below every input byte that later
 * output rows read. So the output may overlap the input as for the reference kernel.
 */
#include <stddef.h>
#include <string.h>

#include "edgec/dsp.h"
#include "edgec/dsp_dw_requantize.h"
#include "edgec/kernel_checks.h"
#include "edgec/kernels_dsp.h"

/* Ring words of one group in one pair column: 3 ring rows of 4 channel words. */
#define PAIR_COLUMN_WORDS 12
/* Filter words of one group: 2 halves, 3 rows, 4 words. */
#define GROUP_FILTER_WORDS 24

/* Doubled biases and requantization records of one group, in channel order c0, c2, c1, c3
 * so that each half (c0, c2) or (c1, c3) is contiguous. */
typedef struct {
    int32_t twice_bias[4];
    edgec_dsp_dw_requant requant[4];
} group_block;

/* Position of channel lane 0..3 of a group in the order c0, c2, c1, c3. */
static inline int32_t lane_slot(int32_t lane)
{
    return 2 * (lane & 1) + (lane >> 1);
}

/* Two adjacent words, as an asm memory operand. */
typedef struct {
    int32_t words[2];
} word_pair;

/* Loads the words at byte `offset` (a constant) from `base` into first and second with one
 * LDRD. gcc 12 leaves some of these pairs as two LDR in the single-pixel code. */
#define LOAD_PAIR(first, second, base, offset)                                     \
    __asm__("ldrd %0, %1, [%2, %3]"                                                \
            : "=r"(first), "=r"(second)                                            \
            : "r"(base), "n"(offset),                                              \
              "m"(*(const word_pair *)(const void *)((const int8_t *)(base) + (offset))))

/* Returns whether the arguments suit this variant, as the reference kernel checks them. */
static int arguments_valid(const edgec_conv_params *params, const edgec_dims *input_dims,
                           const edgec_dims *filter_dims, const edgec_dims *output_dims,
                           const int32_t *bias, const void *scratch)
{
    if (!edgec_depthwise_dims_valid(params, input_dims, filter_dims, output_dims)) {
        return 0;
    }
    if (params->depth_multiplier != 1 || filter_dims->h != 3 || filter_dims->w != 3 ||
        params->dilation_h != 1 || params->dilation_w != 1) {
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
 * Fills the group blocks and returns whether every channel fits the fast requantization.
 * Channels past the last get bias 0 and any record: their outputs are never stored.
 */
static int prepare_blocks(group_block *blocks, int32_t groups, int32_t channels,
                          const edgec_per_channel_quant *quant, const int32_t *bias,
                          int32_t output_offset)
{
    int fast = 1;
    int32_t channel;

    for (channel = 0; channel < groups * 4; channel++) {
        group_block *block = &blocks[channel / 4];
        const int32_t slot = lane_slot(channel % 4);
        int32_t value = 0;
        int32_t multiplier = 0;
        int32_t shift = -1;

        if (channel < channels) {
            value = bias[channel];
            multiplier = quant->multipliers[channel];
            shift = quant->shifts[channel];
        }
        if (!edgec_dsp_dw_requant_fits(multiplier, shift, output_offset) ||
            value <= -EDGEC_DSP_DW_FAST_BIAS_LIMIT_3X3 ||
            value >= EDGEC_DSP_DW_FAST_BIAS_LIMIT_3X3) {
            fast = 0;
            value = 0;
            multiplier = 0;
            shift = -1;
        }
        block->twice_bias[slot] = 2 * value;
        edgec_dsp_dw_requant_init(&block->requant[slot], multiplier, shift,
                                  edgec_clamp(output_offset, -128, 128));
    }
    return fast;
}

/* The fixed geometry of one call. */
typedef struct {
    const int32_t *ring;
    const int32_t *filter;
    const group_block *blocks;
    int32_t groups;
    int32_t full_groups;
    int32_t group_words; /* ring words of one group: K pair columns */
    int32_t output_w;
    int32_t output_c;
    int32_t stride_w;
} geometry;

/* [a0 a1 b0 b1]: the low halfwords of a and b (PKHBT). */
static inline uint32_t pack_low_halves(uint32_t a, uint32_t b)
{
    uint32_t result;

    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(result) : "r"(a), "r"(b));
    return result;
}

/* [a2 a3 b2 b3]: the high halfwords of a and b (PKHTB). */
static inline uint32_t pack_high_halves(uint32_t a, uint32_t b)
{
    uint32_t result;

    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(result) : "r"(b), "r"(a));
    return result;
}

/* The 4 words of one ring cell, as an asm operand. */
typedef struct {
    int32_t words[4];
} ring_cell;

/* Stores the pair words of 4 channels from the input words a (column 2k) and b (column
 * 2k + 1): (a0, b0), (a2, b2), (a1, b1), (a3, b3), with two STRD (gcc splits them). */
static inline void store_pairs(int32_t *cell, uint32_t a, uint32_t b)
{
    const uint32_t low = pack_low_halves(a, b);
    const uint32_t high = pack_high_halves(a, b);

    __asm__("strd %1, %2, [%5]\n\tstrd %3, %4, [%5, #8]"
            : "=m"(*(ring_cell *)cell)
            : "r"(edgec_sxtb16(low)), "r"(edgec_sxtb16(high)), "r"(edgec_sxtb16_ror8(low)),
              "r"(edgec_sxtb16_ror8(high)), "r"(cell));
}

/* Returns the bytes of the last, partial group at `pixel` as a word. The missing channels
 * read 0, which is harmless because their weights are 0. */
static uint32_t load_partial_group(const int8_t *pixel, int32_t count)
{
    int8_t bytes[4] = {0, 0, 0, 0};
    int32_t lane;

    for (lane = 0; lane < count; lane++) {
        bytes[lane] = pixel[lane];
    }
    return edgec_load_word(bytes);
}

/*
 * Writes input row `row` (NULL: a row of padding) into ring row `ring_row`: for each pair
 * column and group, the words (x[2k], x[2k+1]) of c0, c2, c1, c3. Padded columns read the
 * zero-point pixel.
 */
static void fill_ring_row(const geometry *g, int32_t ring_row, const int8_t *row,
                          const edgec_dims *input_dims, int32_t pad_left,
                          const int8_t *zero_pixel)
{
    const int32_t channels = input_dims->c;
    const int32_t pairs = g->group_words / PAIR_COLUMN_WORDS;
    const int32_t group_words = g->group_words;
    int32_t *column = (int32_t *)g->ring + 4 * ring_row;
    int32_t k;

    for (k = 0; k < pairs; k++) {
        const int32_t left = 2 * k - pad_left;
        const int32_t right = left + 1;
        const int left_inside = row != NULL && left >= 0 && left < input_dims->w;
        const int right_inside = row != NULL && right >= 0 && right < input_dims->w;
        const int8_t *first = left_inside ? row + left * channels : zero_pixel;
        const int8_t *second = right_inside ? row + right * channels : zero_pixel;
        const int8_t *first_end = first + 4 * g->full_groups;
        int32_t *cell = column;

        while (first < first_end) {
            store_pairs(cell, edgec_load_word(first), edgec_load_word(second));
            first += 4;
            second += 4;
            cell += group_words;
        }
        if (g->full_groups < g->groups) {
            const int32_t count = channels - 4 * g->full_groups;

            store_pairs(cell, left_inside ? load_partial_group(first, count)
                                          : edgec_load_word(first),
                        right_inside ? load_partial_group(second, count)
                                     : edgec_load_word(second));
        }
        column += PAIR_COLUMN_WORDS;
    }
}

/*
 * The multiply-accumulates of one filter row for one half of a group. `p` points at the
 * half's words (channels a, b) in pair column k and ring row 0, and `slot` is 4 times the
 * ring row of the filter row. `w` points at the half's 4 filter words of the row.
 * o0a and o0b accumulate output pixel x (channels a, b), o1a and o1b pixel x + 1.
 */
#define PAIR_ROW_STRIDE1(p, slot, w)                                              \
    do {                                                                          \
        int32_t pa = (p)[(slot)];                                                 \
        int32_t pb = (p)[(slot) + 1];                                             \
        int32_t wa = (w)[0];                                                      \
        int32_t wb = (w)[1];                                                      \
        o0a = __smlad(pa, wa, o0a);                                               \
        o1a = __smlatb(pa, wa, o1a);                                              \
        o0b = __smlad(pb, wb, o0b);                                               \
        o1b = __smlatb(pb, wb, o1b);                                              \
        pa = (p)[(slot) + PAIR_COLUMN_WORDS];                                     \
        pb = (p)[(slot) + PAIR_COLUMN_WORDS + 1];                                 \
        wa = (w)[2];                                                              \
        wb = (w)[3];                                                              \
        o0a = __smlabt(pa, wa, o0a);                                              \
        o1a = __smlad(pa, wa, o1a);                                               \
        o0b = __smlabt(pb, wb, o0b);                                              \
        o1b = __smlad(pb, wb, o1b);                                               \
    } while (0)

/* The same at stride 2: pixel x reads P(k), P(k + 1), pixel x + 1 reads P(k + 1), P(k + 2). */
#define PAIR_ROW_STRIDE2(p, slot, w)                                              \
    do {                                                                          \
        int32_t pa = (p)[(slot)];                                                 \
        int32_t pb = (p)[(slot) + 1];                                             \
        int32_t wa = (w)[0];                                                      \
        int32_t wb = (w)[1];                                                      \
        o0a = __smlad(pa, wa, o0a);                                               \
        o0b = __smlad(pb, wb, o0b);                                               \
        pa = (p)[(slot) + PAIR_COLUMN_WORDS];                                     \
        pb = (p)[(slot) + PAIR_COLUMN_WORDS + 1];                                 \
        o1a = __smlad(pa, wa, o1a);                                               \
        o1b = __smlad(pb, wb, o1b);                                               \
        wa = (w)[2];                                                              \
        wb = (w)[3];                                                              \
        o0a = __smlabt(pa, wa, o0a);                                              \
        o0b = __smlabt(pb, wb, o0b);                                              \
        pa = (p)[(slot) + 2 * PAIR_COLUMN_WORDS];                                 \
        pb = (p)[(slot) + 2 * PAIR_COLUMN_WORDS + 1];                             \
        o1a = __smlabt(pa, wa, o1a);                                              \
        o1b = __smlabt(pb, wb, o1b);                                              \
    } while (0)

/* One output pixel x whose window starts at pair column k (x * stride_w even). */
#define SINGLE_ROW(p, slot, w)                                                    \
    do {                                                                          \
        int32_t pa;                                                               \
        int32_t pb;                                                               \
        int32_t wa;                                                               \
        int32_t wb;                                                               \
        LOAD_PAIR(pa, pb, (p), 4 * (slot));                                       \
        LOAD_PAIR(wa, wb, (w), 0);                                                \
        o0a = __smlad(pa, wa, o0a);                                               \
        o0b = __smlad(pb, wb, o0b);                                               \
        LOAD_PAIR(pa, pb, (p), 4 * ((slot) + PAIR_COLUMN_WORDS));                 \
        LOAD_PAIR(wa, wb, (w), 8);                                                \
        o0a = __smlabt(pa, wa, o0a);                                              \
        o0b = __smlabt(pb, wb, o0b);                                              \
    } while (0)

/* Stores the requantized values of one channel at two output pixels, loading the
 * constants once for both. */
static inline __attribute__((always_inline)) void
requantize_two(int32_t first, int32_t second, const edgec_dsp_dw_requant *record,
               int8_t *out_first, int8_t *out_second)
{
    const edgec_dsp_dw_requant constants = *record;

    *out_first = (int8_t)edgec_dsp_dw_requantize(first, &constants);
    *out_second = (int8_t)edgec_dsp_dw_requantize(second, &constants);
}

/* The accumulators of one half of a group at two output pixels: bias, then 3 filter rows.
 * ROW is PAIR_ROW_STRIDE1 or PAIR_ROW_STRIDE2; the half's channels are a and b. */
#define PAIR_HALF(ROW, p, w, twice_bias, requant, out, output_c, slot0, slot1, slot2) \
    do {                                                                              \
        int32_t o0a = (twice_bias)[0];                                                \
        int32_t o0b = (twice_bias)[1];                                                \
        int32_t o1a = o0a;                                                            \
        int32_t o1b = o0b;                                                            \
        ROW(p, 4 * (slot0), (w));                                                     \
        ROW(p, 4 * (slot1), (w) + 4);                                                 \
        ROW(p, 4 * (slot2), (w) + 8);                                                 \
        requantize_two(o0a, o1a, &(requant)[0], (out), (out) + (output_c));          \
        requantize_two(o0b, o1b, &(requant)[1], (out) + 2, (out) + (output_c) + 2);  \
    } while (0)

/* The accumulators of one half of a group at one output pixel. */
#define SINGLE_HALF(p, w, twice_bias, requant, out, slot0, slot1, slot2)                \
    do {                                                                              \
        int32_t o0a;                                                                  \
        int32_t o0b;                                                                  \
        LOAD_PAIR(o0a, o0b, (twice_bias), 0);                                         \
        SINGLE_ROW(p, 4 * (slot0), (w));                                              \
        SINGLE_ROW(p, 4 * (slot1), (w) + 4);                                          \
        SINGLE_ROW(p, 4 * (slot2), (w) + 8);                                          \
        (out)[0] = (int8_t)edgec_dsp_dw_requantize(o0a, &(requant)[0]);               \
        (out)[2] = (int8_t)edgec_dsp_dw_requantize(o0b, &(requant)[1]);               \
    } while (0)

/*
 * Computes one group of 4 channels for every pixel of an output row with the fast
 * requantization. `p` points at the group's words in pair column 0, `w` at its filter
 * words, `out` at its first channel in the output row. The halves (c0, c2) and (c1, c3)
 * are at word offsets 0 and 2 of a ring cell, 0 and 12 of the filter, and output offsets
 * 0 and 1. slot0..2 are the ring rows of filter rows 0..2 and stride is 1 or 2, all
 * constants.
 */
static inline __attribute__((always_inline)) void
fast_group(const geometry *g, const int32_t *p, const int32_t *w, const group_block *block,
           int8_t *out, const int32_t slot0, const int32_t slot1, const int32_t slot2,
           const int32_t stride)
{
    const int32_t output_c = g->output_c;
    int32_t pairs;

    for (pairs = g->output_w / 2; pairs > 0; pairs--) {
        if (stride == 1) {
            PAIR_HALF(PAIR_ROW_STRIDE1, p, w, &block->twice_bias[0], &block->requant[0], out,
                      output_c, slot0, slot1, slot2);
            PAIR_HALF(PAIR_ROW_STRIDE1, p + 2, w + 12, &block->twice_bias[2],
                      &block->requant[2], out + 1, output_c, slot0, slot1, slot2);
        } else {
            PAIR_HALF(PAIR_ROW_STRIDE2, p, w, &block->twice_bias[0], &block->requant[0], out,
                      output_c, slot0, slot1, slot2);
            PAIR_HALF(PAIR_ROW_STRIDE2, p + 2, w + 12, &block->twice_bias[2],
                      &block->requant[2], out + 1, output_c, slot0, slot1, slot2);
        }
        p += stride * PAIR_COLUMN_WORDS;
        out += 2 * output_c;
    }
    if (g->output_w % 2 != 0) {
        SINGLE_HALF(p, w, &block->twice_bias[0], &block->requant[0], out, slot0, slot1, slot2);
        SINGLE_HALF(p + 2, w + 12, &block->twice_bias[2], &block->requant[2], out + 1, slot0,
                    slot1, slot2);
    }
}

/* Computes the full groups of one output row with the fast requantization, for the ring
 * rotation slot0..2 and the stride (constants). */
static inline __attribute__((always_inline)) void
fast_row(const geometry *g, int8_t *out_row, const int32_t slot0, const int32_t slot1,
         const int32_t slot2, const int32_t stride)
{
    const int32_t *p = g->ring;
    const int32_t *w = g->filter;
    const group_block *block = g->blocks;
    const group_block *end = block + g->full_groups;

    for (; block < end; block++) {
        fast_group(g, p, w, block, out_row, slot0, slot1, slot2, stride);
        p += g->group_words;
        w += GROUP_FILTER_WORDS;
        out_row += 4;
    }
}

/* Returns the doubled sum of the 9 products of one channel at one output pixel. */
static int32_t general_sum(const geometry *g, int32_t group, int32_t lane, int32_t x,
                           const int32_t slots[3])
{
    const int32_t half = lane & 1;
    const int32_t *ring = g->ring + group * g->group_words + lane_slot(lane);
    const int32_t *w = g->filter + group * GROUP_FILTER_WORDS + 12 * half + (lane >> 1);
    int32_t sum = 0;
    int32_t row;
    int32_t tap;

    for (row = 0; row < 3; row++) {
        const int32_t first_pair = w[4 * row];  /* (w0, w1) */
        const int32_t second_pair = w[4 * row + 2]; /* (w1, w2) */
        const int32_t weights[3] = {(int16_t)first_pair, first_pair >> 16, second_pair >> 16};

        for (tap = 0; tap < 3; tap++) {
            const int32_t column = x * g->stride_w + tap;
            const int32_t word = ring[(column / 2) * PAIR_COLUMN_WORDS + 4 * slots[row]];
            const int32_t value = (column % 2 != 0) ? word >> 16 : (int16_t)word;

            sum += value * weights[tap];
        }
    }
    return sum;
}

/*
 * Computes groups [first_group, groups) of one output row with fixed_point.h's
 * requantization and the activation clamp. Stores only the real channels.
 */
static void general_row(const geometry *g, int32_t first_group, const edgec_conv_params *params,
                        const edgec_per_channel_quant *quant, const int32_t *bias,
                        int8_t *out_row, const int32_t slots[3])
{
    int32_t x;

    for (x = 0; x < g->output_w; x++) {
        int32_t channel;

        for (channel = 4 * first_group; channel < g->output_c; channel++) {
            /* The doubled sum is even: halving it is exact. */
            const int32_t sum = general_sum(g, channel / 4, channel % 4, x, slots) / 2;

            out_row[x * g->output_c + channel] = (int8_t)edgec_dsp_dw_requantize_exact(
                edgec_add_wrap(sum, bias[channel]), quant->multipliers[channel],
                quant->shifts[channel], params->output_offset, params->activation_min,
                params->activation_max);
        }
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

/* Returns value modulo 3 in [0, 2] for any sign. */
static inline int32_t modulo3(int32_t value)
{
    const int32_t remainder = value % 3;

    return remainder < 0 ? remainder + 3 : remainder;
}

/* Computes one output row from the ring, where slots[r] is the ring row of filter row r. */
static void output_row(const geometry *g, int fast, const edgec_conv_params *params,
                       const edgec_per_channel_quant *quant, const int32_t *bias,
                       int8_t *out_row, const int32_t slots[3])
{
    const int full_range = params->activation_min == -128 && params->activation_max == 127;
    int32_t first_general = 0;

    if (fast && g->stride_w <= 2) {
        /* One loop per stride and rotation of the ring rows, with constant load offsets. */
        switch (slots[0] + 3 * (g->stride_w - 1)) {
        case 0:
            fast_row(g, out_row, 0, 1, 2, 1);
            break;
        case 1:
            fast_row(g, out_row, 1, 2, 0, 1);
            break;
        case 2:
            fast_row(g, out_row, 2, 0, 1, 1);
            break;
        case 3:
            fast_row(g, out_row, 0, 1, 2, 2);
            break;
        case 4:
            fast_row(g, out_row, 1, 2, 0, 2);
            break;
        default:
            fast_row(g, out_row, 2, 0, 1, 2);
            break;
        }
        first_general = g->full_groups;
    }
    if (first_general < g->groups) {
        general_row(g, first_general, params, quant, bias, out_row, slots);
    }
    if (first_general > 0 && !full_range) {
        clamp_values(out_row, g->output_w * g->output_c, params->activation_min,
                     params->activation_max);
    }
}

edgec_status edgec_depthwise_conv2d_s8_3x3_dsp(const edgec_conv_params *params,
                                               const edgec_per_channel_quant *quant,
                                               const edgec_dims *input_dims, const int8_t *input,
                                               const edgec_dims *filter_dims, const int8_t *filter,
                                               const int32_t *bias,
                                               const edgec_dims *output_dims, int8_t *output,
                                               void *scratch)
{
    const int32_t channels = input_dims->c;
    const int32_t groups = (channels + 3) / 4;
    const int32_t input_size = input_dims->h * input_dims->w * channels;
    const int32_t output_row_size = output_dims->w * output_dims->c;
    group_block *blocks = (group_block *)scratch;
    int8_t *zero_pixel = (int8_t *)(blocks + groups);
    geometry g;
    int fast;
    int32_t batch;

    if (!arguments_valid(params, input_dims, filter_dims, output_dims, bias, scratch)) {
        return EDGEC_ERROR_ARGUMENT;
    }
    if (output_dims->h == 0 || output_dims->w == 0 || input_dims->n == 0) {
        return EDGEC_OK;
    }
    fast = prepare_blocks(blocks, groups, channels, quant, bias, params->output_offset);
    memset(zero_pixel, -params->input_offset, (size_t)(4 * groups));
    g.ring = (const int32_t *)(const void *)(zero_pixel + 4 * groups);
    /* The filter array is 4-byte aligned (variants_dsp arranges it as int16 pairs). */
    g.filter = (const int32_t *)(const void *)filter;
    g.blocks = blocks;
    g.groups = groups;
    g.full_groups = channels / 4;
    g.group_words = (((output_dims->w - 1) * params->stride_w + 2) / 2 + 1) * PAIR_COLUMN_WORDS;
    g.output_w = output_dims->w;
    g.output_c = output_dims->c;
    g.stride_w = params->stride_w;

    for (batch = 0; batch < input_dims->n; batch++) {
        const int8_t *sample = input + batch * input_size;
        int32_t next_row = INT32_MIN; /* first input row not yet in the ring */
        int32_t out_y;

        for (out_y = 0; out_y < output_dims->h; out_y++) {
            const int32_t top = out_y * params->stride_h - params->pad_top;
            const int32_t slots[3] = {modulo3(top), modulo3(top + 1), modulo3(top + 2)};
            int32_t y = next_row > top ? next_row : top;

            for (; y < top + 3; y++) {
                const int8_t *row = (y >= 0 && y < input_dims->h)
                                        ? sample + y * input_dims->w * channels
                                        : NULL;

                fill_ring_row(&g, modulo3(y), row, input_dims, params->pad_left, zero_pixel);
            }
            next_row = top + 3;
            output_row(&g, fast, params, quant, bias,
                       output + (batch * output_dims->h + out_y) * output_row_size, slots);
        }
    }
    return EDGEC_OK;
}
