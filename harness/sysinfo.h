/* sysinfo: facts about this machine and build that every results row
 * carries: CPU model, core count, git revision, run id, timestamps. */
#ifndef SYSINFO_H
#define SYSINFO_H

#include <stddef.h>

const char *sys_cpu_model(void);       /* /proc/cpuinfo "model name", or "unknown" */
int sys_cores(void);                   /* online CPUs */
const char *sys_git_rev(void);         /* git describe of the build, or "unknown" */
/* A fresh hex id for one run. */
void sys_run_id(char *buf, size_t len);
/* Now as ISO 8601 UTC, e.g. 2026-11-25T08:30:00Z. */
void sys_timestamp(char *buf, size_t len);

/* The machine and software a result was measured on, as "key: value" lines
 * for the report's system description (MLPerf's system description, in
 * short): CPU model, vendor, family/model/stepping, the flags that matter
 * for these kernels, frequency, logical CPUs, memory, OS and kernel,
 * compiler, moebench revision. Backend libraries and the kernels they chose
 * are added by the caller (backends know their versions). Returns the
 * length written (truncated to len - 1). */
size_t sys_describe(char *buf, size_t len);

#endif
