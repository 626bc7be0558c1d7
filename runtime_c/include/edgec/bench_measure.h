/*
 * Measurement primitives for the benchmark program that `edgec bench` builds
 * (templates/bench.c.j2): a tick counter and peak-stack measurement by
 * painting. Only the benchmark build links an implementation; the normal
 * model build and the test harness never do.
 *
 * Each platform implements this interface in one file:
 *   platform/cortex_m/bench_measure.c  SysTick on the processor clock, with a
 *                                      64-bit count (wraps counted in
 *                                      SysTick_Handler); stack painted
 *                                      between __StackLimit and the caller.
 *   platform/posix/bench_measure.c     CLOCK_MONOTONIC in nanoseconds; stack
 *                                      painted in a fixed window below the
 *                                      caller.
 * The program prints edgec_bench_tick_unit() next to its tick count, so the
 * tool that reads the output converts ticks without knowing the platform.
 */
#ifndef EDGEC_BENCH_MEASURE_H
#define EDGEC_BENCH_MEASURE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Returns the unit of edgec_bench_timer_read(): "cpu_clock" (one tick per
 * processor clock cycle) or "ns" (nanoseconds).
 */
const char *edgec_bench_tick_unit(void);

/* Starts (or restarts) the tick counter. */
void edgec_bench_timer_start(void);

/*
 * Stops the tick counter. On Cortex-M this also stops the SysTick
 * exceptions, whose frames would otherwise add to a stack measurement.
 */
void edgec_bench_timer_stop(void);

/*
 * Returns the ticks since an arbitrary origin fixed by the last
 * edgec_bench_timer_start(). The count is 64-bit, so it wraps only after
 * centuries, and the difference of two reads is the elapsed time. On
 * Cortex-M under QEMU's -icount shift=0, a read costs less than one tick of
 * the 25 MHz SysTick (40 instructions).
 */
uint64_t edgec_bench_timer_read(void);

/*
 * Returns the current stack pointer of the calling function. Inlined, so
 * the value is the caller's own stack pointer, not that of a helper frame.
 */
static inline __attribute__((always_inline)) uintptr_t edgec_bench_stack_pointer(void)
{
#if defined(__arm__) || defined(__aarch64__)
    uintptr_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    return sp;
#elif defined(__x86_64__)
    uintptr_t sp;
    __asm__ volatile("mov %%rsp, %0" : "=r"(sp));
    return sp;
#else
#error "edgec_bench_stack_pointer: no stack pointer read for this architecture"
#endif
}

/*
 * Fills free stack below the calling function with a fixed pattern and
 * returns the number of bytes painted (0 when the platform cannot paint).
 * `caller_sp` is the caller's edgec_bench_stack_pointer(); call
 * edgec_bench_stack_peak() with the same value after the code to measure.
 * Exceptions that push frames on the stack in between (for example a
 * running SysTick) add to the figure, so stop the timer first.
 */
size_t edgec_bench_stack_paint(uintptr_t caller_sp);

/*
 * Returns the peak stack use, in bytes, since edgec_bench_stack_paint():
 * `caller_sp` minus the lowest address whose painted value changed.
 * Returns -1 when the lowest painted word changed, so the true peak is
 * unknown (on Cortex-M this is a stack overflow). A few bytes right below
 * `caller_sp` stay unpainted: the paint function's own frame, and on x86-64
 * its 128-byte red zone. When no painted word changed, the result is the
 * size of that gap, an upper bound.
 *
 * NOTE: a word that the measured code writes with exactly the paint pattern
 * looks unused, so the figure can be low by the words at the very bottom of
 * the peak frame when they hold that value.
 */
long edgec_bench_stack_peak(uintptr_t caller_sp);

/*
 * Starts SysTick with the reload value `reload` (1..0xFFFFFF) instead of
 * edgec_bench_timer_start()'s 0xFFFFFF, so that a test can make the counter
 * wrap often and check the wrap counting. Cortex-M only.
 */
void edgec_bench_systick_start(uint32_t reload);

#endif /* EDGEC_BENCH_MEASURE_H */
