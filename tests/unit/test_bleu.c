/* BLEU, chrF and the tokenizers against sacreBLEU 2.6.0: vectors from
 * sacreBLEU's own tests and README, and those of sacreBLEU's
 * test_bleu.py / test_chrf.py, plus a property test of the n-gram hash table
 * against naive counting.
 *
 * Tolerances: a value quoted with d decimals is checked to half a unit of its
 * last digit (e.g. 48.530827 to 5e-7), which is what the quote itself
 * guarantees; the sentence-BLEU quotes of sacreBLEU's test_sentence_bleu.py
 * are truncated to 3 decimals (14.88256 is quoted 14.882), so they get that
 * file's own tolerance, 1e-3, and their full values are checked too. Values taken in full from sacreBLEU 2.6.0 on Python 3.11
 * (marked "full") are checked to 1e-9: the C code does the same double
 * operations in the same order, so only libm's last-bit rounding of exp/log
 * can differ, many orders below 1e-9 on scores of at most 100. Formatted
 * lines are compared exactly, as sacreBLEU prints them. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "quality/bleu.h"

#define FULL 1e-9

static const char *HYPS[] = {"The dog bit the man.", "It wasn't surprising.",
                             "The man had just bitten him."};
static const char *REF1[] = {"The dog bit the man.", "It was not unexpected.",
                             "The man bit him first."};
static const char *REF2[] = {"The dog had bit the man.", "No one was surprised.",
                             "The man had bitten the dog."};
static const char *const *BOTH[] = {REF1, REF2};

static const char *RO_HYP = "Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;";
static const char *RO_REF = "producţia de zahăr brut se exprimă în zahăr alb;";

static void near(double got, double want, double tol, const char *what)
{
    if (fabs(got - want) > tol)
        fail_msg("%s: got %.10f, want %.10f (tolerance %g)", what, got, want, tol);
}

static bleu_result_t corpus(const char *const *hyps, const char *const *const *refs, int n_refs,
                            int n, const bleu_opts_t *o)
{
    bleu_result_t r;
    mb_error_t err = {""};
    if (bleu_corpus(hyps, refs, n_refs, n, o, &r, &err))
        fail_msg("bleu_corpus: %s", err.msg);
    return r;
}

static void line_is(const bleu_result_t *r, int with_sig, const char *want)
{
    char buf[512];
    bleu_format(r, 2, with_sig, buf, sizeof buf);
    assert_string_equal(buf, want);
}

/* ---- corpus BLEU: the 3-sentence corpus of sacreBLEU's README ---- */

static void test_corpus_two_refs(void **state)
{
    (void)state;
    bleu_opts_t o;
    bleu_opts_init(&o);
    bleu_result_t r = corpus(HYPS, BOTH, 2, 3, &o);
    near(r.score, 48.530827, 5e-7, "two refs");
    line_is(&r, 0, "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)");
    assert_string_equal(r.signature, "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0");
    line_is(&r, 1, "BLEU|nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0 = 48.53 "
                   "82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)");
    int64_t counts[] = {14, 7, 5, 3}, totals[] = {17, 14, 11, 8};
    for (int n = 0; n < 4; n++) {
        assert_int_equal(r.stats.correct[n], counts[n]);
        assert_int_equal(r.stats.total[n], totals[n]);
    }
    o.smooth = BLEU_SMOOTH_NONE; /* no zero counts here, so no smoothing changes nothing */
    near(corpus(HYPS, BOTH, 2, 3, &o).score, 48.530827, 5e-7, "smooth none");
}

static void test_corpus_one_ref(void **state)
{
    (void)state;
    bleu_opts_t o;
    bleu_opts_init(&o);
    bleu_result_t r = corpus(HYPS, BOTH, 1, 3, &o);
    near(r.score, 45.07, 5e-3, "one ref");
    line_is(&r, 0, "BLEU = 45.07 70.6/42.9/36.4/37.5 (BP = 1.000 ratio = 1.000 hyp_len = 17 ref_len = 17)");
    assert_string_equal(r.signature, "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0");
}

