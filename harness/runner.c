/* runner: plans and executes a scenario, one CSV row per measured
 * repetition (see runner.h). Modes follow MLPerf LoadGen: offline (batches
 * of the whole workload, peak throughput), single-stream (one sentence at a
 * time), server (Poisson arrivals at a target rate, queued and batched). */
#include "common/mb_clock.h"
#include "harness/runner.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

#include "backends/backend.h"
#include "common/mb_mem.h"
#include "common/mb_variant.h"
#include "harness/csvout.h"
#include "harness/measure.h"
#include "harness/plan.h"
#include "harness/progress.h"
#include "harness/quality_run.h"
#include "harness/runid.h"
#include "harness/sysinfo.h"
#include "harness/vendor.h"
#include "harness/workload.h"
#include "models/decode.h"
#include "models/extract.h"
#include "models/model.h"

static volatile sig_atomic_t interrupted;

/* SIGINT, SIGTERM and SIGHUP all stop the run the same way: the signal
 * number is kept so that the exit status can be 128 + it, as a shell's. */
static void on_sigint(int sig)
{
    interrupted = sig;
}

typedef struct run {
    scn_t s;                   /* the scenario, with --quick and overrides applied */
    const run_opts_t *o;
    wl_t wl;
    csvout_t *csv;
    progress_t prog;
    plan_t plan;
    int done;
    meas_counters_t counters;
    csvout_row_t base;         /* cells shared by every row */
    int dumps;                 /* --count-instructions: callgrind dumps so far */
    int rss_conf;              /* the memory high-water mark was reset for this configuration */
    int starved_warned;        /* this configuration's starved repetitions were reported */
} run_t;

/* What one repetition measured. */
typedef struct rep {
    meas_region_t region;
    long sentences, src_tokens, tgt_tokens;
    double *lat;               /* seconds, per batch (offline) or per sentence */
    int n_lat;
    uint64_t routed, dropped_asg, dropped_tok;
    long long instructions;    /* callgrind's count of the region, or -1 */
    int *b_first, *b_n, *b_steps; /* offline/single-stream: each batch, for prefill/decode apart */
    vend_phases_t phases;
} rep_t;

/* One measured configuration. */
typedef struct conf {
    const char *variant;
    const model_t *m;
    be_t *be;
    const plan_combo_t *combo;
    decode_ctx_t *dc;
    const wl_task_t *wt;
    decode_request_t *req;     /* [wt->n] */
    scn_mode_t mode;
    int batch;
    double qps;
    qr_t *qr;                  /* the model's vocabulary scores its outputs, or NULL */
    int wt_index;              /* index of wt in the workload */
    double load_s;             /* start-up: see exec_t */
} conf_t;

/* ---- one repetition per mode ---- */

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static int batch(conf_t *c, int first, int n, rep_t *r, decode_result_t *res, mb_error_t *err)
{
    if (decode_batch(c->dc, c->req + first, n, res, err) != 0)
        return interrupted ? 0 : -1; /* stopped within the batch: the repetition is dropped */
    if (c->qr)
        qr_collect(c->qr, first, res, n);
    for (int i = 0; i < n; i++) {
        r->tgt_tokens += res[i].len;
        r->src_tokens += c->req[first + i].src_len + 2;
    }
    r->sentences += n;
    return 0;
}

static int rep_offline(conf_t *c, int passes, rep_t *r, decode_result_t *res, mb_error_t *err)
{
    const int N = c->wt->n, B = c->mode == SCN_SINGLE_STREAM ? 1 : c->batch;
    for (int p = 0; p < passes && !interrupted; p++)
        for (int i = 0; i < N && !interrupted; i += B) {
            int n = N - i < B ? N - i : B;
            double t0 = mb_now();
            if (batch(c, i, n, r, res, err) != 0)
                return -1;
            int steps = 0;
            for (int k = 0; k < n; k++)
                steps = res[k].len > steps ? res[k].len : steps;
            r->b_first[r->n_lat] = i;
            r->b_n[r->n_lat] = n;
            r->b_steps[r->n_lat] = steps;
            r->lat[r->n_lat++] = mb_now() - t0;
        }
    return 0;
}

/* Server: arrivals of a Poisson process at c->qps (seeded), a FIFO queue,
 * and batches of up to max_batch formed when the queue is full enough or
 * its oldest request has waited batch_timeout_ms. Latency includes queueing. */
