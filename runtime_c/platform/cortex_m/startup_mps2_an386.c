/*
 * Startup code for the Arm MPS2+ board with the AN386 FPGA image (Cortex-M4),
 * as QEMU's mps2-an386 machine emulates it. Link with mps2_an386.ld,
 * -nostartfiles and newlib's semihosting library (--specs=rdimon.specs).
 *
 * Reset_Handler copies .data from its load address in code memory to RAM,
 * zeroes .bss, opens newlib's semihosting stdio handles, runs main(), flushes
 * stdio and makes the emulator exit with main's return value (see
 * edgec_semihosting_exit).
 *
 * HardFault_Handler and Default_Handler (every other exception and
 * interrupt) print the fault state on the semihosting console and exit with
 * EDGEC_EXIT_STATUS_FAULT. The exception handlers are weak aliases of
 * Default_Handler: an application overrides one by defining a function of
 * the same name, for example SysTick_Handler for a cycle counter.
 *
 * Global constructors (__libc_init_array) are not run: edgec's C has none.
 */
#include <stdint.h>
#include <stdio.h>

#include "semihosting.h"

/* Exit status after a fault or an unexpected exception. */
#define EDGEC_EXIT_STATUS_FAULT 3

/* External interrupt lines on the AN386 image (QEMU's mps2 model uses 32). */
#define MPS2_AN386_IRQ_COUNT 32

/* Symbols from mps2_an386.ld. */
extern uint32_t __etext;        /* load address of .data in code memory */
extern uint32_t __data_start__; /* .data in RAM */
extern uint32_t __data_end__;
extern uint32_t __bss_start__;
extern uint32_t __bss_end__;
extern uint32_t __StackTop;

/* From newlib's librdimon: opens stdin, stdout and stderr on the host. */
extern void initialise_monitor_handles(void);

extern int main(void);

void Reset_Handler(void);
void Default_Handler(void);
void HardFault_Handler(void);
void edgec_report_fault(const uint32_t *exception_frame);

#define WEAK_DEFAULT __attribute__((weak, alias("Default_Handler")))
void NMI_Handler(void) WEAK_DEFAULT;
void MemManage_Handler(void) WEAK_DEFAULT;
void BusFault_Handler(void) WEAK_DEFAULT;
void UsageFault_Handler(void) WEAK_DEFAULT;
void SVC_Handler(void) WEAK_DEFAULT;
void DebugMon_Handler(void) WEAK_DEFAULT;
void PendSV_Handler(void) WEAK_DEFAULT;
void SysTick_Handler(void) WEAK_DEFAULT;

typedef void (*exception_handler_t)(void);

#define DEFAULT_HANDLER_X8                                                      \
    Default_Handler, Default_Handler, Default_Handler, Default_Handler,         \
        Default_Handler, Default_Handler, Default_Handler, Default_Handler

/*
 * The vector table: the initial stack pointer, then one handler address per
 * exception number (ARMv7-M Architecture Reference Manual, B1.5.3). The
 * linker script places .isr_vector at address 0, where the core reads it on
 * reset.
 */
__attribute__((section(".isr_vector"), used))
const exception_handler_t edgec_vector_table[16 + MPS2_AN386_IRQ_COUNT] = {
    (exception_handler_t)&__StackTop,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    0,
    0,
    0,
    0,
    SVC_Handler,
    DebugMon_Handler,
    0,
    PendSV_Handler,
    SysTick_Handler,
    /* External interrupts 0-31. */
    DEFAULT_HANDLER_X8,
    DEFAULT_HANDLER_X8,
    DEFAULT_HANDLER_X8,
    DEFAULT_HANDLER_X8,
};

