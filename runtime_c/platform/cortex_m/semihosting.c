/*
 * Arm semihosting calls (SYS_WRITE0, SYS_EXIT_EXTENDED, SYS_EXIT).
 * Operation numbers and reason codes are from the Arm semihosting
 * specification, version 2.0.
 */
#include "semihosting.h"

#include <stdint.h>

enum {
    SYS_WRITE0 = 0x04,
    SYS_EXIT = 0x18,
    SYS_EXIT_EXTENDED = 0x20
};

/* Reason codes for SYS_EXIT and SYS_EXIT_EXTENDED. */
enum {
    ADP_STOPPED_RUN_TIME_ERROR_UNKNOWN = 0x20023,
    ADP_STOPPED_APPLICATION_EXIT = 0x20026
};

/*
 * Issues one semihosting call. BKPT 0xAB is the M-profile trap, and the host
 * returns its result in r0. The "memory" clobber makes the compiler store
 * the parameter block before the call.
 */
static uintptr_t semihosting_call(uintptr_t operation, uintptr_t argument)
{
    register uintptr_t r0 __asm__("r0") = operation;
    register uintptr_t r1 __asm__("r1") = argument;

    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void edgec_semihosting_write0(const char *text)
{
    semihosting_call(SYS_WRITE0, (uintptr_t)text);
}

void edgec_semihosting_exit(int status)
{
    /* SYS_EXIT_EXTENDED takes a two-word block: reason code, exit status. */
    volatile uint32_t block[2];

    block[0] = ADP_STOPPED_APPLICATION_EXIT;
    block[1] = (uint32_t)status;
    semihosting_call(SYS_EXIT_EXTENDED, (uintptr_t)block);

    /* Reached only on a host without SYS_EXIT_EXTENDED. On AArch32, SYS_EXIT
     * takes the reason code itself, so only success or failure gets through. */
    semihosting_call(SYS_EXIT, status == 0 ? ADP_STOPPED_APPLICATION_EXIT
                                           : ADP_STOPPED_RUN_TIME_ERROR_UNKNOWN);
    for (;;) {
    }
}