static int rep_server(run_t *R, conf_t *c, int rep, rep_t *r, decode_result_t *res, mb_error_t *err)
{
    const int N = c->wt->n, maxb = R->s.max_batch;
    const double timeout = R->s.batch_timeout_ms / 1000.0;
    double *arrive = malloc(sizeof(double) * (size_t)N);
    if (!arrive)
        return mb_fail(err, "out of memory");
    char name[64];
    snprintf(name, sizeof name, "arrivals:%s:%d", c->wt->name, rep);
    wl_arrivals(R->s.seed, name, c->qps, N, arrive);
    double start = mb_now();
    int head = 0, next = 0, rc = 0, late = 0;
    /* searching (vendor.h): a rate is decided as failed once more than 1% of its queries are late,
     * whatever the rest would do, so it stops there (LoadGen-style early stopping) */
    const int late_max = R->s.server_search ? N / 100 : N;
    while (head < N && !interrupted && late <= late_max) {
        double now = mb_now() - start;
        while (next < N && arrive[next] <= now)
            next++;
        if (head == next) {
            sleep_s(arrive[next] - now);
            continue;
        }
        int queued = next - head;
        if (queued < maxb && next < N && now - arrive[head] < timeout) {
            double until = arrive[next] < arrive[head] + timeout ? arrive[next] : arrive[head] + timeout;
            sleep_s(until - now);
            continue;
        }
        int n = queued < maxb ? queued : maxb;
        if ((rc = batch(c, head, n, r, res, err)) != 0)
            break;
        double done = mb_now() - start;
        for (int i = head; i < head + n; i++) {
            r->lat[r->n_lat++] = done - arrive[i];
            late += (done - arrive[i]) * 1e3 > R->s.latency_bound_ms;
        }
        head += n;
    }
    free(arrive);
    return rc;
}

/* Under `--count-instructions` the process runs inside valgrind's callgrind
 * with collection off; each region switches it on and off and dumps its
 * count, which is read back from the dump file at once. */
static void count_begin(run_t *R)
{
    if (!R->o->count_instructions)
        return;
    CALLGRIND_ZERO_STATS;
    CALLGRIND_TOGGLE_COLLECT;
}

static long long count_end(run_t *R)
{
    if (!R->o->count_instructions)
        return -1;
    CALLGRIND_TOGGLE_COLLECT;
    CALLGRIND_DUMP_STATS_AT("moebench measured region");
    const char *dir = getenv("MOEBENCH_CALLGRIND_DIR");
    char path[1024], line[256];
    snprintf(path, sizeof path, "%s/cg.out.%d", dir ? dir : ".", ++R->dumps);
    long long ir = -1;
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "summary:", 8) || !strncmp(line, "totals:", 7)) {
            ir = atoll(strchr(line, ':') + 1);
            break;
        }
    if (f)
        fclose(f);
    unlink(path);
    return ir;
}

static int one_rep(run_t *R, conf_t *c, int rep, rep_t *r, mb_error_t *err)
{
    decode_result_t *res = malloc(sizeof *res * (size_t)(c->batch > R->s.max_batch ? c->batch : R->s.max_batch));
    memset(r, 0, sizeof *r);
    r->lat = malloc(sizeof(double) * (size_t)c->wt->n * (size_t)R->s.passes);
    r->b_first = malloc(sizeof(int) * 3 * (size_t)c->wt->n * (size_t)R->s.passes);
    if (!res || !r->lat || !r->b_first) {
        free(res);
        free(r->b_first);
        r->b_first = NULL;
        return mb_fail(err, "out of memory");
    }
    if (c->qr)
        qr_begin(c->qr, c->wt_index);
    r->b_n = r->b_first + (size_t)c->wt->n * (size_t)R->s.passes;
    r->b_steps = r->b_n + (size_t)c->wt->n * (size_t)R->s.passes;
    decode_stats_t before = *decode_get_stats(c->dc);
    meas_begin(&R->counters, &r->region);
    count_begin(R);
    int rc = c->mode == SCN_SERVER ? rep_server(R, c, rep, r, res, err) : rep_offline(c, R->s.passes, r, res, err);
    r->instructions = count_end(R);
    meas_end(&R->counters, &r->region);
    const decode_stats_t *after = decode_get_stats(c->dc);
    r->routed = after->moe_encoder.assignments + after->moe_decoder.assignments - before.moe_encoder.assignments -
                before.moe_decoder.assignments;
    r->dropped_asg = after->moe_encoder.dropped_assignments + after->moe_decoder.dropped_assignments -
                     before.moe_encoder.dropped_assignments - before.moe_decoder.dropped_assignments;
    r->dropped_tok = after->moe_encoder.dropped_tokens + after->moe_decoder.dropped_tokens -
                     before.moe_encoder.dropped_tokens - before.moe_decoder.dropped_tokens;
    /* prefill and decode apart, timed after (outside) the measured region */
    if (rc == 0 && c->mode != SCN_SERVER && !interrupted && !R->o->count_instructions)
        rc = vend_phases(c->dc, c->req, r->b_first, r->b_n, r->lat, r->b_steps, r->n_lat, r->tgt_tokens,
                         &r->phases, err);
    else
        r->phases = (vend_phases_t){NAN, NAN, NAN};
    free(r->b_first);
    free(res);
    /* a signal can stop a decode within a batch (decode_opts_t.cancel), also in
     * the prefill/decode timing above: a stop, not a failure; the caller
     * writes no row for an interrupted repetition */
    return interrupted ? 0 : rc;
}

