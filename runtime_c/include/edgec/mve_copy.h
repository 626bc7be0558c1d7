/*
 * edgec runtime: Helium (MVE) byte copies of the kernels in runtime_c/kernels/mve, used to
 * gather convolution windows and rows into scratch. Include only where the extension
 * exists. Every function reads and writes exactly the bytes it is given: a last partial
 * vector is predicated (VCTP), so nothing past the end is touched.
 */
#ifndef EDGEC_MVE_COPY_H
#define EDGEC_MVE_COPY_H

#include <arm_mve.h>
#include <stdint.h>

/* Forces inlining where a constant argument selects the code (requantization modes,
 * strides). */
#define EDGEC_MVE_INLINE static inline __attribute__((always_inline))

/*
 * Interleaved columns hold the reduction vectors of two pixels for edgec_mve_dot_pair.
 * Byte j of a pixel's vector is at column[(j / 16) * 32 + j % 16], where column points at
 * the first 16 bytes of that pixel. The second pixel's column starts 16 bytes after the
 * first's.
 */
#define EDGEC_MVE_INTERLEAVED_STRIDE 32

/* Copies `count` >= 0 bytes from source to destination (not overlapping) and returns the
 * end of the destination. */
EDGEC_MVE_INLINE int8_t *edgec_mve_copy(int8_t *destination, const int8_t *source,
                                        int32_t count)
{
    int8_t *const end = destination + count;

    while (count >= 16) {
        vstrbq_s8(destination, vldrbq_s8(source));
        destination += 16;
        source += 16;
        count -= 16;
    }
    if (count > 0) {
        const mve_pred16_t active = vctp8q((uint32_t)count);

        vstrbq_p_s8(destination, vldrbq_z_s8(source, active), active);
    }
    return end;
}

/* Sets `count` >= 0 bytes to value and returns the end of the destination. */
EDGEC_MVE_INLINE int8_t *edgec_mve_fill(int8_t *destination, int8_t value, int32_t count)
{
    int8_t *const end = destination + count;
    const int8x16_t values = vdupq_n_s8(value);

    while (count >= 16) {
        vstrbq_s8(destination, values);
        destination += 16;
        count -= 16;
    }
    if (count > 0) {
        vstrbq_p_s8(destination, values, vctp8q((uint32_t)count));
    }
    return end;
}

/* Copies `chunks` 16-byte chunks of contiguous source into consecutive chunks of an
 * interleaved column and returns the column position after them. */
EDGEC_MVE_INLINE int8_t *edgec_mve_copy_chunks(int8_t *column, const int8_t *source,
                                               int32_t chunks)
{
    while (chunks > 0) {
        vstrbq_s8(column, vldrbq_s8(source));
        column += EDGEC_MVE_INTERLEAVED_STRIDE;
        source += 16;
        chunks--;
    }
    return column;
}

/* Sets `chunks` chunks of an interleaved column to values and returns the position after
 * them. */
EDGEC_MVE_INLINE int8_t *edgec_mve_fill_chunks(int8_t *column, int8x16_t values,
                                               int32_t chunks)
{
    while (chunks > 0) {
        vstrbq_s8(column, values);
        column += EDGEC_MVE_INTERLEAVED_STRIDE;
        chunks--;
    }
    return column;
}

/* Copies `count` >= 0 contiguous bytes to the start of an interleaved column. The bytes of
 * the last chunk past `count` keep their values. */
EDGEC_MVE_INLINE void edgec_mve_copy_to_column(int8_t *column, const int8_t *source,
                                               int32_t count)
{
    column = edgec_mve_copy_chunks(column, source, count / 16);
    if (count % 16 != 0) {
        const mve_pred16_t active = vctp8q((uint32_t)(count % 16));

        vstrbq_p_s8(column, vldrbq_z_s8(source + (count & ~15), active), active);
    }
}

#endif /* EDGEC_MVE_COPY_H */
