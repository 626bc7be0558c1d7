/*
 * Startup code for the Arm MPS2+ board with the AN505 FPGA image (Cortex-M33
 * in the IoT Kit subsystem), as QEMU's mps2-an505 machine emulates it. Link
 * with mps2_an505.ld, -nostartfiles and newlib's semihosting library
 * (--specs=rdimon.specs). The vector table, reset and fault handlers are in
 * startup_cortex_m.h.
 *
 * The program stays in the Secure state the core resets into, and leaves the
 * SAU disabled: with SAU_CTRL.ALLNS = 0 every address is then Secure, so
 * every access passes the memory protection controllers, whose reset
 * configuration marks all memory Secure.
 */

/* External interrupt lines of QEMU's mps2-an505 model (numirq in mps2-tz.c). */
#define EDGEC_BOARD_IRQ_COUNT 92

#include "startup_cortex_m.h"
