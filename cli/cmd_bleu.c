/* cmd_bleu: `moebench bleu HYP REF [REF2 ...]`: reads plain-text files (one
 * sentence a line, `-` for stdin), scores them with bleu.h and prints
 * sacreBLEU's text line or a JSON object. Scoring itself lives in bleu.c. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mb_parse.h"
#include "quality/bleu.h"
#include "quality/bleu_boot.h"
#include "cli/cli.h"
#include "cli/cmd_bleu.h"
#include "common/mb_file.h"

static void usage(FILE *f)
{
    fprintf(f,
"usage: moebench bleu HYP REF [REF2 ...] [options]\n"
"       moebench bleu --paired-bs BASELINE SYSTEM [SYSTEM ...] --ref REF [--ref REF2] [options]\n"
"\n"
"BLEU (or chrF) of the hypotheses in HYP against one or more references,\n"
"computed exactly as sacreBLEU " BLEU_SACREBLEU_VERSION " does (same tokenizers, smoothing,\n"
"signature). HYP and REF are UTF-8 text files with one sentence a line and the\n"
"same number of lines; `-` reads one of them from stdin.\n"
"\n"
"options:\n"
"  --tokenize T    13a (default, mteval-v13a), none, or intl (mteval-v14\n"
"                  international; Unicode categories of Unicode 17.0)\n"
"  --lc            lower-case hypotheses and references first (Python's str.lower)\n"
"  --smooth M[:V]  BLEU smoothing: exp (default), floor[:V] (V default 0.1),\n"
"                  add-k[:V] (V default 1), none\n"
"  --max-order N   largest BLEU n-gram order, 1..%d (default 4)\n"
"  --sentence      one score per hypothesis line (BLEU with effective order)\n"
"  --chrf          chrF instead of BLEU (character order 6, word order 0, beta 2)\n"
"  --width N       decimals of the score, 0..10 (default 2 as sacreBLEU's Python\n"
"                  API prints it; sacreBLEU's command line defaults to 1)\n"
"  --json          one JSON object (per line with --sentence) instead of text\n"
"  -h, --help      this text\n"
"\n"
"paired bootstrap resampling (sacreBLEU's --paired-bs; the first system is the baseline):\n"
"  --paired-bs     compare the systems: each one's score, mean and 95%% CI over the\n"
"                  resamples (sacreBLEU's), its difference to the baseline with the\n"
"                  95%% interval of the paired differences, and sacreBLEU's p-value\n"
"                  (* = p < 0.05); a system identical to the baseline gets p = 1\n"
"  --ref FILE      a reference (repeat for more); needed with --paired-bs\n"
"  --resamples N   resamples, 1..%d (default %d)\n"
"  --seed S        seed of the resampling (default %d, sacreBLEU's)\n"
"  --metrics M     bleu, chrf or bleu,chrf (default bleu,chrf; --chrf: chrf)\n"
"  --names A,B,..  system names (default: the file names)\n"
"  --label TEXT    a label for the CSV rows (e.g. the test set and direction)\n"
"  --csv FILE      also write one row per metric and system (columns: README.md)\n"
"\n"
"text output, as sacreBLEU prints it:\n"
"  BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:" BLEU_SACREBLEU_VERSION " = 45.07 "
"70.6/42.9/36.4/37.5 (BP = 1.000 ratio = 1.000 hyp_len = 17 ref_len = 17)\n"
"  chrF2|nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:" BLEU_SACREBLEU_VERSION " = 50.04\n"
"\n"
"JSON keys (stable), on one line:\n"
"  as sacreBLEU's JSON: name (\"BLEU\"/\"chrF2\"), score (rounded to --width),\n"
"    signature, verbose_score (BLEU only: the text after the score), and one\n"
"    string key per signature field (nrefs, case, eff, tok, smooth or nc, nw,\n"
"    space, version);\n"
"  and exact_score (full precision); for BLEU also precisions (percent), bp,\n"
"    ratio, hyp_len, ref_len, counts and totals (matched and hypothesis\n"
"    n-grams per order); for chrF hyp, ref and match (n-grams per order).\n"
"  --sentence adds line (1-based) to each object.\n"
"\n"
CLI_EXIT_HELP,
            BLEU_MAX_ORDER, BLEU_BOOT_MAX_RESAMPLES, BLEU_BOOT_RESAMPLES, BLEU_BOOT_SEED);
}

void bleu_lines_free(lines_t *l)
{
    free(l->buf);
    free(l->line);
}

static int read_all(FILE *f, char **out, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    while (b) {
        n += fread(b + n, 1, cap - n - 1, f);
        if (n < cap - 1)
            break;
        char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(b, cap * 2);
        if (!nb) {
            free(b);
            b = NULL;
            break;
        }
        b = nb;
        cap *= 2;
    }
    if (!b) {
        errno = ENOMEM;
        return -1;
    }
    if (ferror(f)) {
        free(b);
        return -1;
    }
    b[n] = '\0';
    *out = b;
    *len = n;
    return 0;
}

/* Longest line scored: memory grows with a line's n-grams (a 50 MB line of
 * punctuation took 5 GB), and no sentence comes near a megabyte. */
