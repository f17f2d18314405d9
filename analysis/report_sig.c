/* report_sig: paired-bootstrap comparisons in a report (see report_sig.h). */
#include "analysis/report_sig.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/mb_mem.h"

int report_sig_is_boot(const csvin_t *t)
{
    return csvin_col(t, "baseline") >= 0 && csvin_col(t, "delta_lo") >= 0 && csvin_col(t, "p_value") >= 0;
}

void report_sig_free(report_t *r)
{
    free(r->sigs);
    r->sigs = NULL;
    r->n_sigs = r->cap_sigs = 0;
}

enum { S_METRIC, S_SYSTEM, S_BASELINE, S_SCORE, S_DELTA, S_LO, S_HI, S_P, S_N_REQUIRED, S_LABEL = S_N_REQUIRED,
       S_IDENTICAL, S_RESAMPLES, S_N };
static const char *const sig_cols[S_N] = {"metric", "system", "baseline", "score", "delta", "delta_lo",
                                          "delta_hi", "p_value", "label", "identical", "resamples"};

int report_sig_read(report_t *r, const csvin_t *t, const char *path,
                    const char *(*intern)(report_t *, const char *), mb_error_t *err)
{
    int col[S_N];
    for (int k = 0; k < S_N; k++) {
        col[k] = (int)csvin_col(t, sig_cols[k]);
        if (col[k] < 0 && k < S_N_REQUIRED)
            return mb_fail(err, "%s: no column '%s' in the header (is this a CSV of `moebench bleu --paired-bs "
                                "--csv`?)", path, sig_cols[k]);
    }
    for (size_t i = 0; i < t->nrows; i++) {
        const char *cell[S_N];
        for (int k = 0; k < S_N; k++)
            cell[k] = col[k] < 0 ? "" : csvin_get(t, i, (size_t)col[k]);
        if (!strcmp(cell[S_SYSTEM], cell[S_BASELINE]) && !*cell[S_P])
            continue; /* the baseline's own row */
        report_sig_t s = {0};
        double *num[] = {&s.score, &s.delta, &s.lo, &s.hi, &s.p};
        for (int k = S_SCORE; k <= S_P; k++) {
            int rc = csvin_number(cell[k], num[k - S_SCORE]);
            if (rc)
                return mb_fail(err, "%s:%zu: column '%s': '%s' is %s", path, t->line[i], sig_cols[k], cell[k],
                               rc < 0 ? "not a number" : "empty; a compared system has it");
        }
        if (s.p <= 0 || s.p > 1)
            return mb_fail(err, "%s:%zu: column 'p_value': %g is not in (0, 1]", path, t->line[i], s.p);
        if (!*cell[S_METRIC] || !*cell[S_SYSTEM] || !*cell[S_BASELINE])
            return mb_fail(err, "%s:%zu: metric, system and baseline must not be empty", path, t->line[i]);
        s.identical = !strcmp(cell[S_IDENTICAL], "yes") ? 1 : !strcmp(cell[S_IDENTICAL], "no") ? 0 : -1;
        double v;
        s.resamples = csvin_number(cell[S_RESAMPLES], &v) == 0 && v >= 1 && v <= 1e9 ? (int)v : 0;
        s.source = intern(r, path);
        s.label = intern(r, cell[S_LABEL]);
        s.metric = intern(r, cell[S_METRIC]);
        s.system = intern(r, cell[S_SYSTEM]);
        s.baseline = intern(r, cell[S_BASELINE]);
        if (!s.source || !s.label || !s.metric || !s.system || !s.baseline)
            return mb_fail(err, "%s: out of memory", path);
        size_t cap = (size_t)r->cap_sigs;
        if (mb_grow_cap((void **)&r->sigs, &cap, (size_t)r->n_sigs + 1, sizeof *r->sigs))
            return mb_fail(err, "%s: out of memory", path);
        r->cap_sigs = (int)cap;
        r->sigs[r->n_sigs++] = s;
    }
    return 0;
}

