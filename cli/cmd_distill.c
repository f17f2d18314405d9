/* cmd_distill: `moebench distill`: sequence-level knowledge distillation
 * (Kim & Rush 2016, as "Beyond Distillation" did it): the teacher
 * translates the training sources of every direction with beam search
 * (train/trn_distill.c, cached), a dense student starts from the teacher's
 * non-expert weights (train/trn_init.c) and is trained on (source, teacher
 * output) pairs by the trainer `moebench train` runs (cli/train_run.c),
 * validated on the real references. The student file records its teacher. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "cli/cli.h"
#include "cli/train_run.h"
#include "common/mb_parse.h"
#include "harness/model_args.h"
#include "train/trn_distill.h"
#include "train/trn_init.h"
#include "vocab/vocab.h"

static void help(void)
{
    printf("usage: moebench distill --teacher T.safetensors --train PATTERN (--vocab-file V | --ids)\n"
           "                        [--valid PATTERN] [--directions LIST] [--beam N] [--cache DIR]\n"
           "                        [--max-lines N] [student shape] [train options] -o STUDENT.safetensors\n"
           "       moebench distill --teacher T.safetensors --resume STUDENT.ckpt.safetensors --train PATTERN ...\n\n"
           "Sequence-level knowledge distillation: the teacher (any model file; token-moe in the\n"
           "paper) translates the training sources of every direction with beam search; a dense\n"
           "student (variant 'student') starts from the teacher's non-expert weights (an MoE layer's\n"
           "FFN from the mean of its experts) and trains on (source, teacher output) pairs with the\n"
           "trainer of 'moebench train'; validation scores the real references of --valid.\n"
           "docs/training.md, \"Distillation\", describes it all.\n\n"
           "Teacher:\n"
           "  --teacher FILE        the teacher model (with --vocab-file, it must carry that vocabulary)\n"
           "  --beam N              beam size of the teacher's translations (default 4; 1 = greedy)\n"
           "  --teacher-batch N     sentences per decode batch (default 32)\n"
           "  --cache DIR           the teacher's translations, one file per direction, reused while\n"
           "                        the teacher, data and options are unchanged (default: next to -o,\n"
           "                        STUDENT.distill/)\n"
           "Student shape (default: the teacher's, dense; only these may differ):\n"
           "  --layers N            encoder and decoder layers (at most the teacher's; its first N are copied)\n"
           "  --enc-layers N --dec-layers N --d-ff N   (a different d_ff starts the FFNs fresh)\n"
           "%s",
           TRAIN_OPTS_HELP);
    printf("Here --directions defaults to the teacher's tasks (they must cover every language of the\n"
           "teacher) and --lr to 1e-3: the student starts from trained weights.\n\n%s",
           CLI_EXIT_HELP);
}

typedef struct dctx {
    const char *teacher_path, *cache;
    long beam, batch;
    model_t *teacher;
    uint32_t teacher_crc;
    char vocab_id[48];
    model_config_t student;
    char cache_buf[4096];
    double t0;                 /* progress: when the current direction started */
    double last;
} dctx_t;

enum { O_TEACHER = 3000, O_BEAM, O_TBATCH, O_CACHE, O_LAYERS };

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void progress(void *ctx, const char *direction, int done, int total, int from_cache)
{
    dctx_t *d = ctx;
    double t = mono();
    if (done < total && t - d->last < 5.0)
        return;
    d->last = t;
    double rate = (double)(done - from_cache) / (t - d->t0 > 1e-9 ? t - d->t0 : 1e-9);
    fprintf(stderr, "moebench: distill: teacher translating %s: %d/%d lines (%.0f%%), %.1f lines/s, ETA %.1f min\n",
            direction, done, total, total ? 100.0 * done / total : 100.0, rate,
            rate > 0 ? (double)(total - done) / rate / 60.0 : 0.0);
}

