/* summary: the one-page vendor summary (`moebench report --summary`): the
 * system description recorded beside each results CSV, every precision the
 * machine ran and those it could not (with why), one headline table per
 * backend/precision/threads (peak offline throughput, time to first token
 * and per-token decode latency, decode throughput, the highest server rate
 * that met the p99 bound, memory, a validity verdict) and the throughput and
 * latency figures. Reads what report.c aggregated; writes one Markdown file.
 * Owns the validity rules (summary_row_valid); never runs gnuplot. */
#ifndef SUMMARY_H
#define SUMMARY_H

#include "analysis/report.h"

typedef struct summary_opts {
    double min_duration_s;   /* a row is valid only when it ran at least this long */
    int min_queries;         /* ... and served at least this many sentences (queries) */
    double min_cpu_share;    /* ... and, without a `starved` column, outside server mode, got at least
                              * this share of threads x wall in CPU time */
} summary_opts_t;

/* Why a row is not a valid measurement ("" when it is): too short, too few
 * queries, or starved (another job took the cores: the row's `starved`
 * column, else its CPU share outside server mode), in words. */
void summary_row_valid(const report_row_t *w, const summary_opts_t *o, char *why, size_t n);

/* Writes the summary to `path` (through path.tmp, renamed when complete). */
int summary_write_markdown(const report_t *r, const report_md_opts_t *mo, const summary_opts_t *o,
                           const char *path, mb_error_t *err);

#endif