/* ---- rows ---- */

static void write_row(run_t *R, conf_t *c, int rep, rep_t *r, mb_error_t *err, int *rc)
{
    csvout_row_t row = R->base;
    char ts[32], dec[16];
    model_counts_t k;
    model_count(&c->m->cfg, &k, NULL);
    sys_timestamp(ts, sizeof ts);
    csvout_set(&row, CSV_timestamp, "%s", ts);
    csvout_set(&row, CSV_mode, "%s", scn_mode_name(c->mode));
    csvout_set(&row, CSV_variant, "%s", c->variant);
    csvout_set(&row, CSV_preset, "%s", c->m->cfg.preset);
    csvout_set(&row, CSV_backend, "%s", c->combo->backend);
    csvout_set(&row, CSV_precision, "%s", be_precision_name(c->combo->precision));
    csvout_set(&row, CSV_threads, "%d", c->combo->threads);
    csvout_set(&row, CSV_task, "%s", c->wt->name);
    csvout_set(&row, CSV_batch_size, "%d", c->mode == SCN_SINGLE_STREAM ? 1 : c->mode == SCN_SERVER ? R->s.max_batch : c->batch);
    csvout_set(&row, CSV_decode, "%s", scn_decode_name(&R->s, dec, sizeof dec));
    if (c->mode == SCN_SERVER)
        csvout_set(&row, CSV_target_qps, "%g", c->qps);
    csvout_set(&row, CSV_rep, "%d", rep);
    csvout_set(&row, CSV_sentences, "%ld", r->sentences);
    csvout_set(&row, CSV_src_tokens, "%ld", r->src_tokens);
    csvout_set(&row, CSV_tgt_tokens, "%ld", r->tgt_tokens);
    double w = r->region.wall_s;
    csvout_set(&row, CSV_wall_s, "%.6f", w);
    csvout_set(&row, CSV_tgt_tok_per_s, "%.3f", r->tgt_tokens / w);
    csvout_set(&row, CSV_src_tok_per_s, "%.3f", r->src_tokens / w);
    csvout_set(&row, CSV_sent_per_s, "%.4f", r->sentences / w);
    meas_summary_t sm;
    meas_summarize(r->lat, r->n_lat, &sm);
    csvout_set(&row, CSV_latency_mean_ms, "%.4f", sm.mean * 1e3);
    csvout_set(&row, CSV_latency_std_ms, "%.4f", sm.std * 1e3);
    csvout_set(&row, CSV_latency_p50_ms, "%.4f", sm.p50 * 1e3);
    csvout_set(&row, CSV_latency_p90_ms, "%.4f", sm.p90 * 1e3);
    csvout_set(&row, CSV_latency_p99_ms, "%.4f", sm.p99 * 1e3);
    if (c->mode == SCN_SERVER) {
        csvout_set(&row, CSV_latency_bound_ms, "%g", R->s.latency_bound_ms);
        csvout_set(&row, CSV_latency_ok, "%d", sm.p99 * 1e3 <= R->s.latency_bound_ms);
    }
    uint64_t rss = R->rss_conf ? meas_rss_peak() : 0;
    csvout_set(&row, CSV_peak_rss_mb, "%.1f", (double)(rss ? rss : mb_peak_rss()) / (1024.0 * 1024.0));
    csvout_set(&row, CSV_rss_scope, "%s", rss ? "configuration" : "process");
    csvout_set(&row, CSV_params_total, "%llu", (unsigned long long)k.total);
    csvout_set(&row, CSV_params_served, "%llu", (unsigned long long)k.served_total);
    csvout_set(&row, CSV_params_active, "%llu", (unsigned long long)k.active_per_token);
    /* in the precision the backend computes with */
    csvout_set(&row, CSV_model_bytes, "%llu",
               (unsigned long long)c->m->n_params * (c->combo->precision == BE_PRECISION_BF16 ? 2 : 4));
    csvout_set(&row, CSV_routed_assignments, "%llu", (unsigned long long)r->routed);
    csvout_set(&row, CSV_dropped_assignments, "%llu", (unsigned long long)r->dropped_asg);
    csvout_set(&row, CSV_dropped_tokens, "%llu", (unsigned long long)r->dropped_tok);
    static const int papi_cols[3] = {CSV_papi_tot_ins, CSV_papi_tot_cyc, CSV_papi_l3_tcm};
    static const char *const papi_names[3] = {"PAPI_TOT_INS", "PAPI_TOT_CYC", "PAPI_L3_TCM"};
    for (int i = 0; i < R->counters.n; i++)
        for (int j = 0; j < 3; j++)
            if (R->counters.ok[i] && !strcmp(R->counters.name[i], papi_names[j]))
                csvout_set(&row, papi_cols[j], "%lld", r->region.values[i]);
    csvout_set(&row, CSV_task_clock_ms, "%.3f", r->region.cpu_s * 1e3);
    if (!isnan(r->phases.prefill_ms))
        csvout_set(&row, CSV_prefill_ms, "%.4f", r->phases.prefill_ms);
    if (!isnan(r->phases.decode_ms_per_step))
        csvout_set(&row, CSV_decode_ms_per_token, "%.4f", r->phases.decode_ms_per_step);
    if (!isnan(r->phases.decode_tok_s))
        csvout_set(&row, CSV_decode_tok_per_s, "%.3f", r->phases.decode_tok_s);
    csvout_set(&row, CSV_page_faults, "%ld", r->region.faults);
    csvout_set(&row, CSV_counters_note, "%s", R->counters.note);
    if (c->qr) {
        char keep[1024], *keep_path = NULL;
        if (R->o->keep_hyps) { /* one file per configuration; each repetition rewrites it */
            snprintf(keep, sizeof keep, "%s/%s.%s.%s.%s.t%d.%s.%s.%s%g.txt", R->o->keep_hyps, R->s.name, c->variant,
                     c->combo->backend, be_precision_name(c->combo->precision), c->combo->threads, c->wt->name,
                     scn_mode_name(c->mode), c->mode == SCN_SERVER ? "qps" : "b",
                     c->mode == SCN_SERVER ? c->qps : (double)(c->mode == SCN_SINGLE_STREAM ? 1 : c->batch));
            keep_path = keep;
        }
        if (*rc == 0 && qr_score(c->qr, c->wt, &row, keep_path, err) != 0)
            *rc = -1;
    } else {
        csvout_set(&row, CSV_quality_note, "%s",
                   !c->wt->ref ? "no BLEU: synthetic data has no references"
                               : "no BLEU: the model has no vocabulary (random weights, or made without "
                                 "'init --vocab'), so its outputs are not text");
    }
    const char *file = scn_file_for(&R->s, c->variant);
    if (file) {
        const char *base = strrchr(file, '/');
        if (c->m->cfg.distilled_from[0]) /* a student `moebench distill` trained: from which teacher */
            csvout_set(&row, CSV_weights, "file:%s; distilled from %s", base ? base + 1 : file,
                       c->m->cfg.distilled_from);
        else
            csvout_set(&row, CSV_weights, "file:%s", base ? base + 1 : file);
    } else {
        csvout_set(&row, CSV_weights, "random");
    }
    if (r->instructions >= 0)
        csvout_set(&row, CSV_callgrind_ir, "%lld", r->instructions);
    runid_fill_backend(&row, c->be);
    busy_t b;
    busy_judge(&r->region.busy, w, r->region.cpu_s, c->combo->threads, c->mode == SCN_SERVER, &b);
    if (!isnan(b.cpu_util))
        csvout_set(&row, CSV_cpu_util, "%.3f", b.cpu_util);
    if (!isnan(b.cpu_wait))
        csvout_set(&row, CSV_cpu_wait, "%.3f", b.cpu_wait);
    if (!isnan(b.steal))
        csvout_set(&row, CSV_cpu_steal, "%.3f", b.steal);
    if (!isnan(b.load1))
        csvout_set(&row, CSV_load_avg_1m, "%.2f", b.load1);
    csvout_set(&row, CSV_starved, "%d", b.starved);
    csvout_set(&row, CSV_starved_note, "%s", b.why);
    csvout_set(&row, CSV_load_s, "%.6f", c->load_s);
    if (b.starved && !R->starved_warned++ && !R->o->count_instructions)
        progress_warn(&R->prog, "%s %s t%d %s rep %d ran starved: %s; its wall-clock numbers measure the "
                      "other load (column starved; docs/ci.md)", c->variant, c->combo->backend,
                      c->combo->threads, c->wt->name, rep, b.why);
    if (*rc == 0 && csvout_write(R->csv, &row, err) != 0)
        *rc = -1;
}

