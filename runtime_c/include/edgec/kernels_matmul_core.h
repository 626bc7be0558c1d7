/*
 * edgec runtime: the accumulation loop shared by edgec_batch_matmul_s8 and
 * edgec_batch_matmul_s8_s16 (kernels_matmul.h). Not part of the kernel API.
 *
 * Loop order: input2 is row-major [depth, columns], so for one output row the kernels walk
 * k in the outer loop and a contiguous run of input2 row k in the inner loop. Every byte of
 * input2 is then read sequentially, once per output row, and the inner loop is a scalar
 * times a vector, which compilers vectorize (NEON on Cortex-A). The sums of one tile of
 * EDGEC_BATCH_MATMUL_TILE columns stay in a small stack array.
 */
#ifndef EDGEC_KERNELS_MATMUL_CORE_H
#define EDGEC_KERNELS_MATMUL_CORE_H

#include <stddef.h>
#include <stdint.h>

/* Output columns summed at once. A multiple of 16 lets full tiles use whole vectors. */
#define EDGEC_BATCH_MATMUL_TILE 16

/*
 * Computes, for j in [0, width):
 *   acc[j] = sum_k (row[k] + input1_offset) * (tile[k * columns + j] + input2_offset)
 * where row is one input1 row of depth values and tile points at column j0 of input2 row 0.
 * The sum is taken as sum_k a_k * tile[k][j] + input2_offset * sum_k a_k with
 * a_k = row[k] + input1_offset, so the inner loop needs no offset. With |a_k| <= 255,
 * |tile| <= 128, |input2_offset| <= 128 and depth <= EDGEC_BATCH_MATMUL_MAX_DEPTH, each
 * partial sum is at most 255 * 128 * 33025 < 2^31 and the total at most
 * 255 * 255 * 33025 < 2^31, so nothing overflows int32.
 */
static inline void edgec_batch_matmul_tile(const int8_t *row, const int8_t *tile,
                                           int32_t depth, int32_t columns, int32_t width,
                                           int32_t input1_offset, int32_t input2_offset,
                                           int32_t *acc)
{
    int32_t row_sum = 0;
    int32_t k;
    int32_t j;

    for (j = 0; j < width; j++) {
        acc[j] = 0;
    }
    if (width == EDGEC_BATCH_MATMUL_TILE) {
        /* A constant trip count lets the compiler keep the sums in vector registers, and
         * the int16 a (|a| <= 255) lets it use 16-bit multiply-accumulates (SMLAL). */
        for (k = 0; k < depth; k++) {
            const int16_t a = (int16_t)(row[k] + input1_offset);
            const int8_t *values = tile + (size_t)k * (size_t)columns;

            row_sum += a;
            for (j = 0; j < EDGEC_BATCH_MATMUL_TILE; j++) {
                acc[j] += a * values[j];
            }
        }
    } else {
        for (k = 0; k < depth; k++) {
            const int32_t a = row[k] + input1_offset;
            const int8_t *values = tile + (size_t)k * (size_t)columns;

            row_sum += a;
            for (j = 0; j < width; j++) {
                acc[j] += a * values[j];
            }
        }
    }
    for (j = 0; j < width; j++) {
        acc[j] += input2_offset * row_sum;
    }
}

#endif /* EDGEC_KERNELS_MATMUL_CORE_H */