#define BLEU_CLI_MAX_LINE (1 << 20)

/* Reads a file (or stdin for "-") and splits it on '\n' as Python's file
 * iteration does: a last line without '\n' still counts. Checks UTF-8 here so
 * that an error can name the file and line. */
int bleu_lines_read(lines_t *l, const char *path, mb_error_t *err)
{
    memset(l, 0, sizeof *l);
    l->name = path;
    int is_stdin = !strcmp(path, "-");
    FILE *f = stdin;
    /* pipes stay allowed (`<(...)`); a directory or a block device is refused */
    if (!is_stdin && mb_input_open(path, "text file", MB_IN_ALLOW_EMPTY | MB_IN_ALLOW_PIPE, &f, err))
        return -1;
    size_t len;
    int rc = read_all(f, &l->buf, &len);
    int e = errno;
    if (!is_stdin)
        fclose(f);
    if (rc)
        return mb_fail(err, "%s: cannot read: %s", path, strerror(e));
    size_t count = 0;
    for (size_t i = 0; i < len; i++)
        count += l->buf[i] == '\n';
    if (len && l->buf[len - 1] != '\n')
        count++;
    if (count > 0x7FFFFFFF)
        return mb_fail(err, "%s: too many lines", path);
    l->line = malloc((count ? count : 1) * sizeof *l->line);
    if (!l->line)
        return mb_fail(err, "%s: out of memory", path);
    for (size_t s = 0; s < len; l->n++) {
        char *nl = memchr(l->buf + s, '\n', len - s);
        size_t e_ = nl ? (size_t)(nl - l->buf) : len;
        if (e_ - s > BLEU_CLI_MAX_LINE)
            return mb_fail(err, "%s:%d: the line is %zu bytes long, over the limit of %d bytes per line (the n-gram "
                                "tables of one line take about 100 bytes per byte); a sentence per line is "
                                "expected: split the line or check the file", path, l->n + 1, e_ - s,
                           BLEU_CLI_MAX_LINE);
        if (memchr(l->buf + s, '\0', e_ - s))
            return mb_fail(err, "%s:%d: contains a NUL byte", path, l->n + 1);
        long bad = bleu_utf8_invalid_at(l->buf + s, e_ - s);
        if (bad >= 0)
            return mb_fail(err, "%s:%d: invalid UTF-8 at byte %ld", path, l->n + 1, bad + 1);
        l->buf[e_] = '\0';
        l->line[l->n] = l->buf + s;
        s = e_ + 1;
    }
    return 0;
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

/* The head of the object, as sacreBLEU's JSON: name, score, signature,
 * verbose_score (when given) and each signature field as a string. */
static void json_head(const char *name, double score, int width, const char *sig, const char *verbose)
{
    printf("{\"name\": ");
    json_str(name);
    printf(", \"score\": %.*f, \"signature\": ", width, score);
    json_str(sig);
    if (verbose) {
        printf(", \"verbose_score\": ");
        json_str(verbose);
    }
    char copy[256];
    snprintf(copy, sizeof copy, "%s", sig);
    for (char *save = NULL, *kv = strtok_r(copy, "|", &save); kv; kv = strtok_r(NULL, "|", &save)) {
        char *colon = strchr(kv, ':');
        if (!colon)
            continue;
        *colon = '\0';
        printf(", ");
        json_str(kv);
        printf(": ");
        json_str(colon + 1);
    }
    printf(", \"exact_score\": %.17g", score);
}

static void json_ints(const char *key, const int64_t *v, int n)
{
    printf(", \"%s\": [", key);
    for (int i = 0; i < n; i++)
        printf("%s%lld", i ? ", " : "", (long long)v[i]);
    putchar(']');
}

static void print_bleu(const bleu_result_t *r, int width, int json, int line)
{
    char text[512];
    bleu_format(r, width, 1, text, sizeof text);
    if (!json) {
        puts(text);
        return;
    }
    const char *verbose = strstr(text, " = ");
    verbose = verbose ? strchr(verbose + 3, ' ') : NULL; /* after the score */
    json_head("BLEU", r->score, width, r->signature, verbose ? verbose + 1 : "");
    if (line)
        printf(", \"line\": %d", line);
    printf(", \"precisions\": [");
    for (int n = 0; n < r->max_order; n++)
        printf("%s%.17g", n ? ", " : "", r->precisions[n]);
    printf("], \"bp\": %.17g, \"ratio\": %.17g, \"hyp_len\": %lld, \"ref_len\": %lld", r->bp,
           r->ratio, (long long)r->stats.hyp_len, (long long)r->stats.ref_len);
    json_ints("counts", r->stats.correct, r->max_order);
    json_ints("totals", r->stats.total, r->max_order);
    puts("}");
}

static void print_chrf(const bleu_chrf_result_t *r, const bleu_chrf_opts_t *o, int width, int json,
                       int line)
{
    if (!json) {
        char text[512];
        bleu_chrf_format(r, width, 1, text, sizeof text);
        puts(text);
        return;
    }
    int order = o->char_order + o->word_order;
    json_head(r->name, r->score, width, r->signature, NULL);
    if (line)
        printf(", \"line\": %d", line);
    json_ints("hyp", r->stats.hyp, order);
    json_ints("ref", r->stats.ref, order);
    json_ints("match", r->stats.match, order);
    puts("}");
}

/* Scores the loaded files and prints; returns the exit status. */
static int score(const bleu_cli_t *c, const lines_t *hyp, const lines_t *ref, int n_refs)
{
    mb_error_t err;
    int n = hyp->n, rc = 0, nrefs;
    const char ***streams = malloc((size_t)n_refs * sizeof *streams);
    if (!streams)
        return cli_errorf("bleu: out of memory");
    for (int r = 0; r < n_refs; r++)
        streams[r] = (const char **)ref[r].line;
    const char *const *h = (const char *const *)hyp->line;
    const char *const *const *refs = (const char *const *const *)streams;
    if (c->chrf_mode) {
        bleu_chrf_stats_t sum, *per = c->sentence ? malloc((size_t)n * sizeof *per) : NULL;
        bleu_chrf_result_t res;
        rc = c->sentence && !per ? mb_fail(&err, "out of memory") : 0;
        if (!rc)
            rc = bleu_chrf_corpus_stats(h, refs, n_refs, n, &c->chrf, per, &sum, &nrefs, &err);
        for (int i = 0; !rc && i < (c->sentence ? n : 1); i++) {
            rc = bleu_chrf_score_stats(c->sentence ? &per[i] : &sum, nrefs, &c->chrf, &res, &err);
            if (!rc)
                print_chrf(&res, &c->chrf, c->width, c->json, c->sentence ? i + 1 : 0);
        }
        free(per);
    } else {
        bleu_opts_t o = c->bleu;
        o.effective_order |= c->sentence; /* as sacreBLEU's --sentence-level */
        bleu_stats_t sum, *per = c->sentence ? malloc((size_t)n * sizeof *per) : NULL;
        bleu_result_t res;
        rc = c->sentence && !per ? mb_fail(&err, "out of memory") : 0;
        if (!rc)
            rc = bleu_corpus_stats(h, refs, n_refs, n, &o, per, &sum, &nrefs, &err);
        for (int i = 0; !rc && i < (c->sentence ? n : 1); i++) {
            rc = bleu_score_stats(c->sentence ? &per[i] : &sum, nrefs, &o, &res, &err);
            if (!rc)
                print_bleu(&res, c->width, c->json, c->sentence ? i + 1 : 0);
        }
        free(per);
    }
    free(streams);
    if (rc) {
        mb_prefix(&err, c->chrf_mode ? "chrf: " : "bleu: ");
        return cli_error(&err);
    }
    return 0;
}

int cmd_bleu(int argc, char **argv)
{
    enum { O_LC = 256, O_TOK, O_SMOOTH, O_ORDER, O_SENT, O_CHRF, O_JSON, O_WIDTH, O_PAIRED, O_REF, O_RESAMPLES,
           O_SEED, O_CSV, O_NAMES, O_LABEL, O_METRICS };
    static const struct option longopts[] = {
        {"lc", no_argument, NULL, O_LC},
        {"tokenize", required_argument, NULL, O_TOK},
        {"smooth", required_argument, NULL, O_SMOOTH},
        {"max-order", required_argument, NULL, O_ORDER},
        {"sentence", no_argument, NULL, O_SENT},
        {"chrf", no_argument, NULL, O_CHRF},
        {"json", no_argument, NULL, O_JSON},
        {"width", required_argument, NULL, O_WIDTH},
        {"paired-bs", no_argument, NULL, O_PAIRED},
        {"ref", required_argument, NULL, O_REF},
        {"resamples", required_argument, NULL, O_RESAMPLES},
        {"seed", required_argument, NULL, O_SEED},
        {"csv", required_argument, NULL, O_CSV},
        {"names", required_argument, NULL, O_NAMES},
        {"label", required_argument, NULL, O_LABEL},
        {"metrics", required_argument, NULL, O_METRICS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bleu_cli_t c = {.width = 2, .resamples = BLEU_BOOT_RESAMPLES, .seed = BLEU_BOOT_SEED};
    const char *paired_only = NULL; /* an option that means nothing without --paired-bs */
    bleu_opts_init(&c.bleu);
    bleu_chrf_opts_init(&c.chrf);
    mb_error_t err;
    long v;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h': usage(stdout); return 0;
        case O_LC: c.bleu.lowercase = c.chrf.lowercase = 1; break;
        case O_SENT: c.sentence = 1; break;
        case O_CHRF: c.chrf_mode = 1; break;
        case O_JSON: c.json = 1; break;
        case O_TOK:
            if (bleu_tok_from_name(optarg, &c.bleu.tokenize, &err))
                return mb_prefix(&err, "bleu: --tokenize: "), cli_usage(&err);
            break;
        case O_SMOOTH:
            if (bleu_smooth_parse(optarg, &c.bleu, &err))
                return mb_prefix(&err, "bleu: --smooth: "), cli_usage(&err);
            break;
        case O_ORDER:
            if (mb_parse_long("--max-order", optarg, 1, BLEU_MAX_ORDER, &v, &err))
                return mb_prefix(&err, "bleu: "), cli_usage(&err);
            c.bleu.max_order = (int)v;
            break;
        case O_WIDTH:
            if (mb_parse_long("--width", optarg, 0, 10, &v, &err))
                return mb_prefix(&err, "bleu: "), cli_usage(&err);
            c.width = (int)v;
            break;
        case O_PAIRED: c.paired = 1; break;
        case O_REF:
            if (c.n_refs == BLEU_CLI_MAX_REFS)
                return cli_usagef("bleu: more than %d --ref files", BLEU_CLI_MAX_REFS);
            c.refs[c.n_refs++] = optarg;
            paired_only = "--ref";
            break;
        case O_RESAMPLES:
            if (mb_parse_long("--resamples", optarg, 1, BLEU_BOOT_MAX_RESAMPLES, &v, &err))
                return mb_prefix(&err, "bleu: "), cli_usage(&err);
            c.resamples = (int)v;
            paired_only = "--resamples";
            break;
        case O_SEED:
            if (mb_parse_long("--seed", optarg, 0, LONG_MAX, &v, &err))
                return mb_prefix(&err, "bleu: "), cli_usage(&err);
            c.seed = (uint64_t)v;
            paired_only = "--seed";
            break;
        case O_CSV: c.csv = optarg; paired_only = "--csv"; break;
        case O_NAMES: c.names = optarg; paired_only = "--names"; break;
        case O_LABEL: c.label = optarg; paired_only = "--label"; break;
        case O_METRICS:
            c.metrics = !strcmp(optarg, "bleu") ? 1 : !strcmp(optarg, "chrf") ? 2
                      : !strcmp(optarg, "bleu,chrf") || !strcmp(optarg, "chrf,bleu") ? 3 : 0;
            if (!c.metrics)
                return cli_usagef("bleu: --metrics: '%s' is not bleu, chrf or bleu,chrf", optarg);
            paired_only = "--metrics";
            break;
        default: return cli_bad_option("bleu", opt, argv, optind, optopt);
        }
    }
    int nfiles = argc - optind;
    if (c.paired) {
        if (c.sentence || c.json)
            return cli_usagef("bleu: --paired-bs scores corpora: it takes neither --sentence nor --json "
                              "(--csv FILE writes machine-readable rows)");
        if (!c.metrics)
            c.metrics = c.chrf_mode ? 2 : 3;
        return cmd_bleu_paired(&c, argv + optind, nfiles);
    }
    if (paired_only)
        return cli_usagef("bleu: %s is an option of --paired-bs; see 'moebench bleu --help'", paired_only);
    if (nfiles < 2) {
        fprintf(stderr, "moebench: bleu: needs HYP and at least one REF; see 'moebench bleu --help'\n");
        return 2;
    }
    int stdin_uses = 0;
    for (int i = optind; i < argc; i++)
        stdin_uses += !strcmp(argv[i], "-");
    if (stdin_uses > 1)
        return cli_usagef("bleu: only one of HYP and REF can be '-' (stdin)");

    lines_t *files = calloc((size_t)nfiles, sizeof *files);
    if (!files)
        return cli_errorf("bleu: out of memory");
    int rc = 0;
    for (int i = 0; i < nfiles && !rc; i++)
        if (bleu_lines_read(&files[i], argv[optind + i], &err))
            rc = cli_error(&err);
    for (int i = 1; i < nfiles && !rc; i++)
        if (files[i].n != files[0].n)
            rc = cli_errorf("%s: %d lines, but the hypotheses (%s) have %d", files[i].name,
                            files[i].n, files[0].name, files[0].n);
    if (!rc && files[0].n == 0)
        rc = cli_errorf("%s: no lines to score", files[0].name);
    if (!rc)
        rc = score(&c, &files[0], &files[1], nfiles - 1);
    for (int i = 0; i < nfiles; i++)
        bleu_lines_free(&files[i]);
    free(files);
    return rc;
}
