/* cmd_bleu_boot: `moebench bleu --paired-bs BASELINE SYSTEM... --ref REF`:
 * reads the systems and references, extracts each system's per-line BLEU and
 * chrF statistics once (bleu.h), resamples them (bleu_boot.h) and prints a
 * table like sacreBLEU's --paired-bs, plus CSV rows with --csv. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd_bleu.h"
#include "common/mb_file.h"
#include "quality/bleu.h"
#include "quality/bleu_boot.h"

/* The CSV's columns, stable (README.md, "BLEU"). */
#define BOOT_CSV_HEADER                                                                                        \
    "label,metric,system,file,baseline,score,mean,ci95,delta,delta_lo,delta_hi,p_value,significant,identical," \
    "lines,resamples,seed,signature"

typedef struct boot_run {
    const bleu_cli_t *c;
    int n_sys, n_lines, n_refs;
    lines_t *sys, *ref;          /* [n_sys], [n_refs] */
    const char **names;          /* [n_sys] */
    const char *const **streams; /* [n_refs] reference streams for bleu.h */
    FILE *csv;                   /* NULL without --csv */
} boot_run_t;

/* A CSV field: quoted when it holds a comma, a quote or a line break. */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_num(FILE *f, double v)
{
    if (isnan(v))
        fputc(',', f);
    else
        fprintf(f, ",%.10g", v);
}

static void csv_rows(const boot_run_t *b, const char *metric, const char *sig, const bleu_boot_sys_t *res)
{
    for (int s = 0; s < b->n_sys; s++) {
        const bleu_boot_sys_t *o = &res[s];
        FILE *f = b->csv;
        csv_field(f, b->c->label ? b->c->label : "");
        fputc(',', f);
        csv_field(f, metric);
        fputc(',', f);
        csv_field(f, b->names[s]);
        fputc(',', f);
        csv_field(f, b->sys[s].name);
        fputc(',', f);
        csv_field(f, b->names[0]);
        csv_num(f, o->score);
        csv_num(f, o->mean);
        csv_num(f, o->ci);
        csv_num(f, o->delta);
        csv_num(f, o->delta_lo);
        csv_num(f, o->delta_hi);
        csv_num(f, o->p);
        fprintf(f, ",%s,%s,%d,%d,%llu,", s == 0 ? "" : o->p < 0.05 ? "yes" : "no",
                s == 0 ? "" : o->identical ? "yes" : "no", b->n_lines, b->c->resamples,
                (unsigned long long)b->c->seed);
        csv_field(f, sig);
        fputc('\n', f);
    }
}

/* The human table: one block per metric. */
static void print_table(const boot_run_t *b, const char *metric, const char *sig, const bleu_boot_sys_t *res)
{
    int w = b->c->width, nw = 6;
    for (int s = 0; s < b->n_sys; s++) {
        int l = (int)strlen(b->names[s]) + (s == 0 ? 11 : 0);
        nw = l > nw ? l : nw;
    }
    printf("%s|%s\n", metric, sig);
    /* widths in bytes: the header and the values each hold one two-byte '±' */
    printf("%-*s  %8s  %18s  %10s  %24s  %s\n", nw, "system", metric, "mean ± 95% CI", "difference",
           "95% interval of diff.", "p-value");
    for (int s = 0; s < b->n_sys; s++) {
        const bleu_boot_sys_t *o = &res[s];
        char name[512], mean[64], diff[32], iv[64], p[48];
        snprintf(name, sizeof name, "%s%s", s == 0 ? "baseline: " : "", b->names[s]);
        snprintf(mean, sizeof mean, "%.*f ± %.*f", w, o->mean, w, o->ci);
        if (s == 0) {
            printf("%-*s  %8.*f  %18s\n", nw, name, w, o->score, mean);
            continue;
        }
        snprintf(diff, sizeof diff, "%+.*f", w, o->delta);
        snprintf(iv, sizeof iv, "[%+.*f, %+.*f]", w, o->delta_lo, w, o->delta_hi);
        if (o->identical)
            snprintf(p, sizeof p, "1 (identical to the baseline)");
        else
            snprintf(p, sizeof p, "%.4f%s", o->p, o->p < 0.05 ? " *" : "");
        printf("%-*s  %8.*f  %18s  %10s  %24s  %s\n", nw, name, w, o->score, mean, diff, iv, p);
    }
    printf("\n");
}

