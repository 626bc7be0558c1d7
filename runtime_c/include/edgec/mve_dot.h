/*
 * edgec runtime: Helium (MVE) int8 dot products of the convolution and fully connected
 * kernels in runtime_c/kernels/mve. Include only where the extension exists.
 *
 * VMLADAVA sums 16 int8 products into one int32 accumulator. A block keeps eight
 * accumulators (two pixels x four output channels, or one vector x eight channels), so
 * every 16-byte load feeds several VMLADAVA. The compiler arranges the weights in the
 * order the loops read them (compiler/edgec/lower/variants_mve.py). The blocks of channels
 * come one after the other. Inside a block, each 16-byte step of the reduction holds the
 * 16 weights of each channel in turn. Sums wrap modulo 2^32 like the
 * reference kernels' int32 accumulators.
 *
 * The loops are inline assembly because VMLADAVA accumulates only in even registers: with
 * intrinsics, GCC 12.2 (-O2) moved accumulators between registers and copied pointers on
 * every step (20 instructions for a two-pixel, three-channel step that needs 12) and
 * spilled around every block. Here the eight accumulators live in the even registers
 * r0-r12 and lr, so the loops count with subs/bne instead of the lr-based low-overhead
 * loop, and the block and step counts wait in a stack slot that the loop reserves for
 * itself. That leaves four operand registers, which GCC can allocate even when r7 is the
 * frame pointer (-O0). The first step of a block uses VMLADAV, which overwrites its
 * accumulator, so no register needs zeroing. The blocks read memory only through their
 * pointer arguments and write only the sums.
 */
#ifndef EDGEC_MVE_DOT_H
#define EDGEC_MVE_DOT_H

#include <arm_mve.h>
#include <stdint.h>

#include "edgec/mve_copy.h"

/* Bytes of the reduction that one step (one VMLADAVA per accumulator) consumes. */
#define EDGEC_MVE_STEP_BYTES 16

/* Returns the number of 16-byte steps that cover `count` bytes. */
static inline int32_t edgec_mve_steps(int32_t count)
{
    return (count + EDGEC_MVE_STEP_BYTES - 1) / EDGEC_MVE_STEP_BYTES;
}

/* Loads the next 16 weight bytes and multiplies them with the input vectors in q0 and q1
 * into two accumulators (op is vmladav.s8 on the first step, vmladava.s8 after it). */
#define EDGEC_MVE_PAIR_CHANNEL(op, acc0, acc1) \
    "vldrb.8 q2, [%[w]], #16\n\t"              \
    op " " acc0 ", q0, q2\n\t"                 \
    op " " acc1 ", q1, q2\n\t"

#define EDGEC_MVE_PAIR_STEP(op)                \
    "vldrb.8 q0, [%[x]], #16\n\t"              \
    "vldrb.8 q1, [%[x]], #16\n\t"              \
    EDGEC_MVE_PAIR_CHANNEL(op, "r0", "r8")     \
    EDGEC_MVE_PAIR_CHANNEL(op, "r2", "r10")    \
    EDGEC_MVE_PAIR_CHANNEL(op, "r4", "r12")    \
    EDGEC_MVE_PAIR_CHANNEL(op, "r6", "lr")

#define EDGEC_MVE_SINGLE_CHANNEL(op, acc)      \
    "vldrb.8 q1, [%[w]], #16\n\t"              \
    op " " acc ", q0, q1\n\t"

#define EDGEC_MVE_SINGLE_STEP(op)              \
    "vldrb.8 q0, [%[x]], #16\n\t"              \
    EDGEC_MVE_SINGLE_CHANNEL(op, "r0")         \
    EDGEC_MVE_SINGLE_CHANNEL(op, "r2")         \
    EDGEC_MVE_SINGLE_CHANNEL(op, "r4")         \
    EDGEC_MVE_SINGLE_CHANNEL(op, "r6")         \
    EDGEC_MVE_SINGLE_CHANNEL(op, "r8")         \
    EDGEC_MVE_SINGLE_CHANNEL(op, "r10")        \
    EDGEC_MVE_SINGLE_CHANNEL(op, "r12")        \
    EDGEC_MVE_SINGLE_CHANNEL(op, "lr")

/*
 * The loop around the blocks. At entry %[blocks] (r0) contains the block count and
 * %[steps] (r2) the step count. The stack slot that the loop reserves keeps them and the
 * start of x: [sp] the blocks left, [sp, #4] the steps, [sp, #8] x. `steps` is the code
 * of one block's steps, which leaves the sums in the accumulators.
 */
#define EDGEC_MVE_BLOCK_LOOP(steps)                            \
    "sub sp, sp, #16\n\t"                                      \
    "strd %[blocks], %[steps], [sp]\n\t"                        \
    "str %[x], [sp, #8]\n"                                      \
    "3:\n\t"                                                   \
    "ldr %[x], [sp, #8]\n\t"                                   \
    steps                                                      \
    "stm %[sums]!, {r0, r2, r4, r6, r8, r10, r12, lr}\n\t"     \
    "ldr %[count], [sp]\n\t"                                   \
    "subs %[count], %[count], #1\n\t"                          \
    "str %[count], [sp]\n\t"                                   \
    "bne 3b\n\t"                                               \
    "add sp, sp, #16\n\t"

/*
 * The steps of a block for any step count: `first` (VMLADAV), then single `step` bodies
 * (VMLADAVA) until the remaining count is even, then two per loop turn, which saves one
 * subs/bne per two steps. %[count] counts the steps left.
 */