/* A configuration this machine cannot run (e.g. bf16 without bf16 kernels):
 * one row naming it, with the reason in `skipped` and no measurements, so the
 * CSV and the report made from it say why it is missing. */
static int write_skip_row(run_t *R, const plan_combo_t *cb, const char *why, mb_error_t *err)
{
    csvout_row_t row = R->base;
    char ts[32];
    sys_timestamp(ts, sizeof ts);
    csvout_set(&row, CSV_timestamp, "%s", ts);
    csvout_set(&row, CSV_backend, "%s", cb->backend);
    csvout_set(&row, CSV_precision, "%s", be_precision_name(cb->precision));
    csvout_set(&row, CSV_threads, "%d", cb->threads);
    csvout_set(&row, CSV_skipped, "%s", why);
    return csvout_write(R->csv, &row, err);
}

/* Warm-up, then repetitions until both `repetitions` and `min_time_s` are met. */
static int measure_conf(run_t *R, conf_t *c, mb_error_t *err)
{
    char what[192];
    int rc = 0;
    double total = 0;
    R->rss_conf = meas_rss_reset() == 0; /* this configuration's own peak, not the process's so far */
    R->starved_warned = 0;
    for (int w = 0; w < R->s.warmup && rc == 0 && !interrupted; w++) {
        rep_t r;
        snprintf(what, sizeof what, "%s %s %s t%d %s %s b%d warm-up", c->variant, c->combo->backend,
                 be_precision_name(c->combo->precision), c->combo->threads, c->wt->name, scn_mode_name(c->mode),
                 c->batch);
        progress_update(&R->prog, R->done, what);
        rc = one_rep(R, c, -1 - w, &r, err);
        free(r.lat);
        R->done++;
    }
    for (int rep = 1; rc == 0 && !interrupted && (rep <= R->s.repetitions || total < R->s.min_time_s); rep++) {
        rep_t r;
        snprintf(what, sizeof what, "%s %s %s t%d %s %s %s%g rep %d/%d", c->variant, c->combo->backend,
                 be_precision_name(c->combo->precision), c->combo->threads, c->wt->name, scn_mode_name(c->mode),
                 c->mode == SCN_SERVER ? "qps " : "b", c->mode == SCN_SERVER ? c->qps : c->batch, rep,
                 R->s.repetitions);
        progress_update(&R->prog, R->done, what);
        rc = one_rep(R, c, rep, &r, err);
        if (rc == 0 && !interrupted) /* an interrupted repetition is not a row */
            write_row(R, c, rep, &r, err, &rc);
        total += r.region.wall_s;
        free(r.lat);
        if (rep <= R->s.repetitions)
            R->done++;
    }
    return rc;
}

