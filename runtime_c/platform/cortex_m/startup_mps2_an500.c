/*
 * Startup code for the Arm MPS2+ board with the AN500 FPGA image (Cortex-M7),
 * as QEMU's mps2-an500 machine emulates it. Link with mps2_an500.ld,
 * -nostartfiles and newlib's semihosting library (--specs=rdimon.specs).
 * The vector table, reset and fault handlers are in startup_cortex_m.h.
 *
 * The caches stay disabled, as they are after reset: QEMU does not model
 * them, so enabling them would change nothing that a test can see.
 */

/* External interrupt lines on the AN500 image (QEMU's mps2 model uses 32). */
#define EDGEC_BOARD_IRQ_COUNT 32

#include "startup_cortex_m.h"
