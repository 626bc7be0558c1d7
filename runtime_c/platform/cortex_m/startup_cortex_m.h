/*
 * Startup code shared by the bare-metal Cortex-M boards: the vector table,
 * Reset_Handler and the fault handlers. Link with the board's linker script
 * (which defines the symbols below), -nostartfiles and newlib's semihosting
 * library (--specs=rdimon.specs).
 *
 * Each board's startup file (startup_<board>.c) defines
 * EDGEC_BOARD_IRQ_COUNT and then includes this file, once. The code lives in
 * a header because a target file lists only its board's startup file, and
 * edgec.toolchain.copy_platform_files copies every header of this folder into
 * a generated project.
 *
 * Reset_Handler first enables the FPU and MVE coprocessors when the build
 * uses them. It then copies .data from its load address in code memory to
 * RAM, zeroes .bss and opens newlib's semihosting stdio handles. Last, it
 * runs main(), flushes stdio and makes the emulator exit with main's return
 * value (see edgec_semihosting_exit).
 *
 * HardFault_Handler and Default_Handler (every other exception and
 * interrupt) print the fault state on the semihosting console and exit with
 * EDGEC_EXIT_STATUS_FAULT. The exception handlers are weak aliases of
 * Default_Handler: an application overrides one by defining a function of
 * the same name, for example SysTick_Handler for a cycle counter.
 *
 * Architecture differences, chosen at compile time from the compiler's
 * predefined macros:
 *   Armv6-M and Armv8-M Baseline have no IT instruction and no configurable
 *     fault status registers (CFSR, HFSR, MMFAR, BFAR), and their vector
 *     table has no MemManage, BusFault, UsageFault or DebugMonitor entry.
 *   Armv8-M Mainline uses exception 7 for SecureFault (reserved on
 *     Armv7-M).
 *
 * Global constructors (__libc_init_array) are not run: edgec's C has none.
 */
#ifndef EDGEC_PLATFORM_STARTUP_CORTEX_M_H
#define EDGEC_PLATFORM_STARTUP_CORTEX_M_H

#include <stdint.h>
#include <stdio.h>

#include "semihosting.h"

#ifndef EDGEC_BOARD_IRQ_COUNT
#error "define EDGEC_BOARD_IRQ_COUNT (the board's external interrupt lines) before including startup_cortex_m.h"
#endif

#if defined(__ARM_ARCH_6M__) || defined(__ARM_ARCH_8M_BASE__)
#define EDGEC_CORTEX_M_BASELINE 1
#else
#define EDGEC_CORTEX_M_BASELINE 0
#endif

#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__)
#define EDGEC_CORTEX_M_HAS_SECURE_FAULT 1
#else
#define EDGEC_CORTEX_M_HAS_SECURE_FAULT 0
#endif

/* Exit status after a fault or an unexpected exception. */
#define EDGEC_EXIT_STATUS_FAULT 3

/* Symbols from the board's linker script. */
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
void SecureFault_Handler(void) WEAK_DEFAULT;
void SVC_Handler(void) WEAK_DEFAULT;
void DebugMon_Handler(void) WEAK_DEFAULT;
void PendSV_Handler(void) WEAK_DEFAULT;
void SysTick_Handler(void) WEAK_DEFAULT;

typedef void (*exception_handler_t)(void);

/*
 * The vector table: the initial stack pointer, then one handler address per
 * exception number (Armv7-M Architecture Reference Manual, B1.5.3; Armv6-M
 * and Armv8-M keep the same numbers). The linker script places .isr_vector
 * at the address where the core reads it on reset. Reserved entries are 0.
 */