/* Server search (vendor.h): each probed rate is one measured repetition and
 * one row (rep = probe number), after one warm-up at the first rate. */
typedef struct probe_ctx {
    run_t *R;
    conf_t *c;
    int n;
} probe_ctx_t;

static int probe_rate(void *ctx, double qps, int *meets, mb_error_t *err)
{
    probe_ctx_t *p = ctx;
    char what[192];
    rep_t r;
    p->c->qps = qps;
    snprintf(what, sizeof what, "%s %s %s t%d %s server search: probe %d at %.3g/s", p->c->variant,
             p->c->combo->backend, be_precision_name(p->c->combo->precision), p->c->combo->threads,
             p->c->wt->name, p->n + 1, qps);
    progress_update(&p->R->prog, p->R->done, what);
    int rc = one_rep(p->R, p->c, ++p->n, &r, err);
    if (rc == 0 && !interrupted)
        write_row(p->R, p->c, p->n, &r, err, &rc);
    meas_summary_t sm;
    meas_summarize(r.lat, r.n_lat, &sm);
    /* an early-stopped probe served fewer than all its queries: it failed */
    *meets = rc == 0 && r.n_lat == p->c->wt->n && sm.p99 * 1e3 <= p->R->s.latency_bound_ms;
    free(r.lat);
    return interrupted ? mb_fail(err, "interrupted") : rc;
}