static void test_corpus_tokenizers(void **state)
{
    (void)state;
    bleu_opts_t o;
    bleu_opts_init(&o);
    o.tokenize = BLEU_TOK_NONE;
    bleu_result_t r = corpus(HYPS, BOTH, 2, 3, &o);
    near(r.score, 49.1919566, 5e-8, "tokenize none");
    assert_string_equal(r.signature, "nrefs:2|case:mixed|eff:no|tok:none|smooth:exp|version:2.6.0");
    o.tokenize = BLEU_TOK_INTL;
    r = corpus(HYPS, BOTH, 2, 3, &o);
    near(r.score, 43.91623493, 5e-9, "tokenize intl");
    assert_string_equal(r.signature, "nrefs:2|case:mixed|eff:no|tok:intl|smooth:exp|version:2.6.0");
}

static void test_corpus_max_order(void **state)
{
    (void)state;
    const double want[] = {77.65, 60.50, 53.93, 48.53, 46.14, 43.28};
    const char *prec[] = {"82.4", "82.4/50.0", "82.4/50.0/45.5", "82.4/50.0/45.5/37.5",
                          "82.4/50.0/45.5/37.5/40.0", "82.4/50.0/45.5/37.5/40.0/33.3"};
    bleu_opts_t o;
    bleu_opts_init(&o);
    for (int n = 1; n <= 6; n++) {
        o.max_order = n;
        bleu_result_t r = corpus(HYPS, BOTH, 2, 3, &o);
        near(r.score, want[n - 1], 5e-3, "max order");
        char line[256];
        snprintf(line, sizeof line, "BLEU = %.2f %s (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)",
                 want[n - 1], prec[n - 1]);
        line_is(&r, 0, line);
    }
}

static void test_corpus_empty_hyps(void **state)
{
    (void)state;
    const char *empty[] = {"", "", ""};
    bleu_opts_t o;
    bleu_opts_init(&o);
    bleu_result_t r = corpus(empty, BOTH, 2, 3, &o);
    assert_true(r.score == 0.0); /* exact: sacreBLEU stops early with 0.0 */
    line_is(&r, 0, "BLEU = 0.00 0.0/0.0/0.0/0.0 (BP = 0.000 ratio = 0.000 hyp_len = 0 ref_len = 17)");
}

static void test_corpus_variable_refs(void **state)
{
    (void)state;
    const char *h[] = {"a b c", "d e f"}, *r1[] = {"a b c", "d e"}, *r2[] = {"a b", NULL};
    const char *const *refs[] = {r1, r2};
    bleu_opts_t o;
    bleu_opts_init(&o);
    bleu_result_t r = corpus(h, refs, 2, 2, &o);
    /* full: BLEU = 0.00 83.3/75.0/50.0/0.0 (... hyp_len = 6 ref_len = 5), nrefs:var */
    line_is(&r, 0, "BLEU = 0.00 83.3/75.0/50.0/0.0 (BP = 1.000 ratio = 1.200 hyp_len = 6 ref_len = 5)");
    assert_string_equal(r.signature, "nrefs:var|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0");
}

static void test_corpus_lowercase(void **state)
{
    (void)state;
    const char *h[] = {"THE DOG bit the man."}, *r1[] = {"the dog BIT the man."};
    const char *const *refs[] = {r1};
    bleu_opts_t o;
    bleu_opts_init(&o);
    o.lowercase = 1;
    bleu_result_t r = corpus(h, refs, 1, 1, &o);
    near(r.score, 100.0, FULL, "lowercase");
    assert_string_equal(r.signature, "nrefs:1|case:lc|eff:no|tok:13a|smooth:exp|version:2.6.0");
}

/* ---- sentence BLEU (effective order) on the Romanian sentence ---- */

