/* The vocabulary module: the id layout (pad 0, BOS 1, EOS 2, UNK 3, tags in
 * sorted order from 4), round trips (byte fallback included), decoding that
 * skips specials and tags, temperature sampling against its formula,
 * deterministic training, refusal of corrupt or truncated blobs and of
 * vocabularies with other special ids, the config check (size, missing
 * language, tag order), and model files that carry the vocabulary.
 * The training text is generated here (seeded): four made-up "languages"
 * with their own syllables, so no data folder is needed. */
#include "testutil.h"

#include <unistd.h>

#include "models/extract.h"
#include "vocab/spm_shim.h"
#include "vocab/vocab.h"

#define SIZE 330
static char dir[64];
static const char *langs[4] = {"cs", "de", "en", "fr"};
static const int lines_per_lang[4] = {100, 200, 400, 100};
static char files[4][128];
static vocab_t *fixture;   /* unigram, T = 5, seed 1 */
static vocab_train_report_t fixture_report;

static const char *const syllables[4][8] = {
    {"pr", "ch", "ky", "ov", "na", "st", "ou", "je"},
    {"sch", "ei", "en", "un", "der", "ch", "au", "ter"},
    {"th", "e", "an", "ing", "re", "s", "ca", "ow"},
    {"le", "ou", "ai", "ent", "que", "on", "re", "eau"},
};

static void write_text(int l, const char *path)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    uint64_t s = 12345u + (uint64_t)l;
    for (int i = 0; i < lines_per_lang[l]; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int words = 4 + (int)((s >> 33) % 8);
        for (int w = 0; w < words; w++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            int syl = 1 + (int)((s >> 35) % 3);
            fputs(w ? " " : "", f);
            for (int k = 0; k < syl; k++)
                fputs(syllables[l][(s >> (40 + 3 * k)) & 7], f);
        }
        fputs(i % 3 ? ".\n" : "?\n", f);
    }
    fclose(f);
}

