/* runid: the cells of a results row that identify where and how it was
 * measured, so that `compare` can tell two machines, two library builds or
 * two kernels apart: seed, moebench version, git revision and dirty flag,
 * compiler and flags, OS and kernel, CPU vendor/family/model/stepping, the
 * ISA flags that decide kernels (avx2, avx512*, bf16, amx), clock, memory, a
 * machine id (hash of those), library versions, kernel pins from the
 * environment, the scenario file's hash, and per backend configuration the
 * backend's version string and the kernel it chose. Owns only collecting
 * these; which columns exist is csvout's, judging them is compare's. */
#ifndef RUNID_H
#define RUNID_H

#include <stdint.h>

#include "backends/backend.h"
#include "harness/csvout.h"

/* Fills the run-wide identity cells of `row` (once per run). */
void runid_fill_run(csvout_row_t *row, const char *scenario_path, uint64_t seed);
/* Fills backend_version and kernel for an open backend. */
void runid_fill_backend(csvout_row_t *row, be_t *be);

/* FNV-1a 64 of a file's bytes as 16 hex digits; "" when unreadable. */
void runid_file_hash(const char *path, char *out, int len);
/* "avx2 fma avx512f ..." : the /proc/cpuinfo flags of `line` (the text after
 * "flags :") that decide which kernels the libraries pick, in a fixed order. */
void runid_isa_flags(const char *flags_line, char *out, int len);

#endif