#define EDGEC_MVE_ANY_STEPS(first, step)                       \
    "ldr %[count], [sp, #4]\n\t"                               \
    first                                                      \
    "subs %[count], %[count], #1\n\t"                          \
    "beq 2f\n\t"                                               \
    "tst %[count], #1\n\t"                                     \
    "beq 4f\n\t"                                               \
    step                                                       \
    "subs %[count], %[count], #1\n\t"                          \
    "beq 2f\n"                                                 \
    "4:\n\t"                                                   \
    step                                                       \
    step                                                       \
    "subs %[count], %[count], #2\n\t"                          \
    "bne 4b\n"                                                 \
    "2:\n\t"

/* Operands and clobbers of the dot products. blocks_in_r0 and steps_in_r2 are register
 * variables bound to r0 and r2, which the loop then uses as accumulators. */
#define EDGEC_MVE_BLOCK_OPERANDS                                                          \
    : [x] "+r"(x), [w] "+r"(w), [sums] "+r"(sums), [count] "=&r"(count),                  \
      [blocks] "+r"(blocks_in_r0), [steps] "+r"(steps_in_r2)                              \
    :                                                                                     \
    : "r4", "r6", "r8", "r10", "r12", "lr", "q0", "q1", "q2", "cc", "memory"

/* Runs `steps_code` (a step sequence) for every block: the body of the dot products. */
#define EDGEC_MVE_DOT_BLOCKS(steps_code)                                                  \
    do {                                                                                  \
        register int32_t blocks_in_r0 __asm__("r0") = blocks;                            \
        register int32_t steps_in_r2 __asm__("r2") = steps;                              \
        int32_t count;                                                                    \
                                                                                          \
        __asm__ volatile(EDGEC_MVE_BLOCK_LOOP(steps_code) EDGEC_MVE_BLOCK_OPERANDS);      \
    } while (0)

/*
 * Computes the dot products of two pixels with `blocks` blocks of four output channels. x
 * points at the pixels' reduction vectors interleaved by step: 16 bytes of pixel 0, then
 * 16 of pixel 1, `steps` times. Writes 8 sums per block to `sums`: pixel 0's four
 * channels, then pixel 1's. steps and blocks must be at least 1. A step costs 14
 * instructions for 8 x 16 products, and a block 7 more, plus 2 per step or pair of steps
 * from 5 steps on (up to 4 steps are unrolled).
 */
EDGEC_MVE_INLINE void edgec_mve_dot_pair(const int8_t *x, const int8_t *w, int32_t steps,
                                      int32_t blocks, int32_t *sums)
{
    switch (steps) {
    case 1:
        EDGEC_MVE_DOT_BLOCKS(EDGEC_MVE_PAIR_STEP("vmladav.s8"));
        break;
    case 2:
        EDGEC_MVE_DOT_BLOCKS(EDGEC_MVE_PAIR_STEP("vmladav.s8")
                             EDGEC_MVE_PAIR_STEP("vmladava.s8"));
        break;
    case 3:
        EDGEC_MVE_DOT_BLOCKS(EDGEC_MVE_PAIR_STEP("vmladav.s8")
                             EDGEC_MVE_PAIR_STEP("vmladava.s8")
                             EDGEC_MVE_PAIR_STEP("vmladava.s8"));
        break;
    case 4:
        EDGEC_MVE_DOT_BLOCKS(EDGEC_MVE_PAIR_STEP("vmladav.s8")
                             EDGEC_MVE_PAIR_STEP("vmladava.s8")
                             EDGEC_MVE_PAIR_STEP("vmladava.s8")
                             EDGEC_MVE_PAIR_STEP("vmladava.s8"));
        break;
    default:
        EDGEC_MVE_DOT_BLOCKS(EDGEC_MVE_ANY_STEPS(EDGEC_MVE_PAIR_STEP("vmladav.s8"),
                                                 EDGEC_MVE_PAIR_STEP("vmladava.s8")));
        break;
    }
}

/*
 * Computes the dot products of one vector with `blocks` blocks of eight output channels.
 * x points at `steps` * 16 bytes. Writes 8 sums per block to `sums`, in channel order.
 * steps and blocks must be at least 1. A step costs 17 instructions for 8 x 16 products,
 * and a block 7 more, plus 2 per step or pair of steps from 3 steps on (up to 2 steps are
 * unrolled).
 */
EDGEC_MVE_INLINE void edgec_mve_dot_single(const int8_t *x, const int8_t *w, int32_t steps,
                                        int32_t blocks, int32_t *sums)
{
    switch (steps) {
    case 1:
        EDGEC_MVE_DOT_BLOCKS(EDGEC_MVE_SINGLE_STEP("vmladav.s8"));
        break;
    case 2:
        EDGEC_MVE_DOT_BLOCKS(EDGEC_MVE_SINGLE_STEP("vmladav.s8")
                             EDGEC_MVE_SINGLE_STEP("vmladava.s8"));
        break;
    default:
        EDGEC_MVE_DOT_BLOCKS(EDGEC_MVE_ANY_STEPS(EDGEC_MVE_SINGLE_STEP("vmladav.s8"),
                                                 EDGEC_MVE_SINGLE_STEP("vmladava.s8")));
        break;
    }
}

#endif /* EDGEC_MVE_DOT_H */
