/* runner: plans and executes a scenario, one CSV row per measured
 * repetition (see runner.h). Modes follow MLPerf LoadGen: offline (batches
 * of the whole workload, peak throughput), single-stream (one sentence at a
 * time), server (Poisson arrivals at a target rate, queued and batched). */
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
#include "harness/csvout.h"
#include "harness/measure.h"
#include "harness/model_args.h"
#include "harness/progress.h"
#include "harness/runid.h"
#include "harness/sysinfo.h"
#include "harness/workload.h"
#include "models/decode.h"
#include "models/extract.h"
#include "models/model.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

typedef struct combo {
    char backend[16];
    be_precision_t precision;
    int threads;
} combo_t;

typedef struct run {
    scn_t s;                   /* the scenario, with --quick and overrides applied */
    const run_opts_t *o;
    wl_t wl;
    csvout_t *csv;
    progress_t prog;
    int units, done;
    meas_counters_t counters;
    csvout_row_t base;         /* cells shared by every row */
    int n_combos;
    combo_t combos[64];
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
    uint64_t routed, dropped;
    long long instructions;    /* callgrind's count of the region, or -1 */
} rep_t;

/* One measured configuration. */
typedef struct conf {
    const char *variant;
    const model_t *m;
    be_t *be;
    combo_t *combo;
    decode_ctx_t *dc;
    const wl_task_t *wt;
    decode_request_t *req;     /* [wt->n] */
    scn_mode_t mode;
    int batch;
    double qps;
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
        return -1;
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
            double t0 = meas_now();
            if (batch(c, i, n, r, res, err) != 0)
                return -1;
            r->lat[r->n_lat++] = meas_now() - t0;
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
    double start = meas_now();
    int head = 0, next = 0, rc = 0;
    while (head < N && !interrupted) {
        double now = meas_now() - start;
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
        double done = meas_now() - start;
        for (int i = head; i < head + n; i++)
            r->lat[r->n_lat++] = done - arrive[i];
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
    if (!res || !r->lat) {
        free(res);
        return mb_fail(err, "out of memory");
    }
    decode_stats_t before = *decode_get_stats(c->dc);
    meas_begin(&R->counters, &r->region);
    count_begin(R);
    int rc = c->mode == SCN_SERVER ? rep_server(R, c, rep, r, res, err) : rep_offline(c, R->s.passes, r, res, err);
    r->instructions = count_end(R);
    meas_end(&R->counters, &r->region);
    const decode_stats_t *after = decode_get_stats(c->dc);
    r->routed = after->moe_encoder.assignments + after->moe_decoder.assignments - before.moe_encoder.assignments -
                before.moe_decoder.assignments;
    r->dropped = after->moe_encoder.dropped + after->moe_decoder.dropped - before.moe_encoder.dropped -
                 before.moe_decoder.dropped;
    free(res);
    return rc;
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
    csvout_set(&row, CSV_dropped_tokens, "%llu", (unsigned long long)r->dropped);
    static const int papi_cols[3] = {CSV_papi_tot_ins, CSV_papi_tot_cyc, CSV_papi_l3_tcm};
    static const char *const papi_names[3] = {"PAPI_TOT_INS", "PAPI_TOT_CYC", "PAPI_L3_TCM"};
    for (int i = 0; i < R->counters.n; i++)
        for (int j = 0; j < 3; j++)
            if (R->counters.ok[i] && !strcmp(R->counters.name[i], papi_names[j]))
                csvout_set(&row, papi_cols[j], "%lld", r->region.values[i]);
    csvout_set(&row, CSV_task_clock_ms, "%.3f", r->region.cpu_s * 1e3);
    csvout_set(&row, CSV_page_faults, "%ld", r->region.faults);
    csvout_set(&row, CSV_counters_note, "%s", R->counters.note);
    csvout_set(&row, CSV_quality_note, "%s",
               c->wt->ref ? "no BLEU: the model has no vocabulary (random weights), so its outputs are not text"
                          : "no BLEU: synthetic data has no references");
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
    if (b.starved && !R->starved_warned++ && !R->o->count_instructions)
        progress_warn(&R->prog, "%s %s t%d %s rep %d ran starved: %s; its wall-clock numbers measure the "
                      "other load (column starved; docs/ci.md)", c->variant, c->combo->backend,
                      c->combo->threads, c->wt->name, rep, b.why);
    if (*rc == 0 && csvout_write(R->csv, &row, err) != 0)
        *rc = -1;
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

/* ---- models ---- */

/* A variant's config: the [model] keys are the command line's model options
 * (model_args), so a scenario and `moebench init` build the same model. */
static int variant_config(const scn_t *s, const char *variant, model_config_t *c, mb_error_t *err)
{
    model_args_t a;
    model_args_init(&a);
    a.preset = s->preset;
    a.variant = !strcmp(variant, "task-subnet") ? "task-moe" : variant; /* cut from it per task */
    a.tasks = s->model_tasks[0] ? s->model_tasks : s->tasks;
    a.experts = s->experts;
    a.top_k = s->top_k;
    a.d_model = s->d_model;
    a.d_ff = s->d_ff;
    a.vocab = s->vocab;
    a.enc_layers = a.dec_layers = s->layers;
    a.capacity_factor = s->capacity_factor;
    if (!strcmp(variant, "student")) {
        if (s->student_layers >= 0)
            a.enc_layers = a.dec_layers = s->student_layers;
        if (s->student_d_model >= 0)
            a.d_model = s->student_d_model;
        if (s->student_d_ff >= 0)
            a.d_ff = s->student_d_ff;
    }
    if (model_args_config(&a, c, err))
        return mb_prefix(err, "%s: [model] for %s: ", s->path, variant);
    return 0;
}

/* Runs every combo x task x mode of one variant's model. */
static int run_variant(run_t *R, const char *variant, model_t *m, mb_error_t *err)
{
    int rc = 0;
    int subnet = !strcmp(variant, "task-subnet");
    for (int ci = 0; ci < R->n_combos && rc == 0 && !interrupted; ci++) {
        combo_t *cb = &R->combos[ci];
        be_t be;
        be_options_t bo = {cb->threads, cb->precision};
        if (be_open(cb->backend, &bo, &be, err) || model_prepare(m, &be, err))
            return -1;
        for (int t = 0; t < R->wl.n_tasks && rc == 0 && !interrupted; t++) {
            const wl_task_t *wt = &R->wl.task[t];
            const model_t *use = m;
            model_t *sub = NULL;
            int task = model_find_task(&m->cfg, wt->name);
            if (task < 0 || !model_serves_task(&m->cfg, task)) {
                fprintf(stderr, "moebench: skipping task %s for %s: the model does not serve it\n", wt->name,
                        variant);
                continue;
            }
            if (subnet && m->cfg.subnet_key < 0) { /* the task's own sub-network, cut with the ref backend */
                be_t ref;
                be_options_t ro = {1, BE_PRECISION_FP32};
                if (be_open("ref", &ro, &ref, err))
                    rc = -1;
                else if (model_extract(m, &ref, wt->name, &sub, err) || model_prepare(sub, &be, err))
                    rc = -1;
                be_close(&ref);
                if (rc != 0) {
                    model_free(sub);
                    break;
                }
                use = sub;
            }
            decode_opts_t dopt;
            decode_opts_default(&dopt);
            dopt.beam = R->s.beam;
            dopt.max_len = R->s.max_len;
            dopt.scores = 0; /* a server takes the argmax; it need not normalise */
            decode_ctx_t *dc = NULL;
            decode_request_t *req = calloc((size_t)wt->n, sizeof *req);
            if (!req || decode_ctx_create(use, &be, &dopt, &dc, err)) {
                rc = req ? -1 : mb_fail(err, "out of memory");
            } else {
                for (int i = 0; i < wt->n; i++)
                    req[i] = (decode_request_t){task, wt->src[i], wt->src_len[i], wt->out_len[i]};
                for (int mi = 0; mi < R->s.n_modes && rc == 0 && !interrupted; mi++) {
                    conf_t c = {variant, use, &be, cb, dc, wt, req, R->s.modes[mi], 1, 0};
                    if (c.mode == SCN_OFFLINE)
                        for (int b = 0; b < R->s.n_batch_sizes && rc == 0; b++) {
                            c.batch = R->s.batch_sizes[b];
                            rc = measure_conf(R, &c, err);
                        }
                    else if (c.mode == SCN_SERVER)
                        for (int q = 0; q < R->s.n_qps && rc == 0; q++) {
                            c.qps = R->s.target_qps[q];
                            c.batch = R->s.max_batch;
                            rc = measure_conf(R, &c, err);
                        }
                    else
                        rc = measure_conf(R, &c, err);
                }
            }
            decode_ctx_free(dc);
            free(req);
            if (sub) {
                model_release(sub, &be);
                model_free(sub);
            }
        }
        model_release(m, &be);
        be_close(&be);
    }
    return rc;
}

/* ---- planning ---- */

static int plan(run_t *R, mb_error_t *err)
{
    const scn_t *s = &R->s;
    int nb = R->o->backend ? 1 : s->n_backends, nt = R->o->threads > 0 ? 1 : s->n_threads;
    for (int b = 0; b < nb; b++)
        for (int p = 0; p < s->n_precisions; p++)
            for (int t = 0; t < nt; t++) {
                combo_t cb;
                snprintf(cb.backend, sizeof cb.backend, "%s", R->o->backend ? R->o->backend : s->backends[b]);
                if (be_precision_parse(s->precisions[p], &cb.precision, err))
                    return -1;
                cb.threads = R->o->threads > 0 ? R->o->threads : s->threads[t];
                if (!be_find(cb.backend))
                    return mb_fail(err, "%s: backend '%s' is not compiled into this build (see 'moebench backends')",
                                   s->path, cb.backend);
                be_t be;
                be_options_t bo = {cb.threads, cb.precision};
                mb_error_t why;
                if (be_open(cb.backend, &bo, &be, &why) != 0) {
                    fprintf(stderr, "moebench: skipping %s %s with %d threads: %s\n", cb.backend,
                            s->precisions[p], cb.threads, why.msg);
                    continue;
                }
                be_close(&be);
                if (R->n_combos < 64)
                    R->combos[R->n_combos++] = cb;
            }
    if (R->n_combos == 0)
        return mb_fail(err, "%s: no backend configuration of [measure] can run on this build", s->path);
    int per_task = 0;
    for (int m = 0; m < s->n_modes; m++)
        per_task += s->modes[m] == SCN_OFFLINE ? s->n_batch_sizes : s->modes[m] == SCN_SERVER ? s->n_qps : 1;
    R->units = s->n_variants * R->n_combos * R->wl.n_tasks * per_task * (s->warmup + s->repetitions);
    return 0;
}

int runner_run(const scn_t *scn, const run_opts_t *o, char *csv_path, int len, mb_error_t *err)
{
    run_t *R = calloc(1, sizeof *R);
    if (!R)
        return mb_fail(err, "out of memory");
    R->s = *scn;
    R->o = o;
    if (o->quick) {
        R->s.sentences = R->s.sentences < 8 ? R->s.sentences : 8;
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
    const char *file0 = scn_file_for(&R->s, R->s.variants[0]);
    if ((file0 ? model_load_config(file0, &c0, err) : variant_config(&R->s, R->s.variants[0], &c0, err)) ||
        wl_build(&R->s, c0.vocab, MODEL_FIRST_TAG + c0.n_langs, &R->wl, err) || plan(R, err))
        goto out;

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
    meas_counters_open(&R->counters, R->s.counters, R->s.n_counters);

    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old);
    interrupted = 0;
    progress_start(&R->prog, R->units);
    rc = 0;
    for (int v = 0; v < R->s.n_variants && rc == 0 && !interrupted; v++) {
        const char *variant = R->s.variants[v];
        model_config_t cfg;
        model_t *m = NULL;
        const char *file = scn_file_for(&R->s, variant);
        if (file) { /* a trained (or converted) model instead of random weights */
            if (model_load(file, &m, err)) {
                rc = -1;
                break;
            }
        } else if (variant_config(&R->s, variant, &cfg, err) || model_create(&cfg, &m, err)) {
            rc = -1;
            break;
        } else {
            model_init_random(m, R->s.seed);
        }
        rc = run_variant(R, variant, m, err);
        model_free(m);
    }
    progress_finish(&R->prog);
    sigaction(SIGINT, &old, NULL);
    meas_counters_close(&R->counters);
    if (rc != 0) {
        /* keep the complete rows: they are valid measurements */
        int rows = csvout_rows(R->csv);
        mb_error_t close_err;
        if (rows > 0 && csvout_close(R->csv, &close_err) == 0) {
            size_t l = strlen(err->msg);
            snprintf(err->msg + l, sizeof err->msg - l, " (the %d rows measured before are in %s)", rows, csv_path);
        } else if (rows == 0) {
            csvout_abort(R->csv);
        }
        rc = -1;
    } else if (csvout_close(R->csv, err) != 0) {
        rc = -1;
    } else if (interrupted) {
        rc = 130;
    }
out:
    wl_free(&R->wl);
    free(R);
    return rc;
}
