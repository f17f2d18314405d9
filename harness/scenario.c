/* scenario: INI parsing (libinih), defaults and checks (see scenario.h). */
#include "harness/scenario.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/registry.h"
#include "common/mb_variant.h"
#include "common/mb_file.h"
#include "harness/workload.h"
#include "models/config.h"

/* libinih's line buffer (INI_MAX_LINE bytes, the '\n' and the NUL included)
 * and a size no scenario comes near. */
#define SCN_MAX_LINE INI_MAX_LINE
#define SCN_MAX_FILE ((size_t)1 << 20)

static const char *const mode_names[] = {"offline", "single-stream", "server"};

const char *scn_mode_name(scn_mode_t m)
{
    return (unsigned)m < 3 ? mode_names[m] : "?";
}

const char *scn_decode_name(const scn_t *s, char *buf, int len)
{
    if (s->beam <= 1)
        snprintf(buf, (size_t)len, "greedy");
    else
        snprintf(buf, (size_t)len, "beam:%d", s->beam);
    return buf;
}

void scn_defaults(scn_t *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "unnamed");
    s->seed = 1;
    s->n_modes = 1;
    s->modes[0] = SCN_OFFLINE;
    s->n_batch_sizes = 1;
    s->batch_sizes[0] = 16;
    s->n_qps = 1;
    s->target_qps[0] = 10.0;
    s->max_batch = 16;
    s->batch_timeout_ms = 5.0;
    s->latency_bound_ms = 1000.0;
    s->server_search = 0;
    s->search_steps = 4;
    s->search_max_qps = 1000.0;
    snprintf(s->preset, sizeof s->preset, "tiny");
    s->n_variants = 1;
    snprintf(s->variants[0], sizeof s->variants[0], "dense");
    s->experts = s->top_k = s->d_model = s->d_ff = s->layers = s->vocab = -1;
    s->capacity_factor = -1.0;
    s->student_layers = s->student_d_model = s->student_d_ff = -1;
    snprintf(s->data, sizeof s->data, "synthetic");
    const char *env = getenv("MOEBENCH_DATA");
    snprintf(s->data_dir, sizeof s->data_dir, "%s", env && *env ? env : "../shared/data");
    snprintf(s->tasks, sizeof s->tasks, "en-de");
    s->sentences = 32;
    s->beam = 1;
    s->max_len = 256;
    s->output_length = SCN_OUT_AUTO;
    s->n_backends = 1;
    snprintf(s->backends[0], sizeof s->backends[0], "auto"); /* rows record the chosen one */
    s->n_precisions = 1;
    snprintf(s->precisions[0], sizeof s->precisions[0], "fp32");
    s->n_threads = 1;
    s->threads[0] = 1;
    s->warmup = 1;
    s->repetitions = 3;
    s->count_repetitions = 1; /* instruction counts do not vary: one is enough */
    s->passes = 1;
    s->min_time_s = 0.0;
    s->n_counters = 3;
    snprintf(s->counters[0], sizeof s->counters[0], "PAPI_TOT_INS");
    snprintf(s->counters[1], sizeof s->counters[1], "PAPI_TOT_CYC");
    snprintf(s->counters[2], sizeof s->counters[2], "PAPI_L3_TCM");
}

/* ---- value parsers: 0 ok, else a message in err ---- */

static int parse_long(const char *v, long lo, long hi, long *out, mb_error_t *err)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return mb_fail(err, "'%s' is not a whole number in [%ld, %ld]", v, lo, hi);
    *out = x;
    return 0;
}

static int parse_double(const char *v, double lo, double hi, double *out, mb_error_t *err)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x) || x < lo || x > hi)
        return mb_fail(err, "'%s' is not a number in [%g, %g]", v, lo, hi);
    *out = x;
    return 0;
}