static bleu_result_t ro_sentence(bleu_smooth_t m, double v, bleu_tok_t tok)
{
    bleu_opts_t o;
    bleu_opts_init(&o);
    o.effective_order = 1;
    o.smooth = m;
    o.smooth_value = v;
    o.tokenize = tok;
    bleu_result_t r;
    mb_error_t err = {""};
    if (bleu_sentence(RO_HYP, &RO_REF, 1, &o, &r, &err))
        fail_msg("bleu_sentence: %s", err.msg);
    return r;
}

static void test_sentence_smoothing(void **state)
{
    (void)state;
    bleu_result_t r = ro_sentence(BLEU_SMOOTH_EXP, -1, BLEU_TOK_13A);
    near(r.score, 8.493, 1e-3, "exp");
    near(r.score, 8.493098745313148, FULL, "exp (full)");
    line_is(&r, 1, "BLEU|nrefs:1|case:mixed|eff:yes|tok:13a|smooth:exp|version:2.6.0 = 8.49 "
                   "35.7/15.4/4.2/2.3 (BP = 1.000 ratio = 1.400 hyp_len = 14 ref_len = 10)");
    r = ro_sentence(BLEU_SMOOTH_NONE, -1, BLEU_TOK_13A);
    assert_true(r.score == 0.0);
    assert_string_equal(r.signature, "nrefs:1|case:mixed|eff:yes|tok:13a|smooth:none|version:2.6.0");
    r = ro_sentence(BLEU_SMOOTH_FLOOR, 0.1, BLEU_TOK_13A);
    near(r.score, 4.51688, 1e-3, "floor 0.1");
    near(r.score, 4.516881220954753, FULL, "floor 0.1 (full)");
    assert_string_equal(r.signature, "nrefs:1|case:mixed|eff:yes|tok:13a|smooth:floor[0.10]|version:2.6.0");
    r = ro_sentence(BLEU_SMOOTH_FLOOR, -1, BLEU_TOK_13A); /* sacreBLEU's default value is 0.1 */
    near(r.score, 4.516881220954753, FULL, "floor default");
    r = ro_sentence(BLEU_SMOOTH_ADD_K, 1, BLEU_TOK_13A);
    near(r.score, 14.882, 1e-3, "add-k 1");
    near(r.score, 14.882560178972215, FULL, "add-k 1 (full)");
    assert_string_equal(r.signature, "nrefs:1|case:mixed|eff:yes|tok:13a|smooth:add-k[1.00]|version:2.6.0");
    r = ro_sentence(BLEU_SMOOTH_ADD_K, 2, BLEU_TOK_13A);
    near(r.score, 21.389, 1e-3, "add-k 2");
    near(r.score, 21.389460275371086, FULL, "add-k 2 (full)");
    line_is(&r, 0, "BLEU = 21.39 35.7/26.7/14.3/15.4 (BP = 1.000 ratio = 1.400 hyp_len = 14 ref_len = 10)");
    r = ro_sentence(BLEU_SMOOTH_EXP, -1, BLEU_TOK_NONE);
    near(r.score, 7.347, 1e-3, "tokenize none");
    near(r.score, 7.347053125977879, FULL, "tokenize none (full)");
    /* The other rows of test_sentence_bleu.py that need no extra tokenizer. */
    near(ro_sentence(BLEU_SMOOTH_FLOOR, 0.5, BLEU_TOK_13A).score, 10.10, 1e-3, "floor 0.5");
    near(ro_sentence(BLEU_SMOOTH_ADD_K, -1, BLEU_TOK_13A).score, 14.882, 1e-3, "add-k default");
    near(ro_sentence(BLEU_SMOOTH_EXP, -1, BLEU_TOK_INTL).score, 8.493, 1e-3, "intl");
    const char *h0 = "this is a cat", *r0 = "okay thanks";
    const bleu_smooth_t ms[] = {BLEU_SMOOTH_EXP, BLEU_SMOOTH_NONE, BLEU_SMOOTH_FLOOR, BLEU_SMOOTH_ADD_K};
    for (int i = 0; i < 4; i++) {
        bleu_opts_t o;
        bleu_opts_init(&o);
        o.effective_order = 1;
        o.smooth = ms[i];
        mb_error_t err = {""};
        assert_int_equal(bleu_sentence(h0, &r0, 1, &o, &r, &err), 0);
        assert_true(r.score == 0.0);
    }
}

