/* mb_schema: the columns of a results CSV, in order, and which of them
 * identify a configuration (rows that agree on every key column are
 * repetitions of one measurement). The writer (harness/csvout), compare and
 * report read these lists; results/README.md documents every column, and
 * tests/e2e/layout.sh checks that it does. */
#ifndef COMMON_MB_SCHEMA_H
#define COMMON_MB_SCHEMA_H

#define MB_SCHEMA_VERSION 2

#define MB_SCHEMA_COLUMNS(X)                                                                                \
    X(schema_version) X(run_id) X(timestamp) X(git_rev) X(cpu_model) X(cores) X(scenario) X(mode)          \
    X(variant) X(preset) X(backend) X(precision) X(threads) X(task) X(batch_size) X(decode) X(target_qps)   \
    X(rep) X(sentences) X(src_tokens) X(tgt_tokens) X(wall_s) X(tgt_tok_per_s) X(src_tok_per_s)            \
    X(sent_per_s) X(latency_mean_ms) X(latency_std_ms) X(latency_p50_ms) X(latency_p90_ms)                 \
    X(latency_p99_ms) X(latency_bound_ms) X(latency_ok) X(peak_rss_mb) X(params_total) X(params_served)    \
    X(params_active) X(model_bytes) X(routed_assignments) X(dropped_assignments) X(dropped_tokens) X(bleu) X(chrf) \
    X(bleu_signature) X(papi_tot_ins) X(papi_tot_cyc) X(papi_l3_tcm) X(task_clock_ms) X(page_faults)      \
    X(counters_note) X(callgrind_ir) X(quality_note) X(weights) X(skipped) X(prefill_ms)            \
    X(decode_ms_per_token) X(decode_tok_per_s)                                                          \
    /* identity of the run (harness/runid.c) and how busy the machine was (harness/busy.c) */              \
    X(seed) X(moebench_version) X(git_dirty) X(compiler) X(cflags) X(os) X(cpu_vendor) X(cpu_family)       \
    X(cpu_model_id) X(cpu_stepping) X(cpu_flags) X(cpu_mhz) X(mem_total_mb) X(machine_id)                  \
    X(openblas_config) X(onednn_version) X(kernel_pins) X(backend_version) X(kernel) X(scenario_hash)     \
    X(rss_scope) X(cpu_util) X(cpu_wait) X(cpu_steal) X(load_avg_1m) X(starved) X(starved_note)           \
    /* start-up (harness/runner.c) */                                                                     \
    X(load_s)

/* The configuration key, in the order compare prints it. */
#define MB_SCHEMA_KEY_COLUMNS(X)                                                                            \
    X(scenario) X(mode) X(variant) X(backend) X(precision) X(threads) X(task) X(batch_size) X(decode)      \
    X(target_qps)

/* The columns of a `moebench kernels --csv` file, in order (plots/README.md). */
#define MB_KERNELS_COLUMNS(X)                                                                               \
    X(backend) X(precision) X(threads) X(preset) X(kind) X(name) X(m) X(n) X(k) X(flops) X(bytes) X(reps)  \
    X(median_s) X(value) X(unit) X(limit) X(ratio) X(bound) X(target) X(met) X(clock_ghz) X(peak_gflops)   \
    X(triad_gbytes_s) X(kernel) X(shape) X(gflops) X(bandwidth_gbs) X(peak_bandwidth_gbs) X(skipped)      \
    X(cpu_model) X(cores) X(git_rev) X(run_id) X(timestamp) X(backend_version)

#include <stdio.h>
#include <string.h>

/* The system description written beside a results CSV: NAME.csv -> NAME.system.txt. */
static inline void mb_schema_system_path(const char *csv_path, char *out, size_t n)
{
    size_t l = strlen(csv_path);
    if (l > 4 && !strcmp(csv_path + l - 4, ".csv"))
        snprintf(out, n, "%.*s.system.txt", (int)(l - 4), csv_path);
    else
        snprintf(out, n, "%s.system.txt", csv_path);
}

#endif
