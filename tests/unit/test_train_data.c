/* The trainer's data: token-id corpora, the layout of a batch (tag, BOS,
 * EOS, labels shifted by one), the token budget, temperature sampling over
 * directions, lines in passes (shuffle) or drawn independently (replace),
 * determinism from (seed, chunk, batch) and seeking there (what
 * --resume relies on), and the validation pass covering every pair once. */
#include "testutil.h"

#include <unistd.h>

#include "train/trn_data.h"

static char dir[64];

/* en: n lines; de: the same, but every third line empty in `de` (so en-de
 * and de-en have fewer usable lines than en-fr). */
static void write_corpus(int n)
{
    snprintf(dir, sizeof dir, "/tmp/moebench-data-XXXXXX");
    assert_non_null(mkdtemp(dir));
    const char *langs[3] = {"en", "de", "fr"};
    for (int l = 0; l < 3; l++) {
        char path[128];
        snprintf(path, sizeof path, "%s/c.%s", dir, langs[l]);
        FILE *f = fopen(path, "w");
        for (int i = 0; i < n; i++) {
            int len = l == 1 && i % 3 == 0 ? 0 : 1 + (i * 7 + l) % 9;
            for (int j = 0; j < len; j++)
                fprintf(f, "%s%d", j ? " " : "", 20 + (i + j * 13 + l * 5) % 400);
            fputc('\n', f);
        }
        fclose(f);
    }
}

static void remove_corpus(void)
{
    const char *langs[3] = {"en", "de", "fr"};
    for (int l = 0; l < 3; l++) {
        char path[128];
        snprintf(path, sizeof path, "%s/c.%s", dir, langs[l]);
        unlink(path);
    }
    rmdir(dir);
}

