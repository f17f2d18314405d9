/* fuzz: what the libFuzzer targets under tests/fuzz/ share. Each target
 * defines LLVMFuzzerTestOneInput; built with clang's -fsanitize=fuzzer it is
 * a fuzzer (make fuzz), built with replay.c it is a plain program that feeds
 * it every file of its corpus (make test), so a fixed crash stays fixed. */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a regular file at a /proc/self/fd path (a memfd, created
 * once), for the readers that take a path; NULL when it cannot be made. */
const char *fuzz_as_file(const uint8_t *data, size_t size);

#endif
