/* libinfo: which library builds and which kernels this process runs on, for
 * the results rows that identify a run (harness/runid.c): OpenBLAS's config
 * and the core it chose (openblas_get_config, openblas_get_corename),
 * oneDNN's version and effective ISA, and per open backend the kernel its
 * matmul runs. Kernels are chosen by the libraries from CPUID at run time,
 * and valgrind reports a different CPU than the hardware, so two runs of one
 * build may run different code: these strings are what `compare` checks.
 * Owns no backend; only asks the libraries. */
#ifndef LIBINFO_H
#define LIBINFO_H

#include <stddef.h>

#include "backends/backend.h"

/* openblas_get_config(), e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64". */
const char *libinfo_openblas_config(void);
/* The core OpenBLAS chose (or was told by OPENBLAS_CORETYPE), e.g. "Zen". */
const char *libinfo_openblas_core(void);
/* "oneDNN 2.6.3 (commit ...; isa avx2)". */
void libinfo_onednn(char *buf, size_t len);
/* The kernel an open backend computes with, short: "openblas Zen; ops avx2",
 * "onednn brg:avx2; ops avx2", "ref portable C". */
void libinfo_kernel(be_t *be, char *buf, size_t len);
/* The OpenBLAS core to pin (OPENBLAS_CORETYPE) when this program reruns
 * itself under valgrind, so that the counted code path is the timed one:
 * the core OpenBLAS chose here, natively. NULL when the user pinned one
 * already, or when the native core needs AVX-512, which valgrind cannot
 * execute (then the kernel column shows the difference). */
const char *libinfo_callgrind_core(void);
/* The environment variables that pin kernels, as "NAME=value ..." (those
 * set), or "" when none is: OPENBLAS_CORETYPE, ONEDNN_MAX_CPU_ISA,
 * DNNL_MAX_CPU_ISA. */
void libinfo_pins(char *buf, size_t len);

#endif
