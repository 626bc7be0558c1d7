/*
 * Startup code for the Arm MPS3 board with the AN547 FPGA image (Cortex-M55
 * in the SSE-300 subsystem), as QEMU's mps3-an547 machine emulates it. Link
 * with mps3_an547.ld, -nostartfiles and newlib's semihosting library
 * (--specs=rdimon.specs). The vector table, reset and fault handlers are in
 * startup_cortex_m.h. Its Reset_Handler enables CP10 and CP11 in CPACR before
 * anything else runs, because both the FPU and MVE (Helium) need them.
 *
 * The program stays in the Secure state the core resets into, and leaves the
 * SAU disabled: with SAU_CTRL.ALLNS = 0 every address is then Secure, so
 * every access passes the memory protection controllers, whose reset
 * configuration marks all memory Secure.
 */

/* External interrupt lines of QEMU's mps3-an547 model (numirq in mps2-tz.c). */
#define EDGEC_BOARD_IRQ_COUNT 96

#include "startup_cortex_m.h"