/* Splits a comma-separated list; calls item() on each trimmed element. */
static int each_item(const char *v, int (*item)(void *ctx, const char *it, mb_error_t *err), void *ctx,
                     mb_error_t *err)
{
    char buf[SCN_TEXT * 2];
    if (strlen(v) >= sizeof buf)
        return mb_fail(err, "the list is too long");
    snprintf(buf, sizeof buf, "%s", v);
    int n = 0;
    for (char *tok = buf, *next; tok; tok = next) {
        next = strchr(tok, ',');
        if (next)
            *next++ = '\0';
        while (isspace((unsigned char)*tok))
            tok++;
        char *e = tok + strlen(tok);
        while (e > tok && isspace((unsigned char)e[-1]))
            *--e = '\0';
        if (!*tok)
            return mb_fail(err, "the list '%s' has an empty item", v);
        if (item(ctx, tok, err) != 0)
            return -1;
        n++;
    }
    if (n == 0)
        return mb_fail(err, "the list is empty");
    return 0;
}

typedef struct list_ctx {
    int *n, max;
    void *dst;
    size_t width;                        /* string lists: element size */
    long lo, hi;                         /* int lists */
    double dlo, dhi;                     /* double lists */
    const char *const *allowed;          /* string lists: allowed values or NULL */
} list_ctx_t;

static int add_str(void *c, const char *it, mb_error_t *err)
{
    list_ctx_t *l = c;
    if (*l->n == l->max)
        return mb_fail(err, "more than %d items", l->max);
    if (strlen(it) >= l->width)
        return mb_fail(err, "'%s' is too long", it);
    if (l->allowed) {
        int ok = 0;
        char names[256] = "";
        for (int i = 0; l->allowed[i]; i++) {
            ok |= !strcmp(l->allowed[i], it);
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", l->allowed[i]);
        }
        if (!ok)
            return mb_fail(err, "'%s' is not one of: %s", it, names);
    }
    for (int i = 0; i < *l->n; i++)
        if (!strcmp((char *)l->dst + (size_t)i * l->width, it))
            return mb_fail(err, "'%s' is listed twice", it);
    snprintf((char *)l->dst + (size_t)(*l->n)++ * l->width, l->width, "%s", it);
    return 0;
}

static int add_int(void *c, const char *it, mb_error_t *err)
{
    list_ctx_t *l = c;
    long v = 0;
    if (*l->n == l->max)
        return mb_fail(err, "more than %d items", l->max);
    if (parse_long(it, l->lo, l->hi, &v, err))
        return -1;
    ((int *)l->dst)[(*l->n)++] = (int)v;
    return 0;
}

static int add_double(void *c, const char *it, mb_error_t *err)
{
    list_ctx_t *l = c;
    double v = 0;
    if (*l->n == l->max)
        return mb_fail(err, "more than %d items", l->max);
    if (parse_double(it, l->dlo, l->dhi, &v, err))
        return -1;
    ((double *)l->dst)[(*l->n)++] = v;
    return 0;
}

static int add_mode(void *c, const char *it, mb_error_t *err)
{
    scn_t *s = c;
    for (int m = 0; m < 3; m++)
        if (!strcmp(it, mode_names[m])) {
            for (int i = 0; i < s->n_modes; i++)
                if (s->modes[i] == (scn_mode_t)m)
                    return mb_fail(err, "mode '%s' is listed twice", it);
            s->modes[s->n_modes++] = (scn_mode_t)m;
            return 0;
        }
    return mb_fail(err, "unknown mode '%s'; use offline, single-stream or server", it);
}

/* "variant:path" */
static int add_file(void *c, const char *it, mb_error_t *err)
{
    scn_t *s = c;
    const char *colon = strchr(it, ':');
    if (!colon || colon == it || !colon[1])
        return mb_fail(err, "'%s' is not variant:path/to/model.safetensors", it);
    if (s->n_files == 8)
        return mb_fail(err, "more than 8 files");
    int ok = 0;
    for (int i = 0; i < mb_n_variants; i++)
        ok |= strlen(mb_variants[i].name) == (size_t)(colon - it) && !strncmp(mb_variants[i].name, it, (size_t)(colon - it));
    if (!ok)
        return mb_fail(err, "'%.*s' in '%s' is not a variant", (int)(colon - it), it, it);
    if (strlen(colon + 1) >= SCN_TEXT)
        return mb_fail(err, "the path in '%s' is too long", it);
    snprintf(s->file_variant[s->n_files], sizeof s->file_variant[0], "%.*s", (int)(colon - it), it);
    snprintf(s->file_path[s->n_files++], SCN_TEXT, "%s", colon + 1);
    return 0;
}

