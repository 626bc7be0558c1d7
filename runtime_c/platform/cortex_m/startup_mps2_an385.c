/*
 * Startup code for the Arm MPS2+ board with the AN385 FPGA image (Cortex-M3),
 * as QEMU's mps2-an385 machine emulates it. The cortex-m3 target and the
 * cortex-m0plus target (Armv6-M code, which the Cortex-M3 executes) use it.
 * Link with mps2_an385.ld, -nostartfiles and newlib's semihosting library
 * (--specs=rdimon.specs). The vector table, reset and fault handlers are in
 * startup_cortex_m.h.
 */

/* External interrupt lines on the AN385 image (QEMU's mps2 model uses 32). */
#define EDGEC_BOARD_IRQ_COUNT 32

#include "startup_cortex_m.h"