static int run_bleu(const boot_run_t *b, mb_error_t *err)
{
    const bleu_cli_t *c = b->c;
    bleu_stats_t **per = calloc((size_t)b->n_sys, sizeof *per);
    bleu_boot_sys_t *res = calloc((size_t)b->n_sys, sizeof *res);
    int rc = per && res ? 0 : mb_fail(err, "out of memory"), nrefs = 0;
    bleu_stats_t sum;
    for (int s = 0; s < b->n_sys && !rc; s++) {
        per[s] = malloc((size_t)b->n_lines * sizeof **per);
        if (!per[s])
            rc = mb_fail(err, "out of memory");
        else if (bleu_corpus_stats((const char *const *)b->sys[s].line, b->streams, b->n_refs, b->n_lines, &c->bleu,
                                   per[s], &sum, &nrefs, err))
            rc = mb_prefix(err, "%s: ", b->sys[s].name);
    }
    if (!rc)
        rc = bleu_boot_paired_bleu((const bleu_stats_t *const *)per, b->n_sys, b->n_lines, nrefs, &c->bleu,
                                   c->resamples, c->seed, res, err);
    bleu_result_t r;
    if (!rc)
        rc = bleu_score_stats(&sum, nrefs, &c->bleu, &r, err);
    if (!rc) {
        char sig[256];
        snprintf(sig, sizeof sig, "%s|bs:%d|seed:%llu", r.signature, c->resamples, (unsigned long long)c->seed);
        print_table(b, "BLEU", sig, res);
        if (b->csv)
            csv_rows(b, "BLEU", sig, res);
    }
    for (int s = 0; per && s < b->n_sys; s++)
        free(per[s]);
    free(per);
    free(res);
    return rc;
}

static int run_chrf(const boot_run_t *b, mb_error_t *err)
{
    const bleu_cli_t *c = b->c;
    bleu_chrf_stats_t **per = calloc((size_t)b->n_sys, sizeof *per);
    bleu_boot_sys_t *res = calloc((size_t)b->n_sys, sizeof *res);
    int rc = per && res ? 0 : mb_fail(err, "out of memory"), nrefs = 0;
    bleu_chrf_stats_t sum;
    for (int s = 0; s < b->n_sys && !rc; s++) {
        per[s] = malloc((size_t)b->n_lines * sizeof **per);
        if (!per[s])
            rc = mb_fail(err, "out of memory");
        else if (bleu_chrf_corpus_stats((const char *const *)b->sys[s].line, b->streams, b->n_refs, b->n_lines,
                                        &c->chrf, per[s], &sum, &nrefs, err))
            rc = mb_prefix(err, "%s: ", b->sys[s].name);
    }
    if (!rc)
        rc = bleu_boot_paired_chrf((const bleu_chrf_stats_t *const *)per, b->n_sys, b->n_lines, nrefs, &c->chrf,
                                   c->resamples, c->seed, res, err);
    bleu_chrf_result_t r;
    if (!rc)
        rc = bleu_chrf_score_stats(&sum, nrefs, &c->chrf, &r, err);
    if (!rc) {
        char sig[256];
        snprintf(sig, sizeof sig, "%s|bs:%d|seed:%llu", r.signature, c->resamples, (unsigned long long)c->seed);
        print_table(b, r.name, sig, res);
        if (b->csv)
            csv_rows(b, r.name, sig, res);
    }
    for (int s = 0; per && s < b->n_sys; s++)
        free(per[s]);
    free(per);
    free(res);
    return rc;
}

/* --names A,B,C into names[0..n): exactly one non-empty name per system. */
static int split_names(char *text, const char **names, int n, mb_error_t *err)
{
    int k = 0;
    for (char *p = text;; k++) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (!*p)
            return mb_fail(err, "bleu: --names: name %d is empty; give one name per system", k + 1);
        if (k < n)
            names[k] = p;
        if (!comma)
            break;
        p = comma + 1;
    }
    if (k + 1 != n)
        return mb_fail(err, "bleu: --names gives %d name%s for %d systems; give one name per system", k + 1,
                       k ? "s" : "", n);
    return 0;
}