/* sacreBLEU's test_bleu.py: raw_corpus_bleu is tokenize none, floor 0.01,
 * effective order; and compute_bleu on given statistics. */
static void test_sacrebleu_raw_and_stats(void **state)
{
    (void)state;
    static const struct { const char *h, *r; double want; } raw[] = {
        {"this is a test", "this is a test", 100.0},
        {"this is a fest", "this is a test", 22.360679774997894},
        {"test", "a test", 36.78794411714425},
        {"a test", "a test", 100.0},
        {"a little test", "a test", 3.2182979486854326},
    };
    bleu_opts_t o;
    bleu_opts_init(&o);
    o.tokenize = BLEU_TOK_NONE;
    o.smooth = BLEU_SMOOTH_FLOOR;
    o.smooth_value = 0.01;
    o.effective_order = 1;
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        const char *const *refs[] = {&raw[i].r};
        near(corpus(&raw[i].h, refs, 1, 1, &o).score, raw[i].want, FULL, raw[i].h);
    }
    /* No match at all: sacreBLEU 2.x returns 0.0 (its early stop). */
    const char *h2[] = {"this is a test", "another test"}, *r2[] = {"ref1", "ref2"};
    const char *const *refs2[] = {r2};
    assert_true(corpus(h2, refs2, 1, 2, &o).score == 0.0);

    const char *h3 = "am I am a character sequence", *r3 = "I am a symbol string sequence a a";
    const char *const *refs3[] = {&r3};
    bleu_result_t r = corpus(&h3, refs3, 1, 1, &o);
    int64_t counts[] = {4, 2, 1, 0}, totals[] = {6, 5, 4, 3};
    for (int n = 0; n < 4; n++) {
        assert_int_equal(r.stats.correct[n], counts[n]);
        assert_int_equal(r.stats.total[n], totals[n]);
    }

    bleu_stats_t st = {.hyp_len = 11, .ref_len = 11, .correct = {9, 7, 5, 3}, .total = {10, 8, 6, 4}};
    bleu_opts_init(&o);
    o.smooth = BLEU_SMOOTH_NONE;
    mb_error_t err;
    assert_int_equal(bleu_score_stats(&st, 1, &o, &r, &err), 0);
    near(r.score, 83.75922397, 5e-7, "compute_bleu"); /* 0.8375922397 in sacreBLEU's test, x100 */

    /* Degenerate statistics with floor smoothing score exactly 0. */
    bleu_stats_t zero = {.hyp_len = 0, .ref_len = 1, .total = {4, 4, 2, 1}};
    bleu_stats_t none = {.hyp_len = 1, .ref_len = 5};
    o.smooth = BLEU_SMOOTH_FLOOR;
    o.smooth_value = 0.01;
    assert_int_equal(bleu_score_stats(&zero, 1, &o, &r, &err), 0);
    assert_true(r.score == 0.0);
    assert_int_equal(bleu_score_stats(&none, 1, &o, &r, &err), 0);
    assert_true(r.score == 0.0);
}

/* ---- tokenizers ---- */

static void tok_is(bleu_tok_t tok, int lc, const char *in, const char *want)
{
    char *got = NULL;
    mb_error_t err = {""};
    if (bleu_tokenize(in, tok, lc, &got, &err))
        fail_msg("bleu_tokenize(%s): %s", in, err.msg);
    if (strcmp(got, want)) {
        free(got);
        fail_msg("tokenize '%s': want '%s'", in, want);
    }
    free(got);
}

