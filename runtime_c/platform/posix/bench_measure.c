/*
 * Benchmark measurements on Linux and other POSIX systems
 * (edgec/bench_measure.h): CLOCK_MONOTONIC in nanoseconds, and stack
 * painting in a fixed window below the caller. Only the benchmark program
 * (`make bench`) links this file.
 *
 * The window is STACK_PAINT_WINDOW_BYTES deep. The main thread's stack
 * limit on Linux is 8 MB by default, and qemu-aarch64 gives the program an
 * 8 MB stack, so the window fits. Linux grows the main stack on a write
 * anywhere within that limit.
 */
#define _POSIX_C_SOURCE 199309L

#include <stdint.h>
#include <time.h>

#include "edgec/bench_measure.h"

#define NANOSECONDS_PER_SECOND 1000000000u

/* Depth of the painted area below the paint function's frame. */
#define STACK_PAINT_WINDOW_BYTES (256u * 1024u)

/* Paint pattern for unused stack words. */
#define STACK_PAINT_WORD 0xC5AC5AC5u

/* The x86-64 System V ABI lets a leaf function use 128 bytes below its stack
 * pointer (the red zone), so painting starts below it. */
#if defined(__x86_64__)
#define RED_ZONE_BYTES 128u
#else
#define RED_ZONE_BYTES 0u
#endif

/* Bounds of the area that edgec_bench_stack_paint() filled. */
static uintptr_t painted_bottom;
static uintptr_t painted_top;

const char *edgec_bench_tick_unit(void)
{
    return "ns";
}

void edgec_bench_timer_start(void)
{
}

void edgec_bench_timer_stop(void)
{
}

uint64_t edgec_bench_timer_read(void)
{
    struct timespec now;

    if (clock_gettime(CLOCK_MONOTONIC, &now) != 0) {
        return 0;
    }
    return (uint64_t)now.tv_sec * NANOSECONDS_PER_SECOND + (uint64_t)now.tv_nsec;
}

size_t edgec_bench_stack_paint(uintptr_t caller_sp)
{
    uintptr_t top = edgec_bench_stack_pointer() - RED_ZONE_BYTES;
    volatile uint32_t *word;

    if (caller_sp < top) {
        top = caller_sp;
    }
    top &= ~(uintptr_t)(sizeof(uint32_t) - 1u);
    /* Written word by word through a volatile pointer: a call to memset
     * would push its frame into the area it fills. */
    for (word = (volatile uint32_t *)(top - STACK_PAINT_WINDOW_BYTES);
         (uintptr_t)word < top; word++) {
        *word = STACK_PAINT_WORD;
    }
    painted_bottom = top - STACK_PAINT_WINDOW_BYTES;
    painted_top = top;
    return STACK_PAINT_WINDOW_BYTES;
}

long edgec_bench_stack_peak(uintptr_t caller_sp)
{
    const volatile uint32_t *word = (const volatile uint32_t *)painted_bottom;

    if (*word != STACK_PAINT_WORD) {
        return -1;
    }
    while ((uintptr_t)word < painted_top && *word == STACK_PAINT_WORD) {
        word++;
    }
    return (long)(caller_sp - (uintptr_t)word);
}