static void train_opts(vocab_train_opts_t *o, const char **paths, int *file_lang)
{
    memset(o, 0, sizeof *o);
    o->n_langs = 4;
    for (int l = 0; l < 4; l++) {
        snprintf(o->langs[l], MODEL_NAME_LEN, "%s", langs[l]);
        paths[l] = files[l];
        file_lang[l] = l;
    }
    o->n_files = 4;
    o->files = paths;
    o->file_lang = file_lang;
    o->size = SIZE;
    o->type = "unigram";
    o->temperature = 5;
    o->seed = 1;
    o->threads = 1;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/mb_vocab_XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    for (int l = 0; l < 4; l++) {
        snprintf(files[l], sizeof files[l], "%s/train.%s", dir, langs[l]);
        write_text(l, files[l]);
    }
    vocab_train_opts_t o;
    const char *paths[4];
    int fl[4];
    train_opts(&o, paths, fl);
    mb_error_t err;
    if (vocab_train(&o, &fixture, &fixture_report, &err) != 0) {
        fprintf(stderr, "# training the fixture failed: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vocab_free(fixture);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_utf8_check(void **state)
{
    (void)state;
    static const char *const good[] = {"", "abc", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf",
                                       "a\xed\x9f\xbf"};
    static const struct { const char *s; size_t bad; } bad[] = {
        {"\xff", 0},          {"ab\xc3", 2},            {"\xc0\xaf", 0},   {"\xe0\x80\xaf", 0},
        {"x\xed\xa0\x80", 1}, {"\xf4\x90\x80\x80", 0},  {"a\x80", 1},      {"\xe2\x82", 0},
        {"ok\xf8\x88\x80\x80\x80", 2},
    };
    size_t at;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(vocab_utf8_check(good[i], strlen(good[i]), &at), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        at = 999;
        assert_int_equal(vocab_utf8_check(bad[i].s, strlen(bad[i].s), &at), -1);
        assert_int_equal(at, bad[i].bad);
    }
}

static void test_layout(void **state)
{
    (void)state;
    const vocab_t *v = fixture;
    assert_int_equal(vocab_size(v), SIZE);
    assert_string_equal(vocab_type(v), "unigram");
    assert_true(vocab_byte_fallback(v));
    assert_string_equal(vocab_piece(v, MODEL_PAD), "<pad>");
    assert_string_equal(vocab_piece(v, MODEL_BOS), "<s>");
    assert_string_equal(vocab_piece(v, MODEL_EOS), "</s>");
    assert_string_equal(vocab_piece(v, MODEL_UNK), "<unk>");
    assert_int_equal(vocab_n_tags(v), 4);
    for (int l = 0; l < 4; l++) {
        assert_int_equal(vocab_tag_id(v, langs[l]), MODEL_FIRST_TAG + l);
        assert_string_equal(vocab_tag_lang(v, l), langs[l]);
    }
    assert_int_equal(vocab_tag_id(v, "es"), -1);
    /* the ids the engine gives the tags, for the preset's default tasks (cs, de, en, fr) */
    model_config_t c;
    mb_error_t err;
    assert_int_equal(model_preset("tiny", "task-moe", &c, &err), 0);
    for (int t = 0; t < c.n_tasks; t++) {
        char tgt[MODEL_NAME_LEN];
        snprintf(tgt, sizeof tgt, "%s", strchr(c.tasks[t], '-') + 1);
        assert_int_equal(model_task_tag(&c, t), vocab_tag_id(v, tgt));
    }
}

/* decode(encode(x)) == x for text already in SentencePiece's normal form
 * (single spaces, NFKC), unseen characters included thanks to byte fallback. */
static void test_round_trip(void **state)
{
    (void)state;
    mb_error_t err;
    char line[4096];
    int checked = 0;
    for (int l = 0; l < 4; l++) {
        FILE *f = fopen(files[l], "r");
        assert_non_null(f);
        while (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\n")] = '\0';
            int *ids, n;
            char *back;
            assert_int_equal(vocab_encode(fixture, line, strlen(line), &ids, &n, &err), 0);
            assert_true(n > 0);
            for (int i = 0; i < n; i++)
                assert_true(ids[i] >= MODEL_FIRST_TAG + 4 && ids[i] < SIZE); /* no specials, no tags */
            assert_int_equal(vocab_decode(fixture, ids, n, &back, &err), 0);
            assert_string_equal(back, line);
            free(ids);
            free(back);
            checked++;
        }
        fclose(f);
    }
    assert_int_equal(checked, 800);
    const char *unseen = "Z\xc3\xbcrich \xe2\x98\x83 \xf0\x9f\x98\x80 na\xc3\xafve 42!";
    int *ids, n;
    char *back;
    assert_int_equal(vocab_encode(fixture, unseen, strlen(unseen), &ids, &n, &err), 0);
    int bytes = 0;
    for (int i = 0; i < n; i++)
        bytes += ids[i] != MODEL_UNK && !strncmp(vocab_piece(fixture, ids[i]), "<0x", 3);
    assert_true(bytes >= 4); /* the snowman and the emoji at least are byte pieces */
    assert_int_equal(vocab_decode(fixture, ids, n, &back, &err), 0);
    assert_string_equal(back, unseen);
    free(back);
    free(ids);
    /* pieces both ways */
    char **pieces;
    assert_int_equal(vocab_encode_pieces(fixture, "the cat", 7, &pieces, &n, &err), 0);
    assert_true(n >= 2);
    assert_int_equal(vocab_decode_pieces(fixture, (const char *const *)pieces, n, &back, &err), 0);
    assert_string_equal(back, "the cat");
    free(back);
    vocab_pieces_free(pieces, n);
    const char *not_piece[] = {"\xe2\x96\x81th", "no-such-piece"};
    assert_int_equal(vocab_decode_pieces(fixture, not_piece, 2, &back, &err), -1);
    assert_non_null(strstr(err.msg, "'no-such-piece' is not a piece"));
    /* invalid UTF-8 is refused, not silently dropped */
    assert_int_equal(vocab_encode(fixture, "ab\xff", 3, &ids, &n, &err), -1);
    assert_non_null(strstr(err.msg, "invalid UTF-8 at byte 3"));
}

static void test_decode_skips_specials_and_tags(void **state)
{
    (void)state;
    mb_error_t err;
    int *ids, n;
    char *plain, *wrapped;
    assert_int_equal(vocab_encode(fixture, "thing sow", 9, &ids, &n, &err), 0);
    int *w = malloc(sizeof(int) * (size_t)(n + 8));
    int k = 0;
    w[k++] = MODEL_BOS;
    w[k++] = MODEL_FIRST_TAG + 1; /* <2de> */
    for (int i = 0; i < n; i++)
        w[k++] = ids[i];
    w[k++] = MODEL_FIRST_TAG + 3; /* <2fr> mid-output */
    w[k++] = MODEL_EOS;
    w[k++] = MODEL_PAD;
    assert_int_equal(vocab_decode(fixture, ids, n, &plain, &err), 0);
    assert_int_equal(vocab_decode(fixture, w, k, &wrapped, &err), 0);
    assert_string_equal(plain, "thing sow");
    assert_string_equal(wrapped, plain);
    free(plain);
    free(wrapped);
    w[0] = SIZE; /* outside the vocabulary */
    assert_int_equal(vocab_decode(fixture, w, k, &wrapped, &err), -1);
    assert_non_null(strstr(err.msg, "token id 330 is outside the vocabulary (0..329)"));
    free(w);
    free(ids);
}

/* p_l = q_l^(1/T) / sum q_k^(1/T), q_l = n_l / N; sampled = round(p_l * N). */
static void test_temperature_sampling_and_determinism(void **state)
{
    (void)state;
    double n_total = 0, z = 0;
    for (int l = 0; l < 4; l++)
        n_total += lines_per_lang[l];
    for (int l = 0; l < 4; l++)
        z += pow(lines_per_lang[l] / n_total, 1.0 / 5.0);
    for (int l = 0; l < 4; l++) {
        double p = pow(lines_per_lang[l] / n_total, 1.0 / 5.0) / z;
        assert_int_equal(fixture_report.lines[l], lines_per_lang[l]);
        assert_true(fabs(fixture_report.prob[l] - p) < 1e-12);
        assert_int_equal(fixture_report.sampled[l], lround(p * n_total));
    }
    /* T = 5 flattens: the smallest language is drawn more than its 1/8 share, the largest less */
    assert_true(fixture_report.sampled[0] > 100 && fixture_report.sampled[2] < 400);

    vocab_train_opts_t o;
    const char *paths[4];
    int fl[4];
    train_opts(&o, paths, fl);
    vocab_t *again;
    vocab_train_report_t rep;
    mb_error_t err;
    assert_int_equal(vocab_train(&o, &again, &rep, &err), 0);
    const void *a, *b;
    size_t la, lb;
    vocab_blob(fixture, &a, &la);
    vocab_blob(again, &b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    vocab_free(again);

    /* T = 1: proportional to the data; BPE works too */
    o.temperature = 1;
    o.type = "bpe";
    assert_int_equal(vocab_train(&o, &again, &rep, &err), 0);
    for (int l = 0; l < 4; l++)
        assert_int_equal(rep.sampled[l], lines_per_lang[l]);
    assert_string_equal(vocab_type(again), "bpe");
    assert_int_equal(vocab_tag_id(again, "fr"), MODEL_FIRST_TAG + 3);
    vocab_free(again);

    o.size = 200; /* no room beside 256 byte pieces */
    assert_int_equal(vocab_train(&o, &again, &rep, &err), -1);
    assert_non_null(strstr(err.msg, "--size 200 leaves no room"));
}

static void test_corrupt_blobs_refused(void **state)
{
    (void)state;
    const void *blob;
    size_t len;
    vocab_blob(fixture, &blob, &len);
    vocab_t *v = (vocab_t *)1;
    mb_error_t err;
    assert_int_equal(vocab_from_blob(blob, 0, &v, &err), -1);
    assert_null(v);
    assert_non_null(strstr(err.msg, "empty"));
    const size_t cuts[] = {1, 2, 10, 100, len / 3, len / 2, len - 100, len - 2, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        assert_int_equal(vocab_from_blob(blob, cuts[i], &v, &err), -1);
        assert_non_null(strstr(err.msg, "corrupt or truncated"));
    }
    unsigned char *bad = malloc(len);
    memcpy(bad, blob, len);
    /* among the pieces, a run of 0xff is never a complete varint key nor UTF-8 text (a corruption of the
     * normaliser's binary table is not detectable from the bytes: model files carry a checksum for that) */
    memset(bad + 16, 0xff, 64);
    assert_int_equal(vocab_from_blob(bad, len, &v, &err), -1);
    assert_non_null(strstr(err.msg, "corrupt or truncated"));
    assert_int_equal(vocab_from_blob("hello, world", 12, &v, &err), -1);
    free(bad);
    /* and the intact blob loads, identical */
    assert_int_equal(vocab_from_blob(blob, len, &v, &err), 0);
    assert_int_equal(vocab_size(v), SIZE);
    vocab_free(v);
}

/* SentencePiece's own default ids (unk 0, bos 1, eos 2, no pad) are not moebench's. */
static void test_other_special_ids_refused(void **state)
{
    (void)state;
    const char *sent[64];
    char buf[64][32];
    for (int i = 0; i < 64; i++) {
        snprintf(buf[i], sizeof buf[i], "word%d and more words %d", i, i * 7);
        sent[i] = buf[i];
    }
    const char *keys[] = {"vocab_size", "minloglevel", "hard_vocab_limit"};
    const char *values[] = {"60", "1", "false"};
    void *blob;
    size_t len;
    char msg[400];
    assert_int_equal(spm_train(keys, values, 3, sent, 64, 1, &blob, &len, msg, sizeof msg), 0);
    vocab_t *v;
    mb_error_t err;
    assert_int_equal(vocab_from_blob(blob, len, &v, &err), -1);
    assert_non_null(strstr(err.msg, "id 0 is '<unk>', not the pad moebench expects"));
    free(blob);
    /* the shim reports trainer errors instead of throwing */
    const char *bad_values[] = {"60", "1", "not-a-bool"};
    assert_int_equal(spm_train(keys, bad_values, 3, sent, 64, 1, &blob, &len, msg, sizeof msg), -1);
    assert_true(strlen(msg) > 0);
}

static void test_config_check(void **state)
{
    (void)state;
    model_config_t c;
    mb_error_t err;
    assert_int_equal(model_preset("tiny", "dense", &c, &err), 0);
    c.vocab = SIZE;
    assert_int_equal(model_config_finish(&c, &err), 0);
    assert_int_equal(vocab_check_config(fixture, &c, "m.st", &err), 0);
    c.vocab = SIZE + 1;
    assert_int_equal(vocab_check_config(fixture, &c, "m.st", &err), -1);
    assert_non_null(strstr(err.msg, "m.st: the vocabulary has 330 pieces but the model's config says vocab 331"));
    c.vocab = SIZE;
    assert_int_equal(model_config_set_tasks(&c, "en-es,es-en", &err), 0);
    assert_int_equal(model_config_finish(&c, &err), 0);
    assert_int_equal(vocab_check_config(fixture, &c, "m.st", &err), -1);
    assert_non_null(strstr(err.msg, "no tag <2es> for the model's language es (it tags cs,de,en,fr)"));
    /* en and fr are tagged, but at 6 and 7, not at the 4 and 5 a model of only en and fr uses */
    assert_int_equal(model_config_set_tasks(&c, "en-fr", &err), 0);
    assert_int_equal(model_config_finish(&c, &err), 0);
    assert_int_equal(vocab_check_config(fixture, &c, "m.st", &err), -1);
    assert_non_null(strstr(err.msg, "tags en as id 6 but the model's languages put <2en> at id 4"));
}

static void test_model_file_carries_vocab(void **state)
{
    (void)state;
    mb_error_t err;
    model_config_t c;
    model_t *m, *back, *sub;
    assert_int_equal(model_preset("tiny", "task-moe", &c, &err), 0);
    c.vocab = SIZE;
    assert_int_equal(model_config_finish(&c, &err), 0);
    assert_int_equal(model_create(&c, &m, &err), 0);
    model_init_random(m, 3);
    const void *blob;
    size_t len;
    vocab_blob(fixture, &blob, &len);
    assert_int_equal(model_set_vocab(m, blob, len, &err), 0);
    char file[128], file2[128];
    snprintf(file, sizeof file, "%s/m.safetensors", dir);
    assert_int_equal(model_save(m, file, &err), 0);
    assert_int_equal(model_load(file, &back, &err), 0);
    assert_int_equal(back->vocab_len, len);
    assert_memory_equal(back->vocab_blob, blob, len);
    assert_memory_equal(back->arena, m->arena, sizeof(float) * m->n_params); /* the weights are untouched */
    vocab_t *v;
    assert_int_equal(vocab_for_config(back->vocab_blob, back->vocab_len, &back->cfg, file, &v, &err), 0);
    vocab_free(v);
    uint8_t *only;
    size_t only_len;
    assert_int_equal(model_load_vocab(file, &only, &only_len, &err), 0);
    assert_int_equal(only_len, len);
    assert_memory_equal(only, blob, len);
    free(only);
    /* extract keeps it */
    be_t be = test_ref_backend();
    assert_int_equal(model_extract(back, &be, "de", &sub, &err), 0);
    assert_int_equal(sub->vocab_len, len);
    assert_memory_equal(sub->vocab_blob, blob, len);
    model_free(sub);
    be_close(&be);
    model_free(back);
    /* a vocabulary of another size than the config's is refused, naming the file */
    model_t *other = test_model("dense", 1, 2.0f);
    assert_int_not_equal(other->cfg.vocab, SIZE);
    assert_int_equal(model_set_vocab(other, blob, len, &err), 0);
    snprintf(file2, sizeof file2, "%s/mismatch.safetensors", dir);
    assert_int_equal(model_save(other, file2, &err), 0);
    assert_int_equal(model_load(file2, &back, &err), 0); /* models/ never interprets the bytes */
    assert_int_equal(vocab_for_config(back->vocab_blob, back->vocab_len, &back->cfg, file2, &v, &err), -1);
    assert_non_null(strstr(err.msg, "mismatch.safetensors: the vocabulary has 330 pieces but the model's config"));
    model_free(back);
    /* a corrupted vocabulary in a model file is caught by the file's checksum, wherever the damage is */
    FILE *f = fopen(file, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, -1000, SEEK_END), 0); /* the vocabulary is the last tensor: its normaliser table */
    int ch = fgetc(f);
    assert_int_equal(fseek(f, -1000, SEEK_END), 0);
    fputc(ch ^ 0x55, f);
    fclose(f);
    assert_int_equal(model_load(file, &back, &err), -1);
    assert_non_null(strstr(err.msg, "tensor 'vocab.sentencepiece' does not match its checksum"));
    assert_int_equal(model_load_vocab(file, &only, &only_len, &err), -1);
    /* no vocabulary: none comes back */
    assert_int_equal(model_set_vocab(other, NULL, 0, &err), 0);
    assert_int_equal(model_save(other, file2, &err), 0);
    assert_int_equal(model_load(file2, &back, &err), 0);
    assert_null(back->vocab_blob);
    assert_int_equal(model_load_vocab(file2, &only, &only_len, &err), 0);
    assert_null(only);
    model_free(back);
    model_free(other);
    model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_check),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_decode_skips_specials_and_tags),
        cmocka_unit_test(test_temperature_sampling_and_determinism),
        cmocka_unit_test(test_corrupt_blobs_refused),
        cmocka_unit_test(test_other_special_ids_refused),
        cmocka_unit_test(test_config_check),
        cmocka_unit_test(test_model_file_carries_vocab),
    };
    return cmocka_run_group_tests_name("vocab", tests, setup, teardown);
}