const char *scn_file_for(const scn_t *s, const char *variant)
{
    for (int i = 0; i < s->n_files; i++)
        if (!strcmp(s->file_variant[i], variant))
            return s->file_path[i];
    return NULL;
}

/* tasks = all: every ordered pair of the languages whose file the data set has. */
static int expand_all_tasks(scn_t *s, const char *where, mb_error_t *err)
{
    static const char *const langs[] = {"cs", "de", "en", "es", "fr", "ru"};
    if (!strcmp(s->data, "synthetic"))
        return mb_fail(err, "%s: [workload] tasks = all needs real data (the pairs come from the data's "
                            "languages); list the tasks for synthetic data", where);
    const char *have[6];
    int n = 0;
    for (int i = 0; i < 6; i++) {
        char path[SCN_TEXT * 2];
        if (wl_data_path(s, langs[i], path, sizeof path, err))
            return mb_prefix(err, "%s: ", where);
        if (access(path, R_OK) == 0)
            have[n++] = langs[i];
    }
    if (n < 2)
        return mb_fail(err, "%s: [workload] tasks = all found %d language file(s) for data '%s' under %s; "
                            "point data_dir or MOEBENCH_DATA at the data", where, n, s->data, s->data_dir);
    s->tasks[0] = '\0';
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++)
            if (a != b)
                snprintf(s->tasks + strlen(s->tasks), sizeof s->tasks - strlen(s->tasks), "%s%s-%s",
                         s->tasks[0] ? "," : "", have[a], have[b]);
    return 0;
}

static int set_text(char *dst, size_t len, const char *v, mb_error_t *err)
{
    if (strlen(v) >= len)
        return mb_fail(err, "the value is longer than %zu characters", len - 1);
    snprintf(dst, len, "%s", v);
    return 0;
}

/* ---- the handler ---- */

typedef struct parse_state {
    scn_t *s;
    mb_error_t err;
    int failed;
    char seen[64][48];                   /* section.key already set */
    int n_seen;
} parse_state_t;

/* The variants a scenario may name: the variant table's. */
static const char *const *variants_known(void)
{
    static const char *names[16];
    for (int i = 0; i < mb_n_variants && i < 15; i++)
        names[i] = mb_variants[i].name;
    return names;
}

/* The backends a scenario may name: the registry's list (compiled in or not:
 * one that this build lacks is left out of the plan with the reason). */
static const char *const *backends_known(void)
{
    static const char *names[16];
    for (int i = 0; i < be_known_count() && i < 15; i++)
        names[i] = be_known_name(i);
    return names;
}
static const char *const precisions_known[] = {"fp32", "bf16", "int8", "int8all", NULL};