static void setup_all(model_config_t *c, trn_corpus_t *tc)
{
    mb_error_t err;
    write_corpus(300);
    assert_int_equal(model_preset("tiny", "task-moe", c, &err), 0);
    assert_int_equal(model_config_set_tasks(c, "en-de,de-en,en-fr", &err), 0);
    assert_int_equal(model_config_finish(c, &err), 0);
    char pattern[96];
    snprintf(pattern, sizeof pattern, "%s/c.{lang}", dir);
    if (trn_corpus_load(tc, pattern, c->langs, c->n_langs, NULL, c->vocab, 0, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(tc->n_lines, 300);
}

static void batches(int mode)
{
    model_config_t c;
    trn_corpus_t tc;
    setup_all(&c, &tc);
    trn_sampler_t s, s2;
    mb_error_t err;
    assert_int_equal(trn_sampler_init(&s, &tc, &c, NULL, 5.0, mode, 9, 300, 64, &err), 0);
    assert_int_equal(trn_sampler_init(&s2, &tc, &c, NULL, 5.0, mode, 9, 300, 64, &err), 0);
    long seen = 0;
    for (int i = 0; i < 100; i++) {
        trn_batch_t b, b2;
        assert_int_equal(trn_sampler_next(&s, &b, NULL, &err), 0);
        assert_int_equal(trn_sampler_next(&s2, &b2, NULL, &err), 0);
        int S = b.src_off[b.n], T = b.tgt_off[b.n];
        assert_true(S + T <= 300 || b.n == 1); /* the budget */
        assert_int_equal(b.n, b2.n);           /* the same seed, the same batches */
        assert_memory_equal(b.src, b2.src, sizeof(int) * S);
        assert_memory_equal(b.tgt_out, b2.tgt_out, sizeof(int) * T);
        for (int j = 0; j < b.n; j++) {
            const int *src = b.src + b.src_off[j], *ti = b.tgt_in + b.tgt_off[j], *to = b.tgt_out + b.tgt_off[j];
            int ls = b.src_off[j + 1] - b.src_off[j], lt = b.tgt_off[j + 1] - b.tgt_off[j];
            assert_true(src[0] >= MODEL_FIRST_TAG && src[0] < MODEL_FIRST_TAG + c.n_langs);
            assert_int_equal(src[ls - 1], MODEL_EOS);
            assert_int_equal(ti[0], MODEL_BOS);
            assert_int_equal(to[lt - 1], MODEL_EOS);
            for (int q = 1; q < lt; q++)
                assert_int_equal(ti[q], to[q - 1]);
            /* the tag names the target language, whose task key is the batch's key */
            const char *lang = c.langs[src[0] - MODEL_FIRST_TAG];
            assert_int_equal(b.key[j], model_find_key(&c, lang));
            seen++;
        }
    }
    assert_true(seen > 100);
    /* seeking to the position after 237 batches (a few chunks in: shuffle
     * replays the chunks before) continues the same stream */
    trn_sampler_t s3;
    assert_int_equal(trn_sampler_init(&s3, &tc, &c, NULL, 5.0, mode, 9, 300, 64, &err), 0);
    trn_sampler_free(&s2);
    assert_int_equal(trn_sampler_init(&s2, &tc, &c, NULL, 5.0, mode, 9, 300, 64, &err), 0);
    trn_batch_t b, b3;
    for (int i = 0; i < 237; i++)
        assert_int_equal(trn_sampler_next(&s2, &b, NULL, &err), 0);
    assert_true(s2.chunk >= 2);
    assert_int_equal(trn_sampler_seek(&s3, s2.chunk, s2.batch, &err), 0);
    for (int i = 0; i < 80; i++) {
        assert_int_equal(trn_sampler_next(&s2, &b, NULL, &err), 0);
        assert_int_equal(trn_sampler_next(&s3, &b3, NULL, &err), 0);
        assert_int_equal(b.n, b3.n);
        assert_memory_equal(b.src, b3.src, sizeof(int) * b.src_off[b.n]);
        assert_memory_equal(b.tgt_out, b3.tgt_out, sizeof(int) * b.tgt_off[b.n]);
    }
    trn_sampler_free(&s);
    trn_sampler_free(&s2);
    trn_sampler_free(&s3);
    trn_corpus_free(&tc);
    remove_corpus();
}

static void test_batches(void **state)
{
    (void)state;
    batches(TRN_SAMPLE_SHUFFLE);
    batches(TRN_SAMPLE_REPLACE);
}

/* The corpus's line i starts with word 20 + i in en (and fr, 20 + (i + 10)
 * mod 400) and 20 + (i + 5) mod 400 in de: a source names its line. */
static int source_line(const model_config_t *c, const trn_batch_t *b, int j, int *dir)
{
    const int *src = b->src + b->src_off[j];
    *dir = -1;
    for (int t = 0; t < c->n_tasks; t++)
        if (src[0] == model_task_tag(c, t))
            *dir = t;
    int shift = !strncmp(c->tasks[*dir], "de", 2) ? 5 : !strncmp(c->tasks[*dir], "fr", 2) ? 10 : 0;
    return ((src[1] - 20 - shift) % 400 + 400) % 400;
}

/* Shuffle: after whole chunks, direction d has given drawn[d] lines in
 * passes over its usable lines, so every usable line has been seen
 * floor(drawn / n) or that plus one times, and no other line at all.
 * Independent draws (replace) spread far wider, which the test also shows,
 * so it can tell the two apart. */
static void test_shuffle_passes(void **state)
{
    (void)state;
    model_config_t c;
    trn_corpus_t tc;
    setup_all(&c, &tc);
    mb_error_t err;
    for (int mode = 0; mode < 2; mode++) {
        trn_sampler_t s;
        assert_int_equal(trn_sampler_init(&s, &tc, &c, NULL, 5.0, mode, 4, 300, 64, &err), 0);
        static int seen[3][300];
        long total[3] = {0, 0, 0};
        memset(seen, 0, sizeof seen);
        for (long chunk = 0; chunk < 3; chunk++) {
            trn_batch_t b;
            assert_int_equal(trn_sampler_next(&s, &b, NULL, &err), 0);
            assert_int_equal(s.chunk, chunk);
            for (int k = 0;; k++) {
                for (int j = 0; j < b.n; j++) {
                    int t, line = source_line(&c, &b, j, &t);
                    assert_true(t >= 0);
                    seen[t][line]++;
                    total[t]++;
                }
                if (k + 1 == trn_sampler_batches(&s))
                    break;
                assert_int_equal(trn_sampler_next(&s, &b, NULL, &err), 0);
            }
        }
        int spread = 0;
        for (int t = 0; t < 3; t++) {
            const trn_direction_t *d = &s.dir[t];
            int lo = INT32_MAX, hi = 0;
            for (int i = 0; i < 300; i++) {
                int usable = 0;
                for (long q = 0; q < d->n; q++)
                    usable |= s.lines[t][q] == i;
                if (!usable) {
                    assert_int_equal(seen[t][i], 0);
                    continue;
                }
                lo = seen[t][i] < lo ? seen[t][i] : lo;
                hi = seen[t][i] > hi ? seen[t][i] : hi;
            }
            if (mode == TRN_SAMPLE_SHUFFLE) {
                assert_int_equal(total[t], s.drawn[t]);
                assert_int_equal(lo, (int)(total[t] / d->n));
                assert_true(hi - lo <= 1);
            }
            spread = hi - lo > spread ? hi - lo : spread;
        }
        print_message("# %s: the most and least seen usable lines differ by %d\n",
                      mode == TRN_SAMPLE_SHUFFLE ? "shuffle" : "replace", spread);
        if (mode == TRN_SAMPLE_REPLACE)
            assert_true(spread > 1);
        trn_sampler_free(&s);
    }
    trn_corpus_free(&tc);
    remove_corpus();
}

/* p_d ~ n_d^(1/T): en-de and de-en have 200 usable lines, en-fr 300. */
static void test_temperature(void **state)
{
    (void)state;
    model_config_t c;
    trn_corpus_t tc;
    setup_all(&c, &tc);
    mb_error_t err;
    double T[3] = {1.0, 5.0, 1000.0};
    for (int k = 0; k < 3; k++) {
        trn_sampler_t s;
        assert_int_equal(trn_sampler_init(&s, &tc, &c, NULL, T[k], TRN_SAMPLE_REPLACE, 1, 400, 64, &err), 0);
        double w0 = pow(200.0, 1.0 / T[k]), w2 = pow(300.0, 1.0 / T[k]);
        assert_int_equal((int)s.dir[0].n, 200);
        assert_int_equal((int)s.dir[2].n, 300);
        assert_true(fabs(s.dir[2].p - w2 / (2 * w0 + w2)) < 1e-12);
        /* drawn: en-fr's share of examples over many batches, within 4 sigma */
        long fr = 0, all = 0;
        for (int i = 0; i < 400; i++) {
            trn_batch_t b;
            assert_int_equal(trn_sampler_next(&s, &b, NULL, &err), 0);
            for (int j = 0; j < b.n; j++) {
                fr += b.src[b.src_off[j]] == model_task_tag(&c, 2);
                all++;
            }
        }
        double p = s.dir[2].p, sd = sqrt(p * (1 - p) / all);
        print_message("# T=%g: en-fr share %.4f, expected %.4f (%ld examples)\n", T[k], (double)fr / all, p, all);
        assert_true(fabs((double)fr / all - p) < 4 * sd);
        trn_sampler_free(&s);
    }
    trn_corpus_free(&tc);
    remove_corpus();
}

static void test_validation_pass(void **state)
{
    (void)state;
    model_config_t c;
    trn_corpus_t tc;
    setup_all(&c, &tc);
    mb_error_t err;
    trn_sampler_t v;
    assert_int_equal(trn_sampler_init_valid(&v, &tc, &c, NULL, 30, 200, 64, &err), 0);
    for (int pass = 0; pass < 2; pass++) {
        int wrapped = 0, pairs = 0, batches = 0;
        while (!wrapped) {
            trn_batch_t b;
            assert_int_equal(trn_sampler_next(&v, &b, &wrapped, &err), 0);
            pairs += b.n;
            batches++;
        }
        assert_int_equal(pairs, 20 + 20 + 30); /* lines 0..29, every third empty in de */
        assert_int_equal(batches, trn_sampler_batches(&v));
    }
    trn_sampler_free(&v);
    trn_corpus_free(&tc);
    remove_corpus();
}

/* A direction with its own targets (distillation): en-de pairs en line i
 * with line i of its column (here the single token 20 + i, so the target
 * names its line), de-en likewise with its own; en-fr keeps the corpus's fr. */
static void test_own_column(void **state)
{
    (void)state;
    model_config_t c;
    trn_corpus_t tc;
    setup_all(&c, &tc);
    mb_error_t err;
    const char *own[2] = {"en-de", "de-en"};
    for (int k = 0; k < 2; k++) {
        int *off = malloc(sizeof(int) * (size_t)(tc.n_lines + 1)), *ids = malloc(sizeof(int) * (size_t)tc.n_lines);
        off[0] = 0;
        for (int i = 0; i < tc.n_lines; i++) {
            ids[i] = 20 + i + k; /* de-en's differ from en-de's by one */
            off[i + 1] = i + 1;
        }
        assert_int_equal(trn_corpus_add_column(&tc, own[k], off, ids, &err), 0);
    }
    int *o2 = malloc(sizeof(int)), *i2 = malloc(sizeof(int));
    assert_int_equal(trn_corpus_add_column(&tc, "en-de", o2, i2, &err), -1); /* one column per direction */
    assert_non_null(strstr(err.msg, "already has its own targets"));
    trn_sampler_t s;
    assert_int_equal(trn_sampler_init(&s, &tc, &c, NULL, 5.0, TRN_SAMPLE_REPLACE, 3, 300, 64, &err), 0);
    assert_int_equal((int)s.dir[0].n, 300); /* en-de: every own target is usable, unlike de's empty lines */
    assert_int_equal((int)s.dir[1].n, 200); /* de-en: its sources still are de's */
    assert_int_equal((int)s.dir[2].n, 300);
    int seen[3] = {0, 0, 0}, de = -1, en = -1, fr = -1;
    for (int i = 0; i < tc.n_langs; i++) { /* the corpus's languages are the model's, sorted */
        de = strcmp(tc.langs[i], "de") ? de : i;
        en = strcmp(tc.langs[i], "en") ? en : i;
        fr = strcmp(tc.langs[i], "fr") ? fr : i;
    }
    assert_true(de >= 0 && en >= 0 && fr >= 0);
    for (int it = 0; it < 200; it++) {
        trn_batch_t b;
        assert_int_equal(trn_sampler_next(&s, &b, NULL, &err), 0);
        for (int j = 0; j < b.n; j++) {
            const int *src = b.src + b.src_off[j], *to = b.tgt_out + b.tgt_off[j];
            int ls = b.src_off[j + 1] - b.src_off[j] - 2, lt = b.tgt_off[j + 1] - b.tgt_off[j] - 1;
            int t = src[0] == model_task_tag(&c, 0) ? 0 : src[0] == model_task_tag(&c, 1) ? 1 : 2;
            seen[t]++;
            if (t < 2) {
                assert_int_equal(lt, 1);
                int line = to[0] - 20 - t, sl = t == 0 ? en : de; /* the source column */
                assert_true(line >= 0 && line < tc.n_lines);
                assert_int_equal(ls, tc.off[sl][line + 1] - tc.off[sl][line]);
                assert_memory_equal(src + 1, tc.ids[sl] + tc.off[sl][line], sizeof(int) * (size_t)ls);
            } else { /* en-fr: some en line whose fr line is the target */
                int found = 0;
                for (int i = 0; i < tc.n_lines && !found; i++)
                    found = tc.off[en][i + 1] - tc.off[en][i] == ls && tc.off[fr][i + 1] - tc.off[fr][i] == lt &&
                            !memcmp(src + 1, tc.ids[en] + tc.off[en][i], sizeof(int) * (size_t)ls) &&
                            !memcmp(to, tc.ids[fr] + tc.off[fr][i], sizeof(int) * (size_t)lt);
                assert_true(found);
            }
        }
    }
    assert_true(seen[0] > 0 && seen[1] > 0 && seen[2] > 0);
    /* a validation pass over the same corpus reads the own targets too; the
     * trainer validates on a separate corpus (the real references) */
    trn_sampler_free(&s);
    trn_corpus_free(&tc);
    remove_corpus();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batches),
        cmocka_unit_test(test_shuffle_passes),
        cmocka_unit_test(test_temperature),
        cmocka_unit_test(test_validation_pass),
        cmocka_unit_test(test_own_column),
    };
    return cmocka_run_group_tests_name("train_data", tests, NULL, NULL);
}