/* The student of a new run: the teacher's shape (with the overrides), from its weights. */
static int make_student(void *ctx, model_args_t *ma, targs_t *a, model_t **out, mb_error_t *err)
{
    (void)ma;
    dctx_t *d = ctx;
    model_t *m;
    if (model_create(&d->student, &m, err) != 0)
        return -1;
    model_init_random(m, (uint64_t)a->seed); /* what the teacher cannot give keeps a fresh start */
    if (train_init_from(m, d->teacher, d->teacher_path, err) != 0) {
        model_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

/* Each direction's teacher translations, as its own target column. */
static int add_targets(void *ctx, trn_corpus_t *tc, be_t *be, const model_t *m, const targs_t *a, mb_error_t *err)
{
    dctx_t *d = ctx;
    trn_distill_opts_t o;
    trn_distill_opts_default(&o);
    o.beam = (int)d->beam;
    o.batch = (int)d->batch;
    o.max_src = (int)a->max_len - 2; /* the tag and EOS come on top */
    o.teacher_crc = d->teacher_crc;
    snprintf(o.vocab_id, sizeof o.vocab_id, "%s", d->vocab_id);
    if (model_prepare(d->teacher, be, err) != 0)
        return -1;
    int rc = 0;
    for (int t = 0; rc == 0 && t < m->cfg.n_tasks; t++) {
        const char *dir = m->cfg.tasks[t];
        char src[MODEL_NAME_LEN];
        snprintf(src, sizeof src, "%.*s", (int)strcspn(dir, "-"), dir);
        int li = -1;
        for (int i = 0; i < tc->n_langs; i++)
            if (!strcmp(tc->langs[i], src))
                li = i;
        int *off, *ids;
        trn_distill_result_t r;
        d->t0 = d->last = mono();
        rc = trn_distill_direction(d->teacher, be, tc, li, dir, &o, d->cache, progress, d, &off, &ids, &r, err);
        if (rc == 0) {
            if (r.reused)
                fprintf(stderr, "moebench: distill: %s: reusing the teacher's translations in %s\n", dir, r.path);
            else
                fprintf(stderr, "moebench: distill: %s: translated %d lines with beam %ld in %.1f s (%s%s) -> %s\n",
                        dir, tc->n_lines, d->beam, mono() - d->t0, r.why, r.resumed ? ", resumed" : "", r.path);
            rc = trn_corpus_add_column(tc, dir, off, ids, err);
        }
    }
    model_release(d->teacher, be);
    return rc;
}

/* "a,b" sorted languages of a config, for messages. */
static void langs_of(const model_config_t *c, char *out, size_t len)
{
    out[0] = 0;
    for (int i = 0; i < c->n_langs; i++)
        snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? "," : "", c->langs[i]);
}

/* The student's config from the teacher's, the directions and the shape options; 2 = bad usage. */
static int student_config(dctx_t *d, const model_args_t *ma, const targs_t *a, mb_error_t *err)
{
    model_config_t *s = &d->student;
    if (trn_student_config(&d->teacher->cfg, s, err) != 0)
        return -1;
    char dirs[MODEL_MAX_TASKS * MODEL_NAME_LEN];
    const char *list = a->directions;
    if (list && !strcmp(list, "all")) {
        if (train_all_pairs(a->langs, dirs, sizeof dirs, err) != 0)
            return 2;
        list = dirs;
    }
    if (list && model_config_set_tasks(s, list, err) != 0) {
        mb_prefix(err, "distill: --directions: ");
        return 2;
    }
    for (int t = 0; list && t < s->n_tasks; t++) {
        int k = model_find_task(&d->teacher->cfg, s->tasks[t]);
        if (k < 0 || !model_serves_task(&d->teacher->cfg, k)) {
            mb_fail(err, "distill: the teacher %s does not translate %s; choose --directions among its tasks",
                    d->teacher_path, s->tasks[t]);
            return 2;
        }
    }
    int *dst[] = {&s->enc_layers, &s->dec_layers, &s->d_model, &s->d_ff, &s->n_heads};
    const long src[] = {ma->enc_layers, ma->dec_layers, ma->d_model, ma->d_ff, ma->heads};
    for (int i = 0; i < 5; i++)
        if (src[i] >= 0)
            *dst[i] = (int)src[i];
    if (model_config_finish(s, err) != 0) {
        mb_prefix(err, "distill: student: ");
        return 2;
    }
    char tl[256], sl[256];
    langs_of(&d->teacher->cfg, tl, sizeof tl);
    langs_of(s, sl, sizeof sl);
    if (strcmp(tl, sl)) { /* tags are laid out by the sorted languages: the student must keep the teacher's */
        mb_fail(err, "distill: --directions cover the languages %s but the teacher's tags are laid out for %s; "
                     "distil directions covering every language of the teacher", sl, tl);
        return 2;
    }
    if (trn_init_check(&d->teacher->cfg, s, err) != 0) {
        mb_prefix(err, "distill: %s: ", d->teacher_path);
        return 2;
    }
    const char *base = strrchr(d->teacher_path, '/');
    snprintf(s->distilled_from, sizeof s->distilled_from, "%.120s (crc32 %08x)", base ? base + 1 : d->teacher_path,
             (unsigned)d->teacher_crc);
    return 0;
}

/* The vocabulary the corpus is read with must be the teacher's (the same ids). */
static int check_vocab(dctx_t *d, const targs_t *a, mb_error_t *err)
{
    if (a->ids) {
        snprintf(d->vocab_id, sizeof d->vocab_id, "ids");
        return 0;
    }
    if (!d->teacher->vocab_blob)
        return mb_fail(err, "distill: %s carries no vocabulary, so its outputs are not text in %s; use a teacher "
                            "trained with --vocab-file (or token-id files with --ids)", d->teacher_path, a->vocab_file);
    vocab_t *v;
    const void *blob;
    size_t len;
    if (vocab_load(a->vocab_file, &v, err) != 0)
        return -1;
    vocab_blob(v, &blob, &len);
    unsigned long want = crc32(0L, d->teacher->vocab_blob, (uInt)d->teacher->vocab_len);
    unsigned long got = crc32(0L, blob, (uInt)len);
    vocab_free(v);
    if (want != got || len != d->teacher->vocab_len)
        return mb_fail(err, "distill: %s is not the vocabulary %s carries (crc32 %08lx, the teacher's %08lx); give "
                            "the vocabulary the teacher was trained with", a->vocab_file, d->teacher_path, got, want);
    snprintf(d->vocab_id, sizeof d->vocab_id, "crc32:%08lx", got);
    return 0;
}

int cmd_distill(int argc, char **argv)
{
    static const struct option opts[] = {
        TRAIN_LONGOPTS,
        {"enc-layers", 1, 0, 1006}, {"dec-layers", 1, 0, 1007}, {"d-model", 1, 0, 1008}, {"d-ff", 1, 0, 1009},
        {"heads", 1, 0, 1010}, {"layers", 1, 0, O_LAYERS}, {"teacher", 1, 0, O_TEACHER}, {"beam", 1, 0, O_BEAM},
        {"teacher-batch", 1, 0, O_TBATCH}, {"cache", 1, 0, O_CACHE}, {"output", 1, 0, 'o'}, {"help", 0, 0, 'h'},
        {0, 0, 0, 0}};
    model_args_t ma;
    model_args_init(&ma);
    targs_t a;
    train_defaults(&a);
    a.lr = 1e-3; /* the student's own rate: it starts from trained weights, not from scratch */
    dctx_t d;
    memset(&d, 0, sizeof d);
    d.beam = 4;
    d.batch = 32;
    mb_error_t err;
    long layers = -1;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        int r = model_args_parse(&ma, c, optarg, &err);
        if (r == 0)
            r = train_parse_opt(&a, c, optarg, &err);
        if (r < 0)
            return cli_usage(&err);
        if (r > 0)
            continue;
        int bad = 0;
        switch (c) {
        case O_TEACHER: d.teacher_path = optarg; break;
        case O_CACHE: d.cache = optarg; break;
        case O_BEAM: bad = mb_parse_long("--beam", optarg, 1, 64, &d.beam, &err); break;
        case O_TBATCH: bad = mb_parse_long("--teacher-batch", optarg, 1, 4096, &d.batch, &err); break;
        case O_LAYERS:
            bad = mb_parse_long("--layers", optarg, 1, 64, &layers, &err);
            ma.enc_layers = ma.dec_layers = layers;
            break;
        case 'o': a.out = optarg; break;
        case 'h': help(); return 0;
        default: return cli_bad_option("distill", c, argv, optind, optopt);
        }
        if (bad)
            return cli_usage(&err);
    }
    if (optind < argc)
        return cli_usagef("distill: unexpected argument '%s'; see 'moebench distill --help'", argv[optind]);
    if (!d.teacher_path || !a.train || !a.out)
        return cli_usagef("distill: %s; see 'moebench distill --help'",
                          !d.teacher_path ? "no teacher: give --teacher MODEL.safetensors"
                          : !a.train      ? "no training data: give --train PATTERN (with --vocab-file or --ids)"
                                          : "no output file: add -o STUDENT.safetensors");
    if (!a.ids && !a.vocab_file)
        return cli_usagef("distill: say what the files hold: --vocab-file FILE (text) or --ids (token ids)");
    if (!d.cache) { /* next to the student: "dir/student.safetensors" -> "dir/student.distill" */
        const char *dot = strrchr(a.out, '.'), *slash = strrchr(a.out, '/');
        int keep = dot && (!slash || dot > slash) ? (int)(dot - a.out) : (int)strlen(a.out);
        snprintf(d.cache_buf, sizeof d.cache_buf, "%.*s.distill", keep, a.out);
        d.cache = d.cache_buf;
    }
    if (model_load(d.teacher_path, &d.teacher, &err) != 0)
        return cli_error(&err);
    d.teacher_crc = trn_model_crc(d.teacher);
    int rc = check_vocab(&d, &a, &err);
    if (rc == 0 && !a.resume) {
        rc = student_config(&d, &ma, &a, &err);
        if (rc == 2) {
            model_free(d.teacher);
            return cli_usage(&err);
        }
    }
    if (rc == 0) {
        fprintf(stderr, "moebench: distill: teacher %s (%s/%s, crc32 %08x), beam %ld, cache %s\n", d.teacher_path,
                d.teacher->cfg.preset, d.teacher->cfg.variant, (unsigned)d.teacher_crc, d.beam, d.cache);
        train_hooks_t h = {&d, make_student, add_targets};
        rc = train_run(&ma, &a, &h, &err);
    }
    model_free(d.teacher);
    if (rc < 0)
        return cli_error(&err);
    return rc;
}
