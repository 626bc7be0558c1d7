/*
 * Benchmark measurements on Cortex-M (edgec/bench_measure.h): SysTick as a
 * 64-bit tick counter and stack painting between __StackLimit and the
 * caller. Only the benchmark program (`make bench`) links this file,
 * because it defines SysTick_Handler, which replaces the startup code's
 * weak default.
 *
 * SysTick runs on the processor clock (CLKSOURCE = 1) and counts down from
 * the reload value; every wrap to the reload value raises the SysTick
 * exception, whose handler counts the wraps. Under QEMU's -icount shift=0
 * each instruction advances virtual time by 1 ns, and QEMU's mps2-an386
 * clocks SysTick at 25 MHz, so one tick is 40 instructions there. The other
 * boards' clocks are in the target files ([emulator] cpu_clock_hz).
 *
 * Every instruction here exists on Armv6-M too (MRS, CPSID, MSR); the 64-bit
 * multiply in edgec_bench_timer_read() calls libgcc's __aeabi_lmul there.
 */
#include <stdint.h>

#include "edgec/bench_measure.h"

/* SysTick registers (ARMv7-M Architecture Reference Manual, B3.3.2). */
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CLKSOURCE (1u << 2)
#define SYST_RELOAD_MAX 0xFFFFFFu

/* Interrupt Control and State Register: SysTick pending set and clear bits. */
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define SCB_ICSR_PENDSTSET (1u << 26)
#define SCB_ICSR_PENDSTCLR (1u << 25)

/* Paint pattern for unused stack words. */
#define STACK_PAINT_WORD 0xC5AC5AC5u

/* From the board's linker script: the lowest address of the stack region. */
extern uint32_t __StackLimit;

void SysTick_Handler(void);

static volatile uint32_t systick_wraps;
static uint32_t systick_reload = SYST_RELOAD_MAX;

/* Top (exclusive) of the area that edgec_bench_stack_paint() filled. */
static uintptr_t painted_top;

void SysTick_Handler(void)
{
    systick_wraps++;
}

const char *edgec_bench_tick_unit(void)
{
    return "cpu_clock";
}

void edgec_bench_systick_start(uint32_t reload)
{
    if (reload == 0u || reload > SYST_RELOAD_MAX) {
        reload = SYST_RELOAD_MAX;
    }
    SYST_CSR = 0u;
    systick_reload = reload;
    SYST_RVR = reload;
    /* Any write clears the current value. The counter loads the reload value
     * on the next clock edge after it is enabled. */
    SYST_CVR = 0u;
    SCB_ICSR = SCB_ICSR_PENDSTCLR;
    systick_wraps = 0u;
    SYST_CSR = SYST_CSR_CLKSOURCE | SYST_CSR_TICKINT | SYST_CSR_ENABLE;

    /* Until the first reload the current value reads 0, which the formula in
     * edgec_bench_timer_read() would take for the end of a period. */
    while (SYST_CVR == 0u) {
    }
}

void edgec_bench_timer_start(void)
{
    edgec_bench_systick_start(SYST_RELOAD_MAX);
}

void edgec_bench_timer_stop(void)
{
    SYST_CSR = 0u;
    SCB_ICSR = SCB_ICSR_PENDSTCLR;
}

uint64_t edgec_bench_timer_read(void)
{
    uint32_t primask;
    uint32_t wraps;
    uint32_t value;

    /* With interrupts masked, the handler cannot change the wrap count
     * between the two reads below. */
    __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask) : : "memory");
    wraps = systick_wraps;
    value = SYST_CVR;
    if ((SCB_ICSR & SCB_ICSR_PENDSTSET) != 0u) {
        /* The counter wrapped before the pending bit was read, but the
         * handler has not run yet: count that wrap here, and read the
         * current value again so that it is certainly from after the wrap. */
        wraps++;
        value = SYST_CVR;
    }
    __asm__ volatile("msr primask, %0" : : "r"(primask) : "memory");

    return (uint64_t)wraps * ((uint64_t)systick_reload + 1u) + (systick_reload - value);
}

size_t edgec_bench_stack_paint(uintptr_t caller_sp)
{
    /* Everything below this function's own stack pointer is free: Arm has no
     * red zone, and SysTick must be stopped, so no exception frame lands
     * there while the loop runs. */
    uintptr_t top = edgec_bench_stack_pointer();
    volatile uint32_t *word;

    if (caller_sp < top) {
        top = caller_sp;
    }
    top &= ~(uintptr_t)(sizeof(uint32_t) - 1u);
    for (word = &__StackLimit; (uintptr_t)word < top; word++) {
        *word = STACK_PAINT_WORD;
    }
    painted_top = top;
    return top - (uintptr_t)&__StackLimit;
}

long edgec_bench_stack_peak(uintptr_t caller_sp)
{
    const volatile uint32_t *word = &__StackLimit;

    if (*word != STACK_PAINT_WORD) {
        return -1;
    }
    while ((uintptr_t)word < painted_top && *word == STACK_PAINT_WORD) {
        word++;
    }
    return (long)(caller_sp - (uintptr_t)word);
}
