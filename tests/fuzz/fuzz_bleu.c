/* fuzz_bleu: BLEU and chrF with their tokenizers on arbitrary lines. The
 * first byte picks the options (tokenizer, lower-casing, orders, smoothing);
 * the rest is split at the first NUL into hypothesis and reference text,
 * then into lines; invalid UTF-8 is refused first, as `moebench bleu` does. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "quality/bleu.h"

/* lines of text[0, len): NUL-terminated in place; returns the count */
static int split(char *text, size_t len, const char **line, int max)
{
    int n = 0;
    size_t s = 0;
    while (s <= len && n < max) {
        char *nl = memchr(text + s, '\n', len - s);
        size_t e = nl ? (size_t)(nl - text) : len;
        text[e] = '\0';
        line[n++] = text + s;
        if (!nl)
            break;
        s = e + 1;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned opt = data[0];
    data++;
    size--;
    const uint8_t *zero = memchr(data, 0, size);
    size_t hl = zero ? (size_t)(zero - data) : size, rl = zero ? size - hl - 1 : 0;
    const char *hs = (const char *)data, *rs = zero ? (const char *)zero + 1 : "";
    if (bleu_utf8_invalid_at(hs, hl) >= 0 || bleu_utf8_invalid_at(rs, rl) >= 0 || memchr(rs, 0, rl))
        return 0;
    char *h = malloc(hl + 1), *r = malloc(rl + 1);
    if (!h || !r) {
        free(h);
        free(r);
        return 0;
    }
    memcpy(h, hs, hl);
    memcpy(r, rs, rl);
    h[hl] = r[rl] = '\0';
    const char *hyp[64], *ref[64];
    int nh = split(h, hl, hyp, 64), nr = split(r, rl, ref, 64);
    int n = nh < nr ? nh : nr;
    for (int i = n; i < nh; i++) /* a missing reference line: NULL, as for nrefs:var */
        ref[i] = NULL;
    n = nh;
    const char *const *refs[1] = {ref};
    mb_error_t err;

    bleu_opts_t b;
    bleu_opts_init(&b);
    b.tokenize = (bleu_tok_t)(opt % 3);
    b.lowercase = (opt >> 2) & 1;
    b.smooth = (bleu_smooth_t)((opt >> 3) & 3);
    b.max_order = 1 + (int)((opt >> 5) & 7);
    b.effective_order = opt & 1;
    bleu_result_t br;
    bleu_corpus(hyp, refs, 1, n, &b, &br, &err);
    if (n > 0)
        bleu_sentence(hyp[0], (const char *const *)ref, ref[0] ? 1 : 0, &b, &br, &err);

    bleu_chrf_opts_t c;
    bleu_chrf_opts_init(&c);
    c.word_order = (opt >> 4) & 2;
    c.lowercase = (opt >> 2) & 1;
    c.whitespace = (opt >> 6) & 1;
    c.eps_smoothing = opt >> 7;
    bleu_chrf_result_t cr;
    bleu_chrf_corpus(hyp, refs, 1, n, &c, &cr, &err);

    char *tok = NULL;
    if (n > 0 && bleu_tokenize(hyp[0], b.tokenize, b.lowercase, &tok, &err) == 0)
        free(tok);
    free(h);
    free(r);
    return 0;
}