static void test_tok_13a(void **state)
{
    (void)state;
    tok_is(BLEU_TOK_13A, 0, "U.S.A.", "U . S . A .");
    tok_is(BLEU_TOK_13A, 0, "A-B 12-3", "A-B 12 - 3");
    tok_is(BLEU_TOK_13A, 0, "3.14 1,000", "3.14 1,000");
    tok_is(BLEU_TOK_13A, 0, "„Hallo“, sagte er.", "„Hallo“ , sagte er .");
    tok_is(BLEU_TOK_13A, 0, "&quot;x&amp;y&lt;z&gt;", "\" x & y < z >");
    tok_is(BLEU_TOK_13A, 0, "price: $5/kg @home #1 ~tilde", "price : $ 5 / kg @ home # 1 ~ tilde");
    tok_is(BLEU_TOK_13A, 0, "don't", "don't");
    /* Python's split(): no-break space and the other Unicode spaces split. */
    tok_is(BLEU_TOK_13A, 0, "a\u00A0b", "a b");
    tok_is(BLEU_TOK_13A, 0, "a\u3000b\u2009c\u1680d\x1c" "e\u202Ff", "a b c d e f");
    /* Replacements run one after the other, as str.replace does. */
    tok_is(BLEU_TOK_13A, 0, "&amp;lt;", "<");
    tok_is(BLEU_TOK_13A, 0, "a<skipped>b", "ab");
    /* Rules apply in turn, each scanning without overlap (values from sacreBLEU). */
    tok_is(BLEU_TOK_13A, 0, "x..y 1.-2", "x . . y 1 . -2");
    tok_is(BLEU_TOK_13A, 1, "Ça VA?", "ça va ?");
    tok_is(BLEU_TOK_13A, 0, "  trailing spaces \t ", "trailing spaces");
}

static void test_tok_none_intl(void **state)
{
    (void)state;
    tok_is(BLEU_TOK_NONE, 0, "  a  b. \t", "  a  b."); /* none returns the rstripped line */
    tok_is(BLEU_TOK_INTL, 0, "Hello, world! 1,000.5 and 3.14.", "Hello , world ! 1,000.5 and 3.14.");
    tok_is(BLEU_TOK_INTL, 0, "€5 ©2020 “quoted” (paren) [x] 2019.",
           "€ 5 © 2020 “ quoted ” ( paren ) [ x ] 2019.");
    tok_is(BLEU_TOK_INTL, 0, "a-b 12-3 U.S.A. don't", "a - b 12-3 U . S . A . don ' t");
    tok_is(BLEU_TOK_INTL, 0, "¿Qué? ¡Sí! «Ça»", "¿ Qué ? ¡ Sí ! « Ça »");
    bleu_tok_t t;
    mb_error_t err;
    assert_int_equal(bleu_tok_from_name("intl", &t, &err), 0);
    assert_int_equal(t, BLEU_TOK_INTL);
    assert_int_equal(bleu_tok_from_name("zh", &t, &err), -1);
}

static void test_lower_and_utf8(void **state)
{
    (void)state;
    /* Python's str.lower(): U+0130 -> i + combining dot; Final_Sigma. */
    tok_is(BLEU_TOK_NONE, 1, "İstanbul", "i\u0307stanbul");
    tok_is(BLEU_TOK_NONE, 1, "ΟΔΟΣ ΟΔΟΣ. Σ ΑΣ\u0301", "οδος οδος. σ ας\u0301");
    tok_is(BLEU_TOK_NONE, 1, "ПРИВЕТ Straße ǅ", "привет straße ǆ");
    char *out = NULL;
    mb_error_t err = {""};
    assert_int_equal(bleu_tokenize("ok \xC3\x28", BLEU_TOK_13A, 0, &out, &err), -1);
    assert_non_null(strstr(err.msg, "invalid UTF-8 at byte 4"));
    assert_int_equal(bleu_tokenize("\xED\xA0\x80", BLEU_TOK_13A, 0, &out, &err), -1); /* surrogate */
    assert_int_equal(bleu_tokenize("\xC0\xAF", BLEU_TOK_13A, 0, &out, &err), -1);     /* overlong */
    assert_int_equal(bleu_utf8_invalid_at("ab\xF4\x90\x80\x80", 6), 2);                 /* > U+10FFFF */
    assert_int_equal(bleu_utf8_invalid_at("a\u00E9\U0001F600", strlen("a\u00E9\U0001F600")), -1);
    assert_true(bleu_is_space(0xA0) && bleu_is_space(0x1F) && bleu_is_space(0x85) && !bleu_is_space(0x200B));
}