void Reset_Handler(void)
{
    const uint32_t *source = &__etext;
    uint32_t *destination = &__data_start__;
    int status;

    while (destination < &__data_end__) {
        *destination++ = *source++;
    }
    for (destination = &__bss_start__; destination < &__bss_end__; destination++) {
        *destination = 0;
    }

#if defined(__ARM_FP)
    /* A hard-float build needs the FPU: grant full access to CP10 and CP11
     * in CPACR, then synchronize before the first floating-point instruction. */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif

    initialise_monitor_handles();
    status = main();

    /* Not exit(): newlib's _exit (librdimon, newlib 3.3) reports the status
     * with SYS_EXIT_EXTENDED only when the host announces that extension, and
     * otherwise reports a successful stop whatever the status. QEMU 7.2
     * announces it, but edgec_semihosting_exit also turns a failure into a
     * non-zero exit on hosts that do not. Code that calls exit() itself still
     * goes through newlib. */
    fflush(NULL);
    edgec_semihosting_exit(status);
}

/* Writes `value` as 8 hexadecimal digits into `text` (no terminator). */
static void format_hex32(char *text, uint32_t value)
{
    static const char digits[] = "0123456789abcdef";
    int i;

    for (i = 7; i >= 0; i--) {
        text[i] = digits[value & 0xFu];
        value >>= 4;
    }
}

/* Appends "<label>0x<value> " at `cursor` and returns the new end. */
static char *append_register(char *cursor, const char *label, uint32_t value)
{
    while (*label != '\0') {
        *cursor++ = *label++;
    }
    *cursor++ = '0';
    *cursor++ = 'x';
    format_hex32(cursor, value);
    cursor += 8;
    *cursor++ = ' ';
    return cursor;
}

/*
 * Prints the exception number, the stacked PC and LR, and the fault status
 * registers, then exits. Uses semihosting directly because the C library
 * may be in an inconsistent state. Buffered stdio output is lost.
 */
__attribute__((used, noreturn)) void edgec_report_fault(const uint32_t *exception_frame)
{
    /* System control block fault registers (ARMv7-M ARM, B3.2.2). */
    const volatile uint32_t *cfsr = (const volatile uint32_t *)0xE000ED28u;
    const volatile uint32_t *hfsr = (const volatile uint32_t *)0xE000ED2Cu;
    const volatile uint32_t *mmfar = (const volatile uint32_t *)0xE000ED34u;
    const volatile uint32_t *bfar = (const volatile uint32_t *)0xE000ED38u;
    char message[200];
    char *cursor = message;
    const char *title = "edgec: fault in bare-metal program: ";
    uint32_t ipsr;

    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    while (*title != '\0') {
        *cursor++ = *title++;
    }
    if ((ipsr & 0x1FFu) == 3u) {
        const char *name = "HardFault ";
        while (*name != '\0') {
            *cursor++ = *name++;
        }
    }
    cursor = append_register(cursor, "exception=", ipsr & 0x1FFu);
    /* The exception frame contains r0-r3, r12, lr, pc, xPSR. */
    cursor = append_register(cursor, "pc=", exception_frame[6]);
    cursor = append_register(cursor, "lr=", exception_frame[5]);
    cursor = append_register(cursor, "cfsr=", *cfsr);
    cursor = append_register(cursor, "hfsr=", *hfsr);
    cursor = append_register(cursor, "mmfar=", *mmfar);
    cursor = append_register(cursor, "bfar=", *bfar);
    cursor[-1] = '\n';
    *cursor = '\0';

    edgec_semihosting_write0(message);
    edgec_semihosting_exit(EDGEC_EXIT_STATUS_FAULT);
}

/*
 * Passes the exception frame to edgec_report_fault. Bit 2 of EXC_RETURN (in
 * lr) is 0 when the faulting code ran on the main stack (MSP) and 1 when it
 * ran on the process stack (PSP).
 */
__attribute__((naked)) void HardFault_Handler(void)
{
    __asm__ volatile(
        "tst lr, #4\n\t"
        "ite eq\n\t"
        "mrseq r0, msp\n\t"
        "mrsne r0, psp\n\t"
        "b edgec_report_fault\n\t");
}

__attribute__((naked)) void Default_Handler(void)
{
    __asm__ volatile(
        "tst lr, #4\n\t"
        "ite eq\n\t"
        "mrseq r0, msp\n\t"
        "mrsne r0, psp\n\t"
        "b edgec_report_fault\n\t");
}