/* The paper's claims that a comparison tests, in the claim's direction. */
static const struct {
    const char *a, *b, *what;
} claims[] = {
    {"task-moe", "token-moe", "task-moe beats token-moe (paper: +1.0 BLEU)"},
    {"task-subnet", "task-moe", "the sub-network equals task-moe (exact extraction)"},
    {"student", "dense", "the student's gain over dense (paper: 32% of token-moe's)"},
    {"token-moe", "dense", "token-moe's gain over dense (the student's yardstick)"},
};

/* The claim a comparison tests; *flip when it compares b against a. */
static const char *claim_of(const report_sig_t *s, int *flip)
{
    for (size_t i = 0; i < sizeof claims / sizeof claims[0]; i++) {
        if (!strcmp(s->system, claims[i].a) && !strcmp(s->baseline, claims[i].b)) {
            *flip = 0;
            return claims[i].what;
        }
        if (!strcmp(s->system, claims[i].b) && !strcmp(s->baseline, claims[i].a)) {
            *flip = 1;
            return claims[i].what;
        }
    }
    *flip = 0;
    return NULL;
}

static void row(FILE *f, const report_sig_t *s, const char *claim, int flip)
{
    double d = flip ? -s->delta : s->delta, lo = flip ? -s->hi : s->lo, hi = flip ? -s->lo : s->hi;
    fprintf(f, "| %s | %s vs %s | %s | %s | %+.2f | [%+.2f, %+.2f] | ", claim ? claim : "-",
            flip ? s->baseline : s->system, flip ? s->system : s->baseline, *s->label ? s->label : "-", s->metric, d,
            lo, hi);
    if (s->identical == 1)
        fprintf(f, "1 | no: identical translations |\n");
    else
        fprintf(f, "%.4f | %s |\n", s->p, s->p >= 0.05 ? "no" : d < 0 ? "**yes**, lower" : "**yes**, higher");
}

void report_sig_section(FILE *f, const report_t *r)
{
    if (!r->n_sigs)
        return;
    int rmin = 0, rmax = 0;
    for (int i = 0; i < r->n_sigs; i++) {
        int n = r->sigs[i].resamples;
        if (n && (!rmin || n < rmin))
            rmin = n;
        rmax = n > rmax ? n : rmax;
    }
    fprintf(f, "## Significance\n\nPaired bootstrap resampling of the test lines (`moebench bleu --paired-bs`, "
               "sacreBLEU's `--paired-bs` definitions");
    if (rmin)
        fprintf(f, rmin == rmax ? "; %d resamples" : "; %d-%d resamples", rmin, rmax);
    fprintf(f, "): the difference of the two systems' corpus scores, the 95%% interval of the paired differences "
               "over the resamples, and sacreBLEU's p-value; a difference is significant at p < 0.05 (*lower* or "
               "*higher*: the first system of the comparison against the second). A difference "
               "that is not significant is not evidence of no difference: at this scale a test set of about a "
               "thousand lines cannot resolve much less than a BLEU point.\n\n");
    fprintf(f, "| claim of the paper | comparison | test set | metric | difference | 95%% interval | p-value "
               "| significant |\n|---|---|---|---|--:|---|--:|---|\n");
    /* the claims first, in the paper's order; then everything else as read */
    for (size_t c = 0; c < sizeof claims / sizeof claims[0]; c++)
        for (int i = 0; i < r->n_sigs; i++) {
            int flip;
            const char *claim = claim_of(&r->sigs[i], &flip);
            if (claim == claims[c].what)
                row(f, &r->sigs[i], claim, flip);
        }
    for (int i = 0; i < r->n_sigs; i++) {
        int flip;
        if (!claim_of(&r->sigs[i], &flip))
            row(f, &r->sigs[i], NULL, 0);
    }
    fprintf(f, "\nFrom ");
    const char *last = NULL;
    for (int i = 0, k = 0; i < r->n_sigs; i++) {
        if (r->sigs[i].source == last)
            continue;
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = r->sigs[j].source == r->sigs[i].source;
        if (!seen)
            fprintf(f, "%s`%s`", k++ ? ", " : "", r->sigs[i].source);
        last = r->sigs[i].source;
    }
    fprintf(f, " (`moebench bleu --paired-bs BASELINE SYSTEM... --ref REF --names ... --label ... --csv FILE`).\n\n");
}