static int search_conf(run_t *R, conf_t *c, mb_error_t *err)
{
    rep_t w;
    c->qps = R->s.target_qps[0];
    if (R->s.warmup > 0) {
        if (one_rep(R, c, -1, &w, err))
            return -1;
        free(w.lat);
    }
    probe_ctx_t p = {R, c, 0};
    vend_search_t s = {R->s.target_qps[0], R->s.search_max_qps, R->s.search_steps};
    double best;
    int probes;
    int rc = vend_search_max_qps(&s, probe_rate, &p, &best, &probes, err);
    R->done += R->s.search_steps + 4;
    if (rc != 0 && interrupted)
        return 0;
    return rc;
}

/* ---- executing the plan ---- */

/* What stays the same across consecutive runs of the plan: the variant's
 * model, the backend with the weights prepared for it, and the task's
 * (sub-)model, decoder and requests. Each is set up when the next run needs
 * a different one, so a model is built once and prepared once per backend. */
typedef struct exec {
    int variant, combo, task;
    model_t *m;                /* the variant's model */
    be_t be;
    int be_open;
    model_t *sub;              /* task-subnet: the task's extracted sub-network */
    int cut;                   /* task-subnet cut here from a task-moe model: m is only the
                                * source of the cut, never prepared, freed once cut */
    decode_ctx_t *dc;
    decode_request_t *req;
    qr_t *qr;                  /* a model with a vocabulary reads the real text and is scored */
    /* Start-up, in wall-clock seconds, each part timed when it was last done:
     * building or loading the model (and, for a cut, the last rebuild), its
     * vocabulary, opening the backend and preparing the weights for it, and
     * the task's part (extraction and preparing the sub-network, the decoder
     * and its requests). A configuration's load_s is their sum: what starting
     * it alone costs, though the parts are shared by the runs that reuse them. */
    double t_build, t_vocab, t_backend, t_task;
} exec_t;

static void exec_drop_task(exec_t *x)
{
    decode_ctx_free(x->dc);
    free(x->req);
    if (x->sub) {
        model_release(x->sub, &x->be);
        model_free(x->sub);
    }
    x->dc = NULL;
    x->req = NULL;
    x->sub = NULL;
    x->task = -1;
}

static void exec_drop_backend(exec_t *x)
{
    exec_drop_task(x);
    if (x->be_open) {
        if (x->m && !x->cut)
            model_release(x->m, &x->be);
        be_close(&x->be);
    }
    x->be_open = 0;
    x->combo = -1;
}

static void exec_drop_model(exec_t *x)
{
    exec_drop_backend(x);
    qr_free(x->qr);
    x->qr = NULL;
    model_free(x->m);
    x->m = NULL;
    x->variant = -1;
    x->cut = 0;
}

/* x->m for variant v: its model file, or random weights from the seed. */
static int exec_build(run_t *R, exec_t *x, int v, mb_error_t *err)
{
    const char *file = scn_file_for(&R->s, R->s.variants[v]);
    double t0 = mb_now();
    if (file) { /* a trained (or converted) model instead of random weights; mapped: nothing writes it */
        if (model_load_mapped(file, !R->o->no_check_finite, &x->m, err))
            return -1;
    } else {
        if (model_create(&R->plan.cfg[v], &x->m, err))
            return -1;
        model_init_random(x->m, R->s.seed);
    }
    x->t_build = mb_now() - t0;
    return 0;
}

static int exec_model(run_t *R, exec_t *x, int v, mb_error_t *err)
{
    if (x->variant == v)
        return 0;
    exec_drop_model(x);
    meas_rss_reset(); /* peak_rss_mb is then this variant's */
    const char *variant = R->s.variants[v];
    const char *file = scn_file_for(&R->s, variant);
    if (exec_build(R, x, v, err))
        return -1;
    x->variant = v;
    const mb_variant_t *vi = mb_variant_find(variant);
    x->cut = vi && vi->cut_from_task_moe && x->m->cfg.subnet_key < 0;
    double t0 = mb_now();
    int rc = qr_open(x->m, file ? file : variant, &R->wl, R->s.output_length, &x->qr, err);
    x->t_vocab = mb_now() - t0;
    return rc;
}

