/* edgec runtime: prototypes of the gelu kernels (conventions in kernels.h). */
#ifndef EDGEC_KERNELS_ATTENTION_H
#define EDGEC_KERNELS_ATTENTION_H

#include "edgec/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif

#endif /* EDGEC_KERNELS_ATTENTION_H */
