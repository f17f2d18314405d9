/* cmp_samples: the values compare judges (see cmp_samples.h). */
#include "analysis/cmp_samples.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/stats.h"

void cmp_cols_find(const csvin_t *t, cmp_cols_t *c)
{
    c->run_id = csvin_col(t, "run_id");
    c->starved = csvin_col(t, "starved");
    c->wall_s = csvin_col(t, "wall_s");
    c->kernel = csvin_col(t, "kernel");
}

int cmp_metric_is_timing(const char *m)
{
    size_t n = strlen(m);
    if (n > 6 && !strcmp(m + n - 6, "_per_s"))
        return 1;
    if (!strncmp(m, "latency_", 8))
        return strcmp(m, "latency_bound_ms") != 0;
    return !strcmp(m, "wall_s") || !strcmp(m, "task_clock_ms");
}

static int starved(const csvin_t *t, const cmp_cols_t *c, size_t row)
{
    return c->starved >= 0 && !strcmp(csvin_get(t, row, (size_t)c->starved), "1");
}

int cmp_collect(const csvin_t *t, const cmp_cols_t *c, const size_t *rows, size_t n, const double *v,
                int timing, int per_run, double *x, size_t *k, cmp_sample_info_t *info)
{
    memset(info, 0, sizeof *info);
    info->rep_s = NAN;
    *k = 0;
    size_t *use = malloc((n ? n : 1) * sizeof *use);
    double *tmp = malloc((n ? n : 1) * sizeof *tmp);
    if (!use || !tmp) {
        free(use);
        free(tmp);
        return -1;
    }
    size_t m = 0, nw = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[rows[i]]))
            continue;
        if (timing && starved(t, c, rows[i])) {
            info->starved++;
            continue;
        }
        use[m++] = rows[i];
    }
    /* the repetitions' own length */
    for (size_t i = 0; c->wall_s >= 0 && i < m; i++) {
        double w;
        if (csvin_number(csvin_get(t, use[i], (size_t)c->wall_s), &w) == 0)
            tmp[nw++] = w;
    }
    if (nw)
        info->rep_s = mb_median(tmp, nw);
    /* runs: distinct run_id values in order of first appearance */
    for (size_t i = 0; c->run_id >= 0 && i < m; i++) {
        const char *id = csvin_get(t, use[i], (size_t)c->run_id);
        int first = 1;
        for (size_t j = 0; j < i && first; j++)
            first = strcmp(id, csvin_get(t, use[j], (size_t)c->run_id)) != 0;
        if (!first)
            continue;
        info->runs++;
        if (!per_run)
            continue;
        size_t q = 0;
        for (size_t j = i; j < m; j++)
            if (!strcmp(id, csvin_get(t, use[j], (size_t)c->run_id)))
                tmp[q++] = v[use[j]];
        x[(*k)++] = mb_median(tmp, q);
    }
    if (!per_run || c->run_id < 0)
        for (size_t i = 0; i < m; i++)
            x[(*k)++] = v[use[i]];
    free(use);
    free(tmp);
    return 0;
}

void cmp_kernels(const csvin_t *t, const cmp_cols_t *c, const size_t *rows, size_t n, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; c->kernel >= 0 && i < n; i++) {
        const char *kv = csvin_get(t, rows[i], (size_t)c->kernel);
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !strcmp(kv, csvin_get(t, rows[j], (size_t)c->kernel));
        if (seen || at + 4 >= len)
            continue;
        size_t w = strlen(kv);
        if (at)
            memcpy(buf + at, " + ", 3), at += 3;
        if (at + w >= len)
            w = len - at - 1;
        memcpy(buf + at, kv, w);
        at += w;
        buf[at] = '\0';
    }
}