static int exec_backend(run_t *R, exec_t *x, int c, mb_error_t *err)
{
    if (x->combo == c)
        return 0;
    exec_drop_backend(x);
    const plan_combo_t *cb = &R->plan.combos[c];
    be_options_t bo = {cb->threads, cb->precision};
    double t0 = mb_now();
    if (be_open(cb->backend, &bo, &x->be, err))
        return -1;
    x->be_open = 1;
    if (!x->cut && model_prepare(x->m, &x->be, err))
        return -1;
    x->t_backend = mb_now() - t0;
    x->combo = c;
    return 0;
}

static int exec_task(run_t *R, exec_t *x, const plan_run_t *pr, mb_error_t *err)
{
    if (x->task == pr->task)
        return 0;
    exec_drop_task(x);
    const wl_task_t *wt = &R->wl.task[pr->task];
    const model_t *use = x->m;
    double t0 = mb_now();
    if (x->cut) {
        /* the task's own sub-network, cut with the ref backend. The task-moe
         * model it is cut from is then freed (the next task builds it
         * again), so the runs hold, and peak_rss_mb counts, what serving
         * this task takes rather than the whole model beside it. */
        if (!x->m) { /* rebuilt: its time replaces the first build's in t_build */
            if (exec_build(R, x, pr->variant, err))
                return -1;
            t0 = mb_now();
        }
        be_t ref;
        be_options_t ro = {1, BE_PRECISION_FP32};
        if (be_open("ref", &ro, &ref, err))
            return -1;
        int rc = model_extract(x->m, &ref, wt->name, &x->sub, err);
        be_close(&ref);
        model_free(x->m);
        x->m = NULL;
        meas_rss_reset();
        if (rc || model_prepare(x->sub, &x->be, err))
            return -1;
        use = x->sub;
    }
    decode_opts_t dopt;
    decode_opts_default(&dopt);
    dopt.beam = R->s.beam;
    dopt.max_len = R->s.max_len;
    dopt.scores = 0; /* a server takes the argmax; it need not normalise */
    dopt.capacity_factor = R->s.capacity_factor > 0 ? R->s.capacity_factor : 0.0; /* -1: default 0 */
    dopt.cancel = &interrupted; /* a signal stops a long batch within a decoder step */
    if (!(x->req = calloc((size_t)wt->n, sizeof *x->req)))
        return mb_fail(err, "out of memory");
    if (decode_ctx_create(use, &x->be, &dopt, &x->dc, err))
        return -1;
    for (int i = 0; i < wt->n; i++)
        x->req[i] = x->qr ? qr_request(x->qr, pr->task, i, pr->model_task)
                          : (decode_request_t){pr->model_task, wt->src[i], wt->src_len[i], wt->out_len[i]};
    x->t_task = mb_now() - t0;
    x->task = pr->task;
    return 0;
}

static int run_plan(run_t *R, mb_error_t *err)
{
    exec_t x = {.variant = -1, .combo = -1, .task = -1};
    int rc = 0;
    for (int i = 0; i < R->plan.n_runs && rc == 0 && !interrupted; i++) {
        const plan_run_t *pr = &R->plan.runs[i];
        if (exec_model(R, &x, pr->variant, err) || exec_backend(R, &x, pr->combo, err) || exec_task(R, &x, pr, err)) {
            rc = -1;
            break;
        }
        conf_t c = {R->s.variants[pr->variant], x.sub ? x.sub : x.m, &x.be, &R->plan.combos[pr->combo], x.dc,
                    &R->wl.task[pr->task], x.req, pr->mode, pr->batch, pr->qps, x.qr, pr->task,
                    x.t_build + x.t_vocab + x.t_backend + x.t_task};
        rc = pr->search ? search_conf(R, &c, err) : measure_conf(R, &c, err);
    }
    exec_drop_model(&x);
    return rc;
}