/* ---- chrF: sacreBLEU's test_chrf.py and values of sacreBLEU 2.6.0 ---- */

static double chrf1(const char *const *h, const char *const *r, int n, const bleu_chrf_opts_t *o)
{
    const char *const *refs[] = {r};
    bleu_chrf_result_t res;
    mb_error_t err = {""};
    if (bleu_chrf_corpus(h, refs, 1, n, o, &res, &err))
        fail_msg("bleu_chrf_corpus: %s", err.msg);
    return res.score;
}

/* test_chrf.py's tables, with its tolerance (EPSILON = 1e-4): beta 3. */
static void test_chrf_sacrebleu_cases(void **state)
{
    (void)state;
    static const struct { const char *h[2], *r[2]; int n; double eps, eff; } cases[] = {
        {{"abcdefg"}, {"hijklmnop"}, 1, 0.0, -1},
        {{"a"}, {"b"}, 1, 0.0, -1},
        {{""}, {"b"}, 1, 0.0, -1},
        {{""}, {"ref"}, 1, 0.0, -1},
        {{""}, {"reference"}, 1, 0.0, 0.0},
        {{"aa"}, {"ab"}, 1, 8.3333, 25.0},
        {{"a", "b"}, {"a", "c"}, 2, 8.3333, 50.0},
        {{"a"}, {"a"}, 1, 16.6667, 100.0},
        {{"a b c"}, {"a b c"}, 1, 50.0, 100.0},
        {{"a b c"}, {"abc"}, 1, 50.0, 100.0},
        {{""}, {"c"}, 1, -1, 0.0},
        {{" risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists ."},
         {"risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists ."},
         1, 63.361730, -1},
        {{" Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. "},
         {"Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."}, 1, 64.1302698, -1},
        {{"Niemand hat die Absicht, eine Mauer zu errichten"},
         {"Niemand hat die Absicht, eine Mauer zu errichten"}, 1, 100.0, -1},
    };
    bleu_chrf_opts_t o;
    bleu_chrf_opts_init(&o);
    o.beta = 3;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].eps >= 0) {
            o.eps_smoothing = 1;
            near(chrf1(cases[i].h, cases[i].r, cases[i].n, &o), cases[i].eps, 1e-4, cases[i].h[0]);
        }
        if (cases[i].eff >= 0) {
            o.eps_smoothing = 0;
            near(chrf1(cases[i].h, cases[i].r, cases[i].n, &o), cases[i].eff, 1e-4, cases[i].h[0]);
        }
    }
    /* test_cases_keep_whitespace */
    o.eps_smoothing = 0;
    o.whitespace = 1;
    const char *h1 = "Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich.";
    const char *r1 = "Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.";
    near(chrf1(&h1, &r1, 1, &o), 67.3481606, 1e-4, "keep whitespace 1");
    const char *h2 = "risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists .";
    const char *r2 = "risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists .";
    near(chrf1(&h2, &r2, 1, &o), 65.2414427, 1e-4, "keep whitespace 2");
}