static int set_key(scn_t *s, const char *sec, const char *key, const char *v, mb_error_t *err)
{
#define IS(a, b) (!strcmp(sec, a) && !strcmp(key, b))
    long x = 0;
    if (IS("scenario", "name")) {
        for (const char *p = v; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
                return mb_fail(err, "name '%s' may hold only letters, digits, '-', '_' and '.'", v);
        return set_text(s->name, sizeof s->name, v, err);
    }
    if (IS("scenario", "description"))
        return set_text(s->description, sizeof s->description, v, err);
    if (IS("scenario", "seed")) {
        if (parse_long(v, 0, 0x7fffffffL, &x, err))
            return -1;
        s->seed = (uint64_t)x;
        return 0;
    }
    if (IS("scenario", "mode") || IS("scenario", "modes")) {
        s->n_modes = 0;
        return each_item(v, add_mode, s, err);
    }
    if (IS("scenario", "batch_sizes")) {
        list_ctx_t l = {&s->n_batch_sizes, SCN_MAX_LIST, s->batch_sizes, 0, 1, 4096, 0, 0, NULL};
        s->n_batch_sizes = 0;
        return each_item(v, add_int, &l, err);
    }
    if (IS("scenario", "target_qps")) {
        list_ctx_t l = {&s->n_qps, SCN_MAX_LIST, s->target_qps, 0, 0, 0, 1e-3, 1e6, NULL};
        s->n_qps = 0;
        return each_item(v, add_double, &l, err);
    }
    if (IS("scenario", "max_batch")) {
        if (parse_long(v, 1, 4096, &x, err))
            return -1;
        s->max_batch = (int)x;
        return 0;
    }
    if (IS("scenario", "batch_timeout_ms"))
        return parse_double(v, 0, 1e6, &s->batch_timeout_ms, err);
    if (IS("scenario", "latency_bound_ms"))
        return parse_double(v, 1e-3, 1e9, &s->latency_bound_ms, err);
    if (IS("scenario", "server_search")) {
        if (strcmp(v, "yes") && strcmp(v, "no"))
            return mb_fail(err, "server_search is 'yes' or 'no', not '%s'", v);
        s->server_search = !strcmp(v, "yes");
        return 0;
    }
    if (IS("scenario", "search_steps")) {
        if (parse_long(v, 1, 20, &x, err))
            return -1;
        s->search_steps = (int)x;
        return 0;
    }
    if (IS("scenario", "search_max_qps"))
        return parse_double(v, 1e-3, 1e6, &s->search_max_qps, err);

    if (IS("model", "preset")) {
        for (int i = 0; model_preset_names[i]; i++)
            if (!strcmp(v, model_preset_names[i]))
                return set_text(s->preset, sizeof s->preset, v, err);
        return mb_fail(err, "unknown preset '%s'; use tiny, small, wmt-dense, wmt32e or web128e", v);
    }
    if (IS("model", "variants")) {
        list_ctx_t l = {&s->n_variants, 8, s->variants, sizeof s->variants[0], 0, 0, 0, 0, variants_known()};
        s->n_variants = 0;
        return each_item(v, add_str, &l, err);
    }
    if (IS("model", "files")) {
        s->n_files = 0;
        return each_item(v, add_file, s, err);
    }
    if (IS("model", "tasks"))
        return set_text(s->model_tasks, sizeof s->model_tasks, v, err);
    struct { const char *key; long *dst; long lo, hi; } ints[] = {
        {"experts", &s->experts, 1, 4096},        {"top_k", &s->top_k, 1, 4096},
        {"d_model", &s->d_model, 2, 65536},       {"d_ff", &s->d_ff, 1, 1 << 20},
        {"layers", &s->layers, 1, 64},            {"vocab", &s->vocab, 16, 1 << 24},
        {"student_layers", &s->student_layers, 1, 64}, {"student_d_model", &s->student_d_model, 2, 65536},
        {"student_d_ff", &s->student_d_ff, 1, 1 << 20}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (IS("model", ints[i].key))
            return parse_long(v, ints[i].lo, ints[i].hi, ints[i].dst, err);
    if (IS("model", "capacity_factor"))
        return parse_double(v, 0, 1000, &s->capacity_factor, err);

    if (IS("workload", "data"))
        return set_text(s->data, sizeof s->data, v, err);
    if (IS("workload", "data_dir"))
        return set_text(s->data_dir, sizeof s->data_dir, v, err);
    if (IS("workload", "tasks")) {
        model_config_t probe;
        if (!strcmp(v, "all"))
            return set_text(s->tasks, sizeof s->tasks, v, err);
        if (model_config_set_tasks(&probe, v, err))
            return -1;
        return set_text(s->tasks, sizeof s->tasks, v, err);
    }
    if (IS("workload", "sentences")) {
        if (parse_long(v, 1, 1000000, &x, err))
            return -1;
        s->sentences = (int)x;
        return 0;
    }
    if (IS("workload", "decode")) {
        if (!strcmp(v, "greedy")) {
            s->beam = 1;
            return 0;
        }
        if (!strncmp(v, "beam:", 5) && parse_long(v + 5, 1, 64, &x, err) == 0) {
            s->beam = (int)x;
            return 0;
        }
        return mb_fail(err, "decode '%s' is not greedy or beam:K (K in 1..64)", v);
    }
    if (IS("workload", "max_len")) {
        if (parse_long(v, 1, 4096, &x, err))
            return -1;
        s->max_len = (int)x;
        return 0;
    }
    if (IS("workload", "output_length")) {
        static const char *const names[] = {"auto", "model", "source", "reference"};
        for (int i = 0; i < 4; i++)
            if (!strcmp(v, names[i])) {
                s->output_length = (scn_outlen_t)i;
                return 0;
            }
        return mb_fail(err, "output_length '%s' is not auto, model, source or reference", v);
    }

    if (IS("measure", "backends")) {
        list_ctx_t l = {&s->n_backends, 8, s->backends, sizeof s->backends[0], 0, 0, 0, 0, backends_known()};
        s->n_backends = 0;
        return each_item(v, add_str, &l, err);
    }
    if (IS("measure", "precisions")) {
        list_ctx_t l = {&s->n_precisions, 4, s->precisions, sizeof s->precisions[0], 0, 0, 0, 0, precisions_known};
        s->n_precisions = 0;
        return each_item(v, add_str, &l, err);
    }
    if (IS("measure", "threads")) {
        list_ctx_t l = {&s->n_threads, SCN_MAX_LIST, s->threads, 0, 1, 1024, 0, 0, NULL};
        s->n_threads = 0;
        return each_item(v, add_int, &l, err);
    }
    if (IS("measure", "warmup")) {
        if (parse_long(v, 0, 1000, &x, err))
            return -1;
        s->warmup = (int)x;
        return 0;
    }
    if (IS("measure", "repetitions")) {
        if (parse_long(v, 1, 100000, &x, err))
            return -1;
        s->repetitions = (int)x;
        return 0;
    }
    if (IS("measure", "passes")) {
        if (parse_long(v, 1, 10000, &x, err))
            return -1;
        s->passes = (int)x;
        return 0;
    }
    if (IS("measure", "count_repetitions")) {
        if (parse_long(v, 1, 100000, &x, err))
            return -1;
        s->count_repetitions = (int)x;
        return 0;
    }
    if (IS("measure", "min_time_s"))
        return parse_double(v, 0, 86400, &s->min_time_s, err);
    if (IS("measure", "counters")) {
        if (!strcmp(v, "none")) {
            s->n_counters = 0;
            return 0;
        }
        list_ctx_t l = {&s->n_counters, 8, s->counters, sizeof s->counters[0], 0, 0, 0, 0, NULL};
        s->n_counters = 0;
        return each_item(v, add_str, &l, err);
    }
#undef IS
    static const char *const sections[] = {"scenario", "model", "workload", "measure"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(sec, sections[i]))
            return mb_fail(err, "unknown key '%s' in [%s]; see scenarios/README.md for the keys", key, sec);
    return mb_fail(err, "unknown section [%s]; use [scenario], [model], [workload] and [measure]", sec);
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    parse_state_t *ps = user;
    if (ps->failed)
        return 1; /* report only the first problem */
    char id[48];
    snprintf(id, sizeof id, "%.20s.%.26s", section, name);
    for (int i = 0; i < ps->n_seen; i++)
        if (!strcmp(ps->seen[i], id)) {
            mb_fail(&ps->err, "key '%s' in [%s] is set twice", name, section);
            ps->failed = 1;
            return 0;
        }
    if (ps->n_seen < 64)
        snprintf(ps->seen[ps->n_seen++], sizeof ps->seen[0], "%s", id);
    if (set_key(ps->s, section, name, value, &ps->err) != 0) {
        size_t n = strlen(name);
        int about_key = !strncmp(ps->err.msg, "unknown key", 11) || !strncmp(ps->err.msg, "unknown section", 15);
        if (!about_key && !(strncmp(ps->err.msg, name, n) == 0 && ps->err.msg[n] == ':'))
            mb_prefix(&ps->err, "%s: ", name);
        ps->failed = 1;
        return 0;
    }
    return 1;
}

/* Checks that need the whole file. */
static int finish(scn_t *s, const char *where, mb_error_t *err)
{
    if (s->n_modes == 0)
        return mb_fail(err, "%s: [scenario] modes is empty", where);
    if (!strcmp(s->tasks, "all") && expand_all_tasks(s, where, err))
        return -1;
    model_config_t c;
    if (s->model_tasks[0]) {
        if (model_config_set_tasks(&c, s->model_tasks, err))
            return mb_prefix(err, "%s: [model] ", where);
        model_config_t w;
        model_config_set_tasks(&w, s->tasks, err);
        for (int t = 0; t < w.n_tasks; t++) {
            int found = 0;
            for (int u = 0; u < c.n_tasks; u++)
                found |= !strcmp(w.tasks[t], c.tasks[u]);
            if (!found)
                return mb_fail(err, "%s: [workload] task %s is not among [model] tasks (%s)", where, w.tasks[t],
                               s->model_tasks);
        }
    }
    if (s->server_search && !(s->search_max_qps > s->target_qps[0]))
        return mb_fail(err, "%s: [scenario] server_search starts at the first target_qps (%g), which must be below "
                            "search_max_qps (%g)", where, s->target_qps[0], s->search_max_qps);
    if (s->output_length == SCN_OUT_REFERENCE && !strcmp(s->data, "synthetic"))
        return mb_fail(err, "%s: [workload] output_length = reference needs real data (data = synthetic has "
                            "no references)", where);
    return 0;
}

/* rc: ini_parse_string's (the file itself was read and checked before). */
static int load(scn_t *s, const char *name, int rc, parse_state_t *ps, mb_error_t *err)
{
    if (rc == -2)
        return mb_fail(err, "%s: out of memory while parsing", name);
    if (rc > 0) {
        if (ps->failed)
            return mb_fail(err, "%s:%d: %s", name, rc, ps->err.msg);
        return mb_fail(err, "%s:%d: not a 'key = value' line or a [section] header", name, rc);
    }
    return finish(s, name, err);
}

/* libinih (as packaged) reads at most SCN_MAX_LINE - 1 bytes of a line and
 * parses the rest as a line of its own, and stops at a NUL byte: both would
 * silently change what the file says, so they are refused here first. */
static int check_text(const char *text, size_t len, const char *name, mb_error_t *err)
{
    int line = 1;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && text[i] == '\0')
            return mb_fail(err, "%s:%d: contains a NUL byte; a scenario is a text file (see scenarios/README.md)",
                           name, line);
        if (i == len || text[i] == '\n') {
            size_t n = i - start; /* without the '\n'; a '\r' before it counts */
            if (n > SCN_MAX_LINE - 2)
                return mb_fail(err, "%s:%d: the line is %zu bytes long; scenario lines are limited to %d bytes; "
                                    "shorten it (split a long description or list over keys)", name, line, n,
                               SCN_MAX_LINE - 2);
            start = i + 1;
            line++;
        }
    }
    return 0;
}

