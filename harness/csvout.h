/* csvout: the results CSV (schema in results/README.md): its columns, and
 * writing rows safely: to FILE.tmp, flushed row by row, renamed to FILE when
 * complete, so no reader ever sees a half-written file. Fields that need
 * quoting are written with Debian's libcsv (csv_fwrite). */
#ifndef CSVOUT_H
#define CSVOUT_H

#include <stdio.h>

#include "common/mb_error.h"

#define CSVOUT_SCHEMA_VERSION 2

/* The columns, in order (results/README.md documents each). */
#define CSVOUT_COLUMNS(X)                                                                                   \
    X(schema_version) X(run_id) X(timestamp) X(git_rev) X(cpu_model) X(cores) X(scenario) X(mode)          \
    X(variant) X(preset) X(backend) X(precision) X(threads) X(task) X(batch_size) X(decode) X(target_qps)   \
    X(rep) X(sentences) X(src_tokens) X(tgt_tokens) X(wall_s) X(tgt_tok_per_s) X(src_tok_per_s)            \
    X(sent_per_s) X(latency_mean_ms) X(latency_std_ms) X(latency_p50_ms) X(latency_p90_ms)                 \
    X(latency_p99_ms) X(latency_bound_ms) X(latency_ok) X(peak_rss_mb) X(params_total) X(params_served)    \
    X(params_active) X(model_bytes) X(routed_assignments) X(dropped_tokens) X(bleu) X(chrf)                \
    X(bleu_signature) X(papi_tot_ins) X(papi_tot_cyc) X(papi_l3_tcm) X(task_clock_ms) X(page_faults)      \
    X(counters_note) X(callgrind_ir) X(quality_note)                                                     \
    /* schema 2: identity of the run (harness/runid.c) and how busy the machine was (harness/busy.c) */    \
    X(seed) X(moebench_version) X(git_dirty) X(compiler) X(cflags) X(os) X(cpu_vendor) X(cpu_family)       \
    X(cpu_model_id) X(cpu_stepping) X(cpu_flags) X(cpu_mhz) X(mem_total_mb) X(machine_id)                  \
    X(openblas_config) X(onednn_version) X(kernel_pins) X(backend_version) X(kernel) X(scenario_hash)     \
    X(rss_scope) X(cpu_util) X(cpu_wait) X(cpu_steal) X(load_avg_1m) X(starved) X(starved_note)

enum {
#define CSVOUT_ENUM(name) CSV_##name,
    CSVOUT_COLUMNS(CSVOUT_ENUM)
#undef CSVOUT_ENUM
    CSV_NCOLS
};

extern const char *const csvout_names[CSV_NCOLS];

typedef struct csvout_row {
    char cell[CSV_NCOLS][160];   /* empty string = empty cell */
} csvout_row_t;

void csvout_clear(csvout_row_t *r);
void csvout_set(csvout_row_t *r, int col, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Writes one field to f, quoted (libcsv) only when it must be; 0 or -1. */
int csvout_field(FILE *f, const char *s);

typedef struct csvout csvout_t;

/* Creates PATH.tmp and writes the header. */
int csvout_open(const char *path, csvout_t **out, mb_error_t *err);
int csvout_write(csvout_t *c, const csvout_row_t *r, mb_error_t *err);
/* Completes the file: flush, fsync, rename PATH.tmp -> PATH. */
int csvout_close(csvout_t *c, mb_error_t *err);
/* Gives up: removes PATH.tmp. */
void csvout_abort(csvout_t *c);
int csvout_rows(const csvout_t *c);

#endif
