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
    X(decode_ms_per_token) X(decode_tok_per_s)

/* The configuration key, in the order compare prints it. */
#define MB_SCHEMA_KEY_COLUMNS(X)                                                                            \
    X(scenario) X(mode) X(variant) X(backend) X(precision) X(threads) X(task) X(batch_size) X(decode)      \
    X(target_qps)

#endif