static int load_text(scn_t *s, const char *text, size_t len, const char *name, mb_error_t *err)
{
    if (check_text(text, len, name, err))
        return -1;
    parse_state_t ps = {.s = s};
    int rc = ini_parse_string(text, handler, &ps);
    return load(s, name, rc, &ps, err);
}

int scn_load(const char *path, scn_t *s, mb_error_t *err)
{
    scn_defaults(s);
    snprintf(s->path, sizeof s->path, "%s", path);
    /* the name defaults to the file's base name */
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(s->name, sizeof s->name, "%.*s", (int)strcspn(base, "."), base);
    char *text;
    size_t len;
    /* a directory, a device or an empty file would otherwise run the defaults */
    if (mb_input_read(path, "scenario file (see scenarios/README.md)", 0, SCN_MAX_FILE, &text, &len, err)) {
        if (strstr(err->msg, ": cannot open: ")) { /* a wrong path, most likely: say where the real ones are */
            size_t l = strlen(err->msg);
            snprintf(err->msg + l, sizeof err->msg - l,
                     "; check the path (the shipped scenarios are in scenarios/, keys in scenarios/README.md)");
        }
        return -1;
    }
    int rc = load_text(s, text, len, path, err);
    free(text);
    return rc;
}

int scn_load_string(const char *text, const char *name, scn_t *s, mb_error_t *err)
{
    scn_defaults(s);
    snprintf(s->path, sizeof s->path, "%s", name);
    return load_text(s, text, strlen(text), name, err);
}
