/* cmd_export: `moebench export`: a model file in another engine's format, so
 * that engine can run the same weights on the same inputs (docs/ctranslate2.md).
 * One format so far: a CTranslate2 model directory (models/export_ct2). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/mb_parse.h"
#include "models/export_ct2.h"
#include "models/model.h"
#include "vocab/vocab.h"

static void help(void)
{
    printf("usage: moebench export MODEL.safetensors --format ctranslate2 -o DIR [--max-positions N]\n\n"
           "Writes the model as a CTranslate2 model directory (model.bin, config.json,\n"
           "shared_vocabulary.json, moebench.json; sentencepiece.model when the model carries a\n"
           "vocabulary) that CTranslate2 4.x loads and that computes what moebench computes, for\n"
           "comparisons on the same weights (scripts/ct2-peer.py runs both and checks that their\n"
           "greedy outputs agree; docs/ctranslate2.md).\n\n"
           "Dense models (dense, student) convert exactly, and so do task sub-networks whose every MoE\n"
           "layer is fixed (each becomes one dense FFN of top_k * d_ff with the gate weights folded\n"
           "in). Token- and sentence-routed MoE layers, and a full task-moe model, are refused: the\n"
           "CTranslate2 Transformer cannot choose experts. The vocabulary is the model's SentencePiece\n"
           "pieces, or the ids as strings (\"0\", \"1\", ...) for a model without one, so that --ids input\n"
           "is fed to CTranslate2 as tokens. A source is the <2xx> tag token, the words and EOS (\"2\"),\n"
           "as moebench builds it; moebench.json names the tag token of each task.\n\n"
           "  --format ctranslate2  the format (the only one so far)\n"
           "  -o, --output DIR      the model directory to create: absent or empty; never overwritten.\n"
           "                        Written as DIR.tmp-XXXXXX and renamed when complete\n"
           "  --max-positions N     rows of the position table (default %d, at most %d): CTranslate2\n"
           "                        refuses source or output sequences longer than N tokens\n\n%s",
           CT2_DEFAULT_POSITIONS, CT2_MAX_POSITIONS, CLI_EXIT_HELP);
}

/* One string per id: the model's pieces, or the ids in decimal. *store holds
 * the decimal strings (free it), *voc the vocabulary (vocab_free). */
static int token_strings(const model_t *m, const char *path, const char ***out, char **store, vocab_t **voc,
                         mb_error_t *err)
{
    const int V = m->cfg.vocab;
    const char **tok = malloc(sizeof *tok * (size_t)V);
    *store = NULL;
    *voc = NULL;
    if (!tok)
        return mb_fail(err, "export: out of memory for %d tokens", V);
    if (m->vocab_blob) {
        if (vocab_for_config(m->vocab_blob, m->vocab_len, &m->cfg, path, voc, err) != 0) {
            free(tok);
            return -1;
        }
        for (int i = 0; i < V; i++)
            tok[i] = vocab_piece(*voc, i);
    } else {
        char *s = malloc((size_t)V * 12);
        if (!s) {
            free(tok);
            return mb_fail(err, "export: out of memory for %d tokens", V);
        }
        for (int i = 0; i < V; i++) {
            snprintf(s + (size_t)i * 12, 12, "%d", i);
            tok[i] = s + (size_t)i * 12;
        }
        *store = s;
    }
    *out = tok;
    return 0;
}

int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, 0, 'f'},
                                         {"output", required_argument, 0, 'o'},
                                         {"max-positions", required_argument, 0, 'P'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *format = NULL, *out = NULL;
    long positions = CT2_DEFAULT_POSITIONS;
    int c;
    mb_error_t err;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":f:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f': format = optarg; break;
        case 'o': out = optarg; break;
        case 'P':
            if (mb_parse_long("--max-positions", optarg, 1, CT2_MAX_POSITIONS, &positions, &err) != 0)
                return cli_usage(&err);
            break;
        case 'h': help(); return 0;
        default: return cli_bad_option("export", c, argv, optind, optopt);
        }
    }
    if (optind != argc - 1)
        return cli_usagef("export: give exactly one model file; see 'moebench export --help'");
    if (!format || !out)
        return cli_usagef("export: both --format ctranslate2 and -o DIR are needed; see 'moebench export --help'");
    if (strcmp(format, "ctranslate2") != 0)
        return cli_usagef("export: unknown format '%s'; the one format is ctranslate2", format);
    const char *path = argv[optind];
    if (ct2_output_check(out, &err) != 0) /* before the model is read */
        return cli_error(&err);
    model_t *m;
    if (model_load(path, &m, &err) != 0)
        return cli_error(&err);
    if (ct2_exportable(m, &err) != 0) {
        mb_prefix(&err, "%s: ", path);
        model_free(m);
        return cli_error(&err);
    }
    const char **tok = NULL;
    char *store = NULL;
    vocab_t *voc = NULL;
    int rc = token_strings(m, path, &tok, &store, &voc, &err);
    if (rc == 0) {
        ct2_export_opts_t o = {.tokens = tok, .vocab_kind = voc ? "sentencepiece" : "ids",
                               .spm = m->vocab_blob, .spm_len = m->vocab_len,
                               .max_positions = (int)positions, .source = path};
        rc = ct2_export(m, &o, out, &err);
    }
    if (rc == 0) {
        int merged = 0;
        for (int i = 0; i < m->cfg.enc_layers; i++)
            merged += m->enc[i].is_moe;
        for (int i = 0; i < m->cfg.dec_layers; i++)
            merged += m->dec[i].is_moe;
        char extra[80] = "";
        if (merged)
            snprintf(extra, sizeof extra, ", %d fixed MoE layer%s merged into dense FFNs", merged,
                     merged == 1 ? "" : "s");
        fprintf(stderr, "moebench: wrote %s (CTranslate2 TransformerSpec, %s %s, %d+%d layers%s; vocabulary: %s)\n",
                out, m->cfg.preset, m->cfg.variant, m->cfg.enc_layers, m->cfg.dec_layers, extra,
                voc ? "SentencePiece pieces" : "ids as tokens");
    }
    vocab_free(voc);
    free(store);
    free(tok);
    model_free(m);
    return rc ? cli_error(&err) : 0;
}
