/* edgec runtime: prototypes of the layer_norm and l2_normalize kernels (conventions in kernels.h). */
#ifndef EDGEC_KERNELS_NORM_H
#define EDGEC_KERNELS_NORM_H

#include "edgec/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif

#endif /* EDGEC_KERNELS_NORM_H */
