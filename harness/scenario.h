/* scenario: a benchmark scenario file (INI, parsed with Debian's libinih),
 * its defaults and its validation. Every key is documented in
 * scenarios/README.md. A bad file is reported as "FILE:LINE: what is wrong"
 * before anything runs. This module only describes the run; runner.c
 * executes it. */
#ifndef SCENARIO_H
#define SCENARIO_H

#include <stdint.h>

#include "common/mb_error.h"

#define SCN_MAX_LIST 16
#define SCN_TEXT 256

typedef enum scn_mode { SCN_OFFLINE = 0, SCN_SINGLE_STREAM, SCN_SERVER } scn_mode_t;
typedef enum scn_outlen { SCN_OUT_AUTO = 0, SCN_OUT_MODEL, SCN_OUT_SOURCE, SCN_OUT_REFERENCE } scn_outlen_t;

typedef struct scn {
    char path[SCN_TEXT];
    /* [scenario] */
    char name[64];
    char description[SCN_TEXT];
    uint64_t seed;
    int n_modes;
    scn_mode_t modes[3];
    int n_batch_sizes;
    int batch_sizes[SCN_MAX_LIST];
    int n_qps;
    double target_qps[SCN_MAX_LIST];
    int max_batch;
    double batch_timeout_ms, latency_bound_ms;
    int server_search;                   /* server: search the highest rate meeting the bound (vendor.h) */
    int search_steps;                    /*   bisection steps after bracketing */
    double search_max_qps;               /*   never offer more than this */
    /* [model] */
    char preset[24];
    int n_variants;
    char variants[8][24];
    char model_tasks[SCN_TEXT];          /* empty: the workload's tasks */
    int n_files;
    char file_variant[8][24];            /* variant -> model file instead of the preset */
    char file_path[8][SCN_TEXT];
    long experts, top_k, d_model, d_ff, layers, vocab;  /* -1: the preset's */
    double capacity_factor;              /* -1: the preset's */
    long student_layers, student_d_model, student_d_ff; /* -1: same as dense */
    /* [workload] */
    char data[SCN_TEXT];                 /* "synthetic", a set name, or a path template with {lang} */
    char data_dir[SCN_TEXT];
    char tasks[1024];                    /* "all" becomes every ordered pair the data has */
    int sentences;                       /* per task */
    int beam;                            /* 1 = greedy */
    int max_len;
    scn_outlen_t output_length;
    /* [measure] */
    int n_backends;
    char backends[8][16];
    int n_precisions;
    char precisions[4][8];      /* up to all four: fp32, bf16, int8, int8all */
    int n_threads;
    int threads[SCN_MAX_LIST];
    int warmup, repetitions;
    int count_repetitions;               /* repetitions under --count-instructions */
    int passes;                          /* passes over the workload per repetition (offline, single-stream) */
    double min_time_s;
    int n_counters;
    char counters[8][32];
} scn_t;

/* Defaults for every key (see scenarios/README.md). */
void scn_defaults(scn_t *s);
/* Reads and checks FILE; on error the message is "FILE:LINE: ...". */
int scn_load(const char *path, scn_t *s, mb_error_t *err);
/* The same from a string (tests); `name` stands in for the file name. */
int scn_load_string(const char *text, const char *name, scn_t *s, mb_error_t *err);

const char *scn_mode_name(scn_mode_t m);
/* The model file given for a variant in [model] files, or NULL. */
const char *scn_file_for(const scn_t *s, const char *variant);
/* "greedy" or "beam:K" */
const char *scn_decode_name(const scn_t *s, char *buf, int len);

#endif