int cmd_bleu_paired(const bleu_cli_t *c, char **systems, int n_systems)
{
    if (n_systems < 2)
        return cli_usagef("bleu: --paired-bs needs a baseline and at least one system to compare with it; "
                          "see 'moebench bleu --help'");
    if (n_systems > BLEU_BOOT_MAX_SYSTEMS)
        return cli_usagef("bleu: --paired-bs compares at most %d systems (%d given)", BLEU_BOOT_MAX_SYSTEMS,
                          n_systems);
    if (c->n_refs < 1)
        return cli_usagef("bleu: --paired-bs needs the reference as --ref FILE (the positional files are the "
                          "systems, the baseline first)");
    int stdin_uses = 0;
    for (int i = 0; i < n_systems; i++)
        stdin_uses += !strcmp(systems[i], "-");
    for (int i = 0; i < c->n_refs; i++)
        stdin_uses += !strcmp(c->refs[i], "-");
    if (stdin_uses > 1)
        return cli_usagef("bleu: only one of the systems and references can be '-' (stdin)");

    mb_error_t err;
    boot_run_t b = {.c = c, .n_sys = n_systems, .n_refs = c->n_refs};
    char *names_buf = c->names ? strdup(c->names) : NULL;
    char tmp[4096] = "";
    int rc = 0, tmp_written = 0;
    b.names = calloc((size_t)n_systems, sizeof *b.names);
    b.sys = calloc((size_t)n_systems, sizeof *b.sys);
    b.ref = calloc((size_t)c->n_refs, sizeof *b.ref);
    b.streams = calloc((size_t)c->n_refs, sizeof *b.streams);
    if (!b.names || !b.sys || !b.ref || !b.streams || (c->names && !names_buf)) {
        rc = cli_errorf("bleu: out of memory");
        goto done;
    }
    for (int s = 0; s < n_systems; s++)
        b.names[s] = systems[s];
    if (names_buf && split_names(names_buf, b.names, n_systems, &err)) {
        rc = cli_usage(&err);
        goto done;
    }
    /* before any scoring: a CSV that cannot be written is refused now */
    if (c->csv && (mb_output_check(c->csv, "bootstrap CSV", &err) ||
                   ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", c->csv) >= sizeof tmp &&
                    mb_fail(&err, "%s: path too long", c->csv)))) {
        rc = cli_error(&err);
        goto done;
    }
    for (int i = 0; i < c->n_refs && !rc; i++)
        if (bleu_lines_read(&b.ref[i], c->refs[i], &err))
            rc = cli_error(&err);
    for (int s = 0; s < n_systems && !rc; s++)
        if (bleu_lines_read(&b.sys[s], systems[s], &err))
            rc = cli_error(&err);
    b.n_lines = rc ? 0 : b.ref[0].n;
    for (int i = 1; i < c->n_refs && !rc; i++)
        if (b.ref[i].n != b.n_lines)
            rc = cli_errorf("%s: %d lines, but the first reference (%s) has %d", b.ref[i].name, b.ref[i].n,
                            b.ref[0].name, b.n_lines);
    for (int s = 0; s < n_systems && !rc; s++)
        if (b.sys[s].n != b.n_lines)
            rc = cli_errorf("%s: %d lines, but the reference (%s) has %d", b.sys[s].name, b.sys[s].n,
                            b.ref[0].name, b.n_lines);
    if (!rc && b.n_lines == 0)
        rc = cli_errorf("%s: no lines to score", b.ref[0].name);
    if (rc)
        goto done;
    for (int i = 0; i < c->n_refs; i++)
        b.streams[i] = (const char *const *)b.ref[i].line;
    if (c->csv) {
        b.csv = fopen(tmp, "w");
        if (!b.csv) {
            rc = cli_errorf("%s: cannot write: %s", tmp, strerror(errno));
            goto done;
        }
        tmp_written = 1;
        fprintf(b.csv, "%s\n", BOOT_CSV_HEADER);
    }
    printf("Paired bootstrap resampling (as sacreBLEU's --paired-bs): %d resamples of %d lines, seed %llu; "
           "baseline %s\n\n", c->resamples, b.n_lines, (unsigned long long)c->seed, b.names[0]);
    if (((c->metrics & 1) && run_bleu(&b, &err)) || ((c->metrics & 2) && run_chrf(&b, &err))) {
        rc = cli_error(&err);
        goto done;
    }
    printf("mean ± 95%% CI: over the resamples (sacreBLEU's); difference: score minus the baseline's, with the\n"
           "2.5th-97.5th percentiles of the paired differences; p-value: sacreBLEU's paired bootstrap test,\n"
           "* = p < 0.05 (the difference is unlikely to be resampling noise).\n");
    if (b.csv) {
        int bad = ferror(b.csv);
        if (fclose(b.csv) || bad) {
            b.csv = NULL;
            rc = cli_errorf("%s: cannot write: %s", tmp, strerror(errno ? errno : EIO));
            goto done;
        }
        b.csv = NULL;
        if (rename(tmp, c->csv))
            rc = cli_errorf("%s: cannot rename to %s: %s", tmp, c->csv, strerror(errno));
        else
            tmp_written = 0;
    }
done:
    if (b.csv)
        fclose(b.csv);
    if (tmp_written)
        remove(tmp); /* never a torn CSV: the rows appear complete or not at all */
    for (int s = 0; b.sys && s < n_systems; s++)
        bleu_lines_free(&b.sys[s]);
    for (int i = 0; b.ref && i < c->n_refs; i++)
        bleu_lines_free(&b.ref[i]);
    free(b.sys);
    free(b.ref);
    free(b.streams);
    free(b.names);
    free(names_buf);
    return rc;
}