__attribute__((section(".isr_vector"), used))
const exception_handler_t edgec_vector_table[16 + EDGEC_BOARD_IRQ_COUNT] = {
    (exception_handler_t)&__StackTop,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
#if EDGEC_CORTEX_M_BASELINE
    0,
    0,
    0,
#else
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
#endif
#if EDGEC_CORTEX_M_HAS_SECURE_FAULT
    SecureFault_Handler,
#else
    0,
#endif
    0,
    0,
    0,
    SVC_Handler,
#if EDGEC_CORTEX_M_BASELINE
    0,
#else
    DebugMon_Handler,
#endif
    0,
    PendSV_Handler,
    SysTick_Handler,
    /* External interrupts (a GNU C range designator). */
    [16 ... 16 + EDGEC_BOARD_IRQ_COUNT - 1] = Default_Handler,
};

void Reset_Handler(void)
{
    const uint32_t *source = &__etext;
    uint32_t *destination = &__data_start__;
    int status;

#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    /* The FPU and MVE (Helium) share coprocessors CP10 and CP11. Grant full
     * access to both in CPACR and synchronize first, because the compiler may
     * vectorize the copy loops below, and the C library may use the FPU. */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif

    while (destination < &__data_end__) {
        *destination++ = *source++;
    }
    for (destination = &__bss_start__; destination < &__bss_end__; destination++) {
        *destination = 0;
    }

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
 * Prints the exception number, the stacked PC and LR, and (except on
 * Armv6-M and Armv8-M Baseline, which lack them) the fault status registers,
 * then exits. Uses semihosting directly because the C library may be in an
 * inconsistent state. Buffered stdio output is lost.
 */
__attribute__((used, noreturn)) void edgec_report_fault(const uint32_t *exception_frame)
{
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
    /* The exception frame starts with r0-r3, r12, lr, pc, xPSR. */
    cursor = append_register(cursor, "pc=", exception_frame[6]);
    cursor = append_register(cursor, "lr=", exception_frame[5]);
#if !EDGEC_CORTEX_M_BASELINE
    /* System control block fault registers (Armv7-M ARM, B3.2.2). */
    cursor = append_register(cursor, "cfsr=", *(const volatile uint32_t *)0xE000ED28u);
    cursor = append_register(cursor, "hfsr=", *(const volatile uint32_t *)0xE000ED2Cu);
    cursor = append_register(cursor, "mmfar=", *(const volatile uint32_t *)0xE000ED34u);
    cursor = append_register(cursor, "bfar=", *(const volatile uint32_t *)0xE000ED38u);
#endif
    cursor[-1] = '\n';
    *cursor = '\0';

    edgec_semihosting_write0(message);
    edgec_semihosting_exit(EDGEC_EXIT_STATUS_FAULT);
}

/*
 * Passes the exception frame to edgec_report_fault. Bit 2 of EXC_RETURN (in
 * lr) is 0 when the faulting code ran on the main stack (MSP) and 1 when it
 * ran on the process stack (PSP). The Baseline sequence has no IT, and it
 * calls with BL because B reaches only 2 KB there. BL overwrites lr, which
 * does not matter because edgec_report_fault never returns.
 */
#if EDGEC_CORTEX_M_BASELINE
#define EDGEC_PASS_EXCEPTION_FRAME          \
    "mov r0, lr\n\t"                        \
    "movs r1, #4\n\t"                       \
    "tst r0, r1\n\t"                        \
    "bne 1f\n\t"                            \
    "mrs r0, msp\n\t"                       \
    "bl edgec_report_fault\n\t"             \
    "1:\n\t"                                \
    "mrs r0, psp\n\t"                       \
    "bl edgec_report_fault\n\t"
#else
#define EDGEC_PASS_EXCEPTION_FRAME          \
    "tst lr, #4\n\t"                        \
    "ite eq\n\t"                            \
    "mrseq r0, msp\n\t"                     \
    "mrsne r0, psp\n\t"                     \
    "b edgec_report_fault\n\t"
#endif

__attribute__((naked)) void HardFault_Handler(void)
{
    __asm__ volatile(EDGEC_PASS_EXCEPTION_FRAME);
}

__attribute__((naked)) void Default_Handler(void)
{
    __asm__ volatile(EDGEC_PASS_EXCEPTION_FRAME);
}

#endif /* EDGEC_PLATFORM_STARTUP_CORTEX_M_H */