static void test_chrf_sentence_and_corpus(void **state)
{
    (void)state;
    static const struct { const char *h, *r; double want; } sent[] = {
        {"Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.",
         "Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře.", 39.14078509},
        {"Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři.",
         "A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři.", 31.22557079},
        {"Lapali po dechu, jejich životy skončily dřív, než skutečně začaly.",
         "Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli.", 57.15704367},
    };
    bleu_chrf_opts_t o;
    bleu_chrf_result_t r;
    mb_error_t err = {""};
    bleu_chrf_opts_init(&o);
    o.eps_smoothing = 1; /* test_chrf.py's sentence cases */
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(bleu_chrf_sentence(sent[i].h, &sent[i].r, 1, &o, &r, &err), 0);
        near(r.score, sent[i].want, 1e-4, sent[i].h); /* test_chrf.py's EPSILON */
    }
    bleu_chrf_opts_init(&o);
    assert_int_equal(bleu_chrf_sentence(RO_HYP, &RO_REF, 1, &o, &r, &err), 0);
    near(r.score, 46.16121170087866, FULL, "Romanian chrF (full)");

    /* sacreBLEU 2.6.0 defaults on the README corpus (full). */
    assert_int_equal(bleu_chrf_corpus(HYPS, BOTH, 2, 3, &o, &r, &err), 0);
    near(r.score, 59.72751782684763, FULL, "chrF two refs (full)");
    char buf[256];
    bleu_chrf_format(&r, 2, 1, buf, sizeof buf);
    assert_string_equal(buf, "chrF2|nrefs:2|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0 = 59.73");
    assert_int_equal(bleu_chrf_corpus(HYPS, BOTH, 1, 3, &o, &r, &err), 0);
    near(r.score, 50.043063606582294, FULL, "chrF one ref (full)");
    o.word_order = 2;
    assert_int_equal(bleu_chrf_corpus(HYPS, BOTH, 2, 3, &o, &r, &err), 0);
    near(r.score, 59.15310444399262, FULL, "chrF++ (full)");
    assert_string_equal(r.name, "chrF2++");
    assert_string_equal(r.signature, "nrefs:2|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0");
}

/* ---- the hash table against naive counting ---- */

/* Naive clipped counts for one line: for each hypothesis n-gram position,
 * count its occurrences in the hypothesis up to here and its max count over
 * the references. O(n^2), fine for short random lines. */
static int count_at(char **tok, int len, char **g, int n)
{
    int c = 0;
    for (int i = 0; i + n <= len; i++) {
        int k = 0;
        while (k < n && !strcmp(tok[i + k], g[k]))
            k++;
        c += k == n;
    }
    return c;
}

static void test_hash_vs_naive(void **state)
{
    (void)state;
    enum { LINES = 200, REFS = 3, MAXLEN = 30 };
    static const char *vocab[] = {"a", "b", "c", "ab", "ba", "d", "é", "Σ"};
    static char text[LINES][REFS + 1][MAXLEN * 4];
    const char *hyps[LINES], *r[REFS][LINES];
    uint64_t seed = 42;
    for (int i = 0; i < LINES; i++)
        for (int s = 0; s <= REFS; s++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            int len = (int)(seed >> 59) % MAXLEN, k = 0;
            text[i][s][0] = '\0';
            for (int w = 0; w < len; w++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                k += sprintf(text[i][s] + k, "%s%s", w ? " " : "", vocab[(seed >> 60) % 8]);
            }
            if (s < REFS)
                r[s][i] = text[i][s];
            else
                hyps[i] = text[i][s];
        }
    const char *const *refs[] = {r[0], r[1], r[2]};
    bleu_opts_t o;
    bleu_opts_init(&o);
    o.tokenize = BLEU_TOK_NONE;
    o.max_order = 5;
    bleu_stats_t per[LINES], sum;
    int nrefs;
    mb_error_t err = {""};
    assert_int_equal(bleu_corpus_stats(hyps, refs, REFS, LINES, &o, per, &sum, &nrefs, &err), 0);
    assert_int_equal(nrefs, REFS);
    for (int i = 0; i < LINES; i++) {
        char buf[REFS + 1][MAXLEN * 4], *tok[REFS + 1][MAXLEN];
        int len[REFS + 1];
        for (int s = 0; s <= REFS; s++) {
            strcpy(buf[s], s < REFS ? r[s][i] : hyps[i]);
            len[s] = 0;
            for (char *save = NULL, *t = strtok_r(buf[s], " ", &save); t; t = strtok_r(NULL, " ", &save))
                tok[s][len[s]++] = t;
        }
        for (int n = 1; n <= 5; n++) {
            int64_t correct = 0, total = 0;
            for (int p = 0; p + n <= len[REFS]; p++) {
                char **g = &tok[REFS][p];
                int seen = count_at(tok[REFS], p + n - 1, g, n) + 1, best = 0; /* this one included */
                for (int s = 0; s < REFS; s++) {
                    int c = count_at(tok[s], len[s], g, n);
                    best = c > best ? c : best;
                }
                total++;
                correct += seen <= best;
            }
            assert_int_equal(per[i].correct[n - 1], correct);
            assert_int_equal(per[i].total[n - 1], total);
        }
    }
}

