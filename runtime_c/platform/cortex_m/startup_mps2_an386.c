/*
 * Startup code for the Arm MPS2+ board with the AN386 FPGA image (Cortex-M4),
 * as QEMU's mps2-an386 machine emulates it. Link with mps2_an386.ld,
 * -nostartfiles and newlib's semihosting library (--specs=rdimon.specs).
 * The vector table, reset and fault handlers are in startup_cortex_m.h.
 */

/* External interrupt lines on the AN386 image (QEMU's mps2 model uses 32). */
#define EDGEC_BOARD_IRQ_COUNT 32

#include "startup_cortex_m.h"