int runner_run(const scn_t *scn, const run_opts_t *o, char *csv_path, int len, mb_error_t *err)
{
    run_t *R = calloc(1, sizeof *R);
    if (!R)
        return mb_fail(err, "out of memory");
    R->s = *scn;
    R->o = o;
    if (o->quick) {
        /* few sentences, but never fewer than the largest batch: cut below it, two batch
         * sizes would run the same single batch and the sweep would show nothing */
        int keep = 8;
        for (int b = 0; b < R->s.n_batch_sizes; b++)
            keep = R->s.batch_sizes[b] > keep ? R->s.batch_sizes[b] : keep;
        R->s.sentences = R->s.sentences < keep ? R->s.sentences : keep;
        R->s.warmup = 0;
        R->s.repetitions = 1;
        R->s.min_time_s = 0;
        R->s.passes = 1;
    }
    if (o->count_instructions) { /* exact counts: repetitions and passes add time, not information */
        R->s.repetitions = R->s.count_repetitions;
        R->s.passes = 1;
        R->s.min_time_s = 0;
    }
    int rc = -1;
    model_config_t c0;
    if (plan_variant_config(&R->s, R->s.variants[0], &c0, err) ||
        wl_build(&R->s, c0.vocab, MODEL_FIRST_TAG + c0.n_langs, &R->wl, err) ||
        plan_build(&R->s, &R->wl, o->backend, o->threads, &R->plan, err))
        goto out;
    for (int i = 0; i < R->plan.n_notes; i++)
        fprintf(stderr, "moebench: left out of the plan: %s\n", R->plan.notes[i]);
    if (o->list) {
        plan_print(&R->plan, &R->s, &R->wl, stdout);
        rc = 0;
        goto out;
    }

    if (o->out_file)
        snprintf(csv_path, (size_t)len, "%s", o->out_file);
    else {
        const char *dir = o->out_dir ? o->out_dir : "results";
        if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
            mb_fail(err, "%s: cannot create the output folder: %s", dir, strerror(errno));
            goto out;
        }
        snprintf(csv_path, (size_t)len, "%s/%s.csv", dir, R->s.name);
    }
    if (csvout_open(csv_path, &R->csv, err))
        goto out;
    char run_id[32];
    sys_run_id(run_id, sizeof run_id);
    csvout_clear(&R->base);
    csvout_set(&R->base, CSV_schema_version, "%d", CSVOUT_SCHEMA_VERSION);
    csvout_set(&R->base, CSV_run_id, "%s", run_id);
    csvout_set(&R->base, CSV_git_rev, "%s", sys_git_rev());
    csvout_set(&R->base, CSV_cpu_model, "%s", sys_cpu_model());
    csvout_set(&R->base, CSV_cores, "%d", sys_cores());
    csvout_set(&R->base, CSV_scenario, "%s", R->s.name);
    runid_fill_run(&R->base, R->s.path, R->s.seed);
    const char **vers = calloc((size_t)R->plan.n_combos, sizeof *vers);
    if (!vers) {
        mb_fail(err, "out of memory");
        csvout_abort(R->csv);
        goto out;
    }
    for (int i = 0; i < R->plan.n_combos; i++)
        vers[i] = R->plan.combos[i].version;
    int sys_rc = vend_write_system(csv_path, vers, R->plan.n_combos, err);
    free(vers);
    if (sys_rc != 0) {
        csvout_abort(R->csv);
        goto out;
    }
    for (int i = 0; i < R->plan.n_skipped; i++)
        if (write_skip_row(R, &R->plan.skipped[i].combo, R->plan.skipped[i].why, err) != 0) {
            csvout_abort(R->csv);
            goto out;
        }
    meas_counters_open(&R->counters, R->s.counters, R->s.n_counters);

    static const int stop_signals[3] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa, old[3];
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    /* a SIGHUP or SIGTERM ignored by whoever started us (nohup) stays ignored;
     * SIGINT is caught even when a shell ignored it for a background job, as
     * before */
    for (int i = 0; i < 3; i++)
        if (sigaction(stop_signals[i], NULL, &old[i]) == 0 &&
            (stop_signals[i] == SIGINT || old[i].sa_handler != SIG_IGN))
            sigaction(stop_signals[i], &sa, NULL);
    interrupted = 0;
    progress_start(&R->prog, R->plan.units);
    rc = 0;
    rc = run_plan(R, err);
    progress_finish(&R->prog);
    for (int i = 0; i < 3; i++)
        sigaction(stop_signals[i], &old[i], NULL);
    meas_counters_close(&R->counters);
    if (rc != 0) {
        /* keep the complete rows: they are valid measurements */
        int rows = csvout_rows(R->csv);
        mb_error_t close_err;
        size_t l = strlen(err->msg);
        if (rows > 0 && csvout_close(R->csv, &close_err) == 0)
            snprintf(err->msg + l, sizeof err->msg - l, " (the %d rows measured before are in %s)", rows, csv_path);
        else if (rows > 0)
            snprintf(err->msg + l, sizeof err->msg - l, "; and %s", close_err.msg);
        else {
            csvout_abort(R->csv);
        }
        rc = -1;
    } else if (csvout_close(R->csv, err) != 0) {
        rc = -1;
    } else if (interrupted) {
        rc = 128 + interrupted;
    }
out:
    plan_free(&R->plan);
    wl_free(&R->wl);
    free(R);
    return rc;
}