/* ---- errors and options ---- */

static void test_errors_and_options(void **state)
{
    (void)state;
    bleu_opts_t o;
    bleu_opts_init(&o);
    mb_error_t err = {""};
    assert_int_equal(bleu_smooth_parse("add-k:2", &o, &err), 0);
    assert_int_equal(o.smooth, BLEU_SMOOTH_ADD_K);
    near(o.smooth_value, 2.0, 0, "add-k value");
    assert_int_equal(bleu_smooth_parse("floor", &o, &err), 0);
    assert_true(o.smooth == BLEU_SMOOTH_FLOOR && o.smooth_value < 0);
    assert_int_equal(bleu_smooth_parse("exp:1", &o, &err), -1);
    assert_int_equal(bleu_smooth_parse("floor:x", &o, &err), -1);
    assert_int_equal(bleu_smooth_parse("laplace", &o, &err), -1);
    assert_non_null(strstr(err.msg, "laplace"));

    bleu_opts_init(&o);
    bleu_result_t r;
    const char *bad[] = {"ok", "bad \xFF"};
    const char *const *refs[] = {REF1};
    assert_int_equal(bleu_corpus(bad, refs, 1, 2, &o, &r, &err), -1);
    assert_non_null(strstr(err.msg, "hypothesis line 2"));
    const char *nul[] = {NULL, "x"};
    const char *const *norefs[] = {nul};
    assert_int_equal(bleu_corpus(HYPS, norefs, 1, 1, &o, &r, &err), -1);
    assert_non_null(strstr(err.msg, "line 1 has no reference"));
    assert_int_equal(bleu_corpus(HYPS, refs, 1, 0, &o, &r, &err), -1);
    o.max_order = 0;
    assert_int_equal(bleu_corpus(HYPS, refs, 1, 3, &o, &r, &err), -1);
    bleu_chrf_opts_t co;
    bleu_chrf_opts_init(&co);
    co.char_order = 0;
    bleu_chrf_result_t cr;
    assert_int_equal(bleu_chrf_corpus(HYPS, refs, 1, 3, &co, &cr, &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_two_refs),
        cmocka_unit_test(test_corpus_one_ref),
        cmocka_unit_test(test_corpus_tokenizers),
        cmocka_unit_test(test_corpus_max_order),
        cmocka_unit_test(test_corpus_empty_hyps),
        cmocka_unit_test(test_corpus_variable_refs),
        cmocka_unit_test(test_corpus_lowercase),
        cmocka_unit_test(test_sentence_smoothing),
        cmocka_unit_test(test_sacrebleu_raw_and_stats),
        cmocka_unit_test(test_tok_13a),
        cmocka_unit_test(test_tok_none_intl),
        cmocka_unit_test(test_lower_and_utf8),
        cmocka_unit_test(test_chrf_sacrebleu_cases),
        cmocka_unit_test(test_chrf_sentence_and_corpus),
        cmocka_unit_test(test_hash_vs_naive),
        cmocka_unit_test(test_errors_and_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
