/*
 * Arm semihosting calls for the bare-metal Cortex-M platform.
 *
 * Semihosting lets a program running under a debugger or an emulator (here
 * qemu-system-arm with -semihosting-config enable=on) use the host's console
 * and files. Each call is a BKPT 0xAB instruction with the operation number
 * in r0 and a pointer to its parameter block in r1, as the Arm "Semihosting
 * for AArch32 and AArch64" specification (version 2.0) defines.
 *
 * newlib's librdimon uses the same mechanism for stdio. These functions are
 * for code that must not depend on the C library: fault handlers and the
 * final exit.
 */
#ifndef EDGEC_PLATFORM_SEMIHOSTING_H
#define EDGEC_PLATFORM_SEMIHOSTING_H

/* Writes a NUL-terminated string to the host's debug console (SYS_WRITE0). */
void edgec_semihosting_write0(const char *text);

/*
 * Stops the program and makes the emulator exit with `status` (0..255 on a
 * POSIX host). Uses SYS_EXIT_EXTENDED, which QEMU 7.2 implements.
 * If the host does not implement it, falls back to SYS_EXIT, which only
 * carries success (status 0) or failure (any other status). Never returns.
 */
void edgec_semihosting_exit(int status) __attribute__((noreturn));

#endif /* EDGEC_PLATFORM_SEMIHOSTING_H */
