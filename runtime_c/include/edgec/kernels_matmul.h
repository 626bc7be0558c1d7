/* edgec runtime: prototypes of the batch_matmul, gather and masked_mean kernels (conventions in kernels.h). */
#ifndef EDGEC_KERNELS_MATMUL_H
#define EDGEC_KERNELS_MATMUL_H

#include "edgec/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif

#endif /* EDGEC_KERNELS_MATMUL_H */
