/*
 * Packed int4 weights, shared by the *_s8_s4 kernels.
 *
 * Each output channel's row stores its reduction values two per byte: value 2j in the low
 * nibble of byte j and value 2j+1 in the high nibble, as 4-bit two's complement
 * (kernels.h describes the layouts and the group multipliers).
 */
#ifndef EDGEC_INT4_H
#define EDGEC_INT4_H

#include <stdint.h>

/* Returns value k of a packed int4 row. */
static inline int32_t edgec_int4_value(const uint8_t *row, int32_t k)
{
    const int32_t byte = row[k / 2];
    const int32_t nibble = (k % 2 == 0) ? (byte & 0x0F) : (byte >> 4);

    return nibble >= 8 ? nibble - 16 : nibble;
}

#endif /* EDGEC_INT4_H */
