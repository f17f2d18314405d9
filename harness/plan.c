/* plan: a scenario expanded into the ordered list of runs (see plan.h). */
#include "harness/plan.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "backends/auto.h"
#include "backends/registry.h"
#include "common/mb_mem.h"
#include "common/mb_variant.h"
#include "harness/model_args.h"
#include "models/model.h"

/* The rate behind the time estimate, in "2 x active parameters x (source +
 * output tokens)" per second per thread. That count over-states the work
 * (embeddings are looked up, not multiplied), so the rate is an effective
 * one, set from whole runs: demo.ini took 2.5 min where this predicts 3.3,
 * paper-wmt32e.ini 32 min where it predicts 69 (2 cores, AVX2/AVX-512).
 * The estimate is for planning, not a measurement. */
#define PLAN_GFLOPS_PER_THREAD 40.0

int plan_variant_config(const scn_t *s, const char *variant, model_config_t *c, mb_error_t *err)
{
    const char *file = scn_file_for(s, variant);
    if (file)
        return model_load_config(file, c, err);
    model_args_t a;
    model_args_init(&a);
    a.preset = s->preset;
    const mb_variant_t *vi = mb_variant_find(variant);
    a.variant = vi && vi->cut_from_task_moe ? "task-moe" : variant; /* cut from it per task */
    a.tasks = s->model_tasks[0] ? s->model_tasks : s->tasks;
    a.experts = s->experts;
    a.top_k = s->top_k;
    a.d_model = s->d_model;
    a.d_ff = s->d_ff;
    a.vocab = s->vocab;
    a.enc_layers = a.dec_layers = s->layers;
    if (vi && vi->student_shape) {
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

static int add_note(plan_t *p, mb_error_t *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int add_note(plan_t *p, mb_error_t *err, const char *fmt, ...)
{
    if (mb_grow((void **)&p->notes, (size_t)p->n_notes + 1, sizeof *p->notes))
        return mb_fail(err, "out of memory");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->notes[p->n_notes++], sizeof *p->notes, fmt, ap);
    va_end(ap);
    return 0;
}

static int add_combo(plan_t *p, const scn_t *s, const char *backend, const char *precision, int threads,
                     mb_error_t *err)
{
    plan_combo_t cb;
    snprintf(cb.backend, sizeof cb.backend, "%s", backend);
    cb.threads = threads;
    if (be_precision_parse(precision, &cb.precision, err))
        return mb_prefix(err, "%s: ", s->path);
    if (!strcmp(cb.backend, "auto")) { /* rows record the backend chosen (backends/auto.c) */
        be_auto_choice_t ch; /* why: 'moebench backends' shows the figures */
        if (be_auto_choose(threads, cb.precision, &ch, err))
            return mb_prefix(err, "%s: ", s->path);
        snprintf(cb.backend, sizeof cb.backend, "%.*s", (int)sizeof cb.backend - 1, ch.backend);
    }
    for (int i = 0; i < p->n_combos; i++) /* an override can make two the same */
        if (!strcmp(p->combos[i].backend, cb.backend) && p->combos[i].precision == cb.precision &&
            p->combos[i].threads == cb.threads)
            return 0;
    if (!be_is_known(cb.backend))
        return mb_fail(err, "%s: backend '%s' is not compiled into this build; compiled in: %s (see 'moebench backends')",
                       s->path, cb.backend, be_known_list());
    be_t be;
    be_options_t bo = {cb.threads, cb.precision};
    mb_error_t why;
    if (be_open(cb.backend, &bo, &be, &why) != 0) {
        if (mb_grow((void **)&p->skipped, (size_t)p->n_skipped + 1, sizeof *p->skipped))
            return mb_fail(err, "out of memory");
        plan_skip_t *k = &p->skipped[p->n_skipped++];
        k->combo = cb;
        snprintf(k->why, sizeof k->why, "%.150s", why.msg);
        char *cut = strlen(why.msg) > 150 ? strrchr(k->why, ';') : NULL;
        if (cut) /* a CSV cell holds 160 characters: end at a clause, not mid-word */
            *cut = '\0';
        return add_note(p, err, "%s %s with %d threads: %s", cb.backend, precision, cb.threads, why.msg);
    }
    snprintf(cb.version, sizeof cb.version, "%s: %.180s", cb.backend, be.ops->version ? be.ops->version(&be) : "");
    be_close(&be);
    if (mb_grow((void **)&p->combos, (size_t)p->n_combos + 1, sizeof *p->combos))
        return mb_fail(err, "out of memory");
    p->combos[p->n_combos++] = cb;
    return 0;
}

static int add_run(plan_t *p, plan_run_t r, mb_error_t *err)
{
    if (mb_grow((void **)&p->runs, (size_t)p->n_runs + 1, sizeof *p->runs))
        return mb_fail(err, "out of memory");
    p->runs[p->n_runs++] = r;
    return 0;
}

/* Model FLOPs of one pass over a task: 2 per active parameter per token. */
static double task_flops(const model_config_t *c, const wl_task_t *t)
{
    model_counts_t k;
    if (model_count(c, &k, NULL))
        return 0;
    double tokens = 0;
    for (int i = 0; i < t->n; i++)
        tokens += t->src_len[i] + 2 + (t->out_len[i] > 0 ? t->out_len[i] : t->src_len[i]);
    return 2.0 * (double)k.active_per_token * tokens;
}

int plan_build(const scn_t *s, const wl_t *wl, const char *backend, int threads, plan_t *p, mb_error_t *err)
{
    memset(p, 0, sizeof *p);
    int nb = backend ? 1 : s->n_backends, nt = threads > 0 ? 1 : s->n_threads;
    for (int b = 0; b < nb; b++)
        for (int q = 0; q < s->n_precisions; q++)
            for (int t = 0; t < nt; t++)
                if (add_combo(p, s, backend ? backend : s->backends[b], s->precisions[q],
                              threads > 0 ? threads : s->threads[t], err))
                    goto fail;
    if (p->n_combos == 0) {
        mb_fail(err, "%s: no backend configuration of [measure] can run on this build and machine (%s)", s->path,
                p->n_notes ? p->notes[0] : "none given");
        goto fail;
    }
    if (!(p->cfg = calloc((size_t)s->n_variants, sizeof *p->cfg))) {
        mb_fail(err, "out of memory");
        goto fail;
    }
    const int units_per_run = s->warmup + s->repetitions;
    for (int v = 0; v < s->n_variants; v++) {
        if (plan_variant_config(s, s->variants[v], &p->cfg[v], err))
            goto fail;
        for (int t = 0; t < wl->n_tasks; t++) {
            int mt = model_find_task(&p->cfg[v], wl->task[t].name);
            if (mt < 0 || !model_serves_task(&p->cfg[v], mt)) {
                if (add_note(p, err, "%s: task %s left out: the model does not serve it", s->variants[v],
                             wl->task[t].name))
                    goto fail;
                continue;
            }
        }
        for (int c = 0; c < p->n_combos; c++)
            for (int t = 0; t < wl->n_tasks; t++) {
                int mt = model_find_task(&p->cfg[v], wl->task[t].name);
                if (mt < 0 || !model_serves_task(&p->cfg[v], mt))
                    continue;
                double pass_s = task_flops(&p->cfg[v], &wl->task[t]) /
                                (PLAN_GFLOPS_PER_THREAD * 1e9 * p->combos[c].threads);
                for (int m = 0; m < s->n_modes; m++) {
                    plan_run_t r = {v, c, t, mt, s->modes[m], 1, 0, 0, 0};
                    double reps_s = pass_s * units_per_run;
                    r.est_s = reps_s > s->min_time_s ? reps_s : s->min_time_s + pass_s * s->warmup;
                    if (r.mode == SCN_OFFLINE) {
                        for (int b = 0; b < s->n_batch_sizes; b++) {
                            r.batch = s->batch_sizes[b];
                            if (add_run(p, r, err))
                                goto fail;
                        }
                    } else if (r.mode == SCN_SERVER && s->server_search) {
                        /* one run that probes rates itself: a warm-up and up to search_steps + 4 probes */
                        r.batch = s->max_batch;
                        r.qps = s->target_qps[0];
                        r.search = 1;
                        double arrivals_s = wl->task[t].n / r.qps;
                        r.est_s = (arrivals_s > pass_s ? arrivals_s : pass_s) * (s->search_steps + 4 + s->warmup);
                        if (add_run(p, r, err))
                            goto fail;
                    } else if (r.mode == SCN_SERVER) {
                        r.batch = s->max_batch;
                        for (int q = 0; q < s->n_qps; q++) {
                            r.qps = s->target_qps[q];
                            /* a server pass lasts at least as long as the arrivals take */
                            double arrivals_s = wl->task[t].n / r.qps * units_per_run;
                            r.est_s = arrivals_s > reps_s ? arrivals_s : reps_s;
                            if (add_run(p, r, err))
                                goto fail;
                        }
                    } else if (add_run(p, r, err)) {
                        goto fail;
                    }
                }
            }
    }
    for (int i = 0; i < p->n_runs; i++) {
        p->units += p->runs[i].search ? s->search_steps + 4 : units_per_run;
        p->est_s += p->runs[i].est_s;
    }
    return 0;
fail:
    plan_free(p);
    return -1;
}

void plan_free(plan_t *p)
{
    free(p->combos);
    free(p->runs);
    free(p->cfg);
    free(p->notes);
    free(p->skipped);
    memset(p, 0, sizeof *p);
}

void plan_run_name(const plan_t *p, const scn_t *s, const wl_t *wl, const plan_run_t *r, char *buf, int len)
{
    const plan_combo_t *c = &p->combos[r->combo];
    char how[48];
    if (r->search)
        snprintf(how, sizeof how, "max qps search from %g", r->qps);
    else if (r->mode == SCN_SERVER)
        snprintf(how, sizeof how, "qps %g", r->qps);
    else
        snprintf(how, sizeof how, "b%d", r->batch);
    snprintf(buf, (size_t)len, "%s %s %s t%d %s %s %s", s->variants[r->variant], c->backend,
             be_precision_name(c->precision), c->threads, wl->task[r->task].name, scn_mode_name(r->mode), how);
}

void plan_print(const plan_t *p, const scn_t *s, const wl_t *wl, FILE *f)
{
    fprintf(f, "# %s: %d runs, each %d warm-up + %d repetitions (at least %g s)\n", s->name, p->n_runs, s->warmup,
            s->repetitions, s->min_time_s);
    for (int i = 0; i < p->n_runs; i++) {
        char name[160];
        plan_run_name(p, s, wl, &p->runs[i], name, sizeof name);
        fprintf(f, "%4d  %-60s ~%.1f s\n", i + 1, name, p->runs[i].est_s);
    }
    for (int i = 0; i < p->n_notes; i++)
        fprintf(f, "# left out: %s\n", p->notes[i]);
    fprintf(f, "# estimated total: %.0f s (%.1f min), assuming %.0f GFLOP/s per thread; real times differ by up to ~2x\n",
            p->est_s, p->est_s / 60, PLAN_GFLOPS_PER_THREAD);
}
