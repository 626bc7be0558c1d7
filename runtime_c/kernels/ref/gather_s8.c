/*
 * edgec reference kernel: row gather from an int8 table (kernels_matmul.h), such as a
 * word-embedding lookup. The semantics are the reference interpreter's gather
 * (compiler/edgec/reference/int_matmul.py). The output is exact: it has the table's
 * quantization, so its error against float is the table's own quantization error.
 */
#include <stddef.h>
#include <string.h>

#include "edgec/kernels.h"

edgec_status edgec_gather_s8(int32_t table_rows, int32_t row_size, const int8_t *table,
                             int32_t count, const int32_t *indices, int8_t *output)
{
    int32_t i;

    if (table_rows < 1 || row_size < 0 || count < 0) {
        return EDGEC_ERROR_ARGUMENT;
    }
    /* Every index is checked before the first row is copied, so an invalid one leaves the
     * output untouched. */
    for (i = 0; i < count; i++) {
        if (indices[i] < -table_rows || indices[i] >= table_rows) {
            return EDGEC_ERROR_ARGUMENT;
        }
    }
    for (i = 0; i < count; i++) {
        const int32_t row = indices[i] < 0 ? indices[i] + table_rows : indices[i];

        memcpy(output + (size_t)i * (size_t)row_size, table + (size_t)row * (size_t)row_size,
               (size_t)row_size);
    }
    return EDGEC_OK;
}
