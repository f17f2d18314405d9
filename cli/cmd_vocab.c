/* cmd_vocab: `moebench vocab train|encode|decode|info`: SentencePiece
 * vocabularies for scripts: training one joint vocabulary, text <-> pieces
 * or ids, and what a vocabulary holds. A vocabulary is a .model file or a
 * model file that carries one. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mb_parse.h"
#include "cli/cli.h"
#include "models/model.h"
#include "vocab/vocab.h"

static void help(void)
{
    printf("usage: moebench vocab train --langs L1,L2,... --data DIR|FILE... --size N -o VOCAB.model [options]\n"
           "       moebench vocab encode VOCAB [--ids] < TEXT > PIECES\n"
           "       moebench vocab decode VOCAB [--pieces] < IDS > TEXT\n"
           "       moebench vocab info VOCAB\n\n"
           "VOCAB is a SentencePiece .model file or a model file (.safetensors) that carries one.\n"
           "Ids: pad 0, BOS 1, EOS 2, UNK 3, then the language tags <2xx> in sorted order (the ids the\n"
           "engine gives them), then 256 byte pieces (so any UTF-8 text round-trips), then the pieces.\n\n"
           "train: one joint vocabulary over all languages, the languages sampled with temperature T\n"
           "(p_l proportional to (n_l/N)^(1/T), as the paper's 64k vocabulary with T = 5).\n"
           "  --langs LIST          languages, e.g. en,de,fr,cs (each gets a tag <2xx>)\n"
           "  --data DIR|FILE...    text, one sentence per line, plain or gzip; a file's language is its\n"
           "                        last suffix (train.de.gz is de); a DIR gives its train.LANG[.gz] files\n"
           "                        (or those of DIR/multi30k, as in ../shared/data)\n"
           "  --size N              vocabulary size, special ids, tags and byte pieces included\n"
           "  --type T              unigram (default) | bpe\n"
           "  --sample-temperature T  language sampling temperature (default 5; 1 = proportional)\n"
           "  --max-sentences N     sampled training sentences (default: as many as the data has)\n"
           "  --seed N              seed of the sampling (default 1); same data + options + seed = same file\n"
           "  --threads N           trainer threads (default 2)\n"
           "  --verbose             SentencePiece's own log on stderr\n"
           "  -o, --output FILE     the .model file (written to a temporary file, then renamed)\n"
           "encode: one line of text in, one line of space-separated pieces (or --ids) out.\n"
           "decode: one line of ids (or --pieces) in, one line of text out; pad, BOS, EOS and tags are\n"
           "        skipped.\n");
}

/* A .model file, or the vocabulary inside a model file. */
static int open_vocab(const char *path, vocab_t **v, mb_error_t *err)
{
    unsigned char head[9];
    FILE *f = fopen(path, "rb");
    if (!f)
        return mb_fail(err, "%s: cannot open: %s", path, strerror(errno));
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    if (got == sizeof head && head[8] == '{') { /* safetensors: 8-byte header length, then JSON */
        model_config_t cfg;
        uint8_t *blob;
        size_t len;
        if (model_load_config(path, &cfg, err) || model_load_vocab(path, &blob, &len, err))
            return -1;
        if (!blob)
            return mb_fail(err, "%s: the model carries no vocabulary; make it with 'moebench init --vocab "
                                "FILE.model'", path);
        int rc = vocab_for_config(blob, len, &cfg, path, v, err);
        free(blob);
        return rc;
    }
    return vocab_load(path, v, err);
}

/* ---- train ---- */

static int lang_index(const char langs[][MODEL_NAME_LEN], int n, const char *lang)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(langs[i], lang))
            return i;
    return -1;
}

/* The language of "train.de.gz" ("de"). */
static void file_lang(const char *path, char *lang)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char name[256];
    snprintf(name, sizeof name, "%s", base);
    size_t n = strlen(name);
    if (n > 3 && !strcmp(name + n - 3, ".gz"))
        name[n - 3] = '\0';
    const char *dot = strrchr(name, '.');
    snprintf(lang, MODEL_NAME_LEN, "%s", dot ? dot + 1 : "");
}

typedef struct files {
    int n;
    char *path[256];
    int lang[256];
} files_t;

static int add_file(files_t *fs, const char *path, int lang, mb_error_t *err)
{
    if (fs->n == 256)
        return mb_fail(err, "vocab train: more than 256 data files; concatenate some");
    if (!(fs->path[fs->n] = strdup(path)))
        return mb_fail(err, "vocab train: out of memory");
    fs->lang[fs->n++] = lang;
    return 0;
}

/* DIR: its train.LANG[.gz] files, or those of DIR/multi30k. */
static int add_dir(files_t *fs, const char *dir, const vocab_train_opts_t *o, mb_error_t *err)
{
    static const char *const subs[] = {"", "/multi30k"};
    for (int s = 0; s < 2; s++) {
        int found = 0;
        for (int l = 0; l < o->n_langs; l++)
            for (int gz = 0; gz < 2; gz++) {
                char path[4096];
                snprintf(path, sizeof path, "%s%s/train.%s%s", dir, subs[s], o->langs[l], gz ? ".gz" : "");
                if (access(path, R_OK) == 0) {
                    if (add_file(fs, path, l, err))
                        return -1;
                    found++;
                }
            }
        if (found)
            return 0;
    }
    return mb_fail(err, "%s: no train.LANG or train.LANG.gz files in it (nor in %s/multi30k); give the text "
                        "files themselves, e.g. --data corpus.en corpus.de", dir, dir);
}

static int add_data(files_t *fs, const char *arg, const vocab_train_opts_t *o, mb_error_t *err)
{
    struct stat st;
    if (stat(arg, &st) != 0)
        return mb_fail(err, "%s: cannot read: %s", arg, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return add_dir(fs, arg, o, err);
    char lang[MODEL_NAME_LEN];
    file_lang(arg, lang);
    int l = lang_index(o->langs, o->n_langs, lang);
    if (l < 0)
        return mb_fail(err, "%s: its language '%s' (the last suffix of the name) is not in --langs; leave the file "
                            "out or add the language", arg, lang);
    return add_file(fs, arg, l, err);
}

static int cmp_lang(const void *a, const void *b)
{
    return strcmp(a, b);
}

static int vocab_train_cmd(int argc, char **argv)
{
    static const struct option opts[] = {
        {"langs", required_argument, 0, 'l'},   {"data", required_argument, 0, 'd'},
        {"size", required_argument, 0, 's'},    {"type", required_argument, 0, 't'},
        {"sample-temperature", required_argument, 0, 'T'}, {"seed", required_argument, 0, 'S'},
        {"max-sentences", required_argument, 0, 'm'}, {"threads", required_argument, 0, 'j'},
        {"verbose", no_argument, 0, 'v'},       {"output", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    vocab_train_opts_t o;
    memset(&o, 0, sizeof o);
    o.type = "unigram";
    o.temperature = 5;
    o.seed = 1;
    o.threads = 2;
    const char *langs = NULL, *out = NULL, *data[256];
    int n_data = 0, c;
    long v;
    double f;
    mb_error_t err;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'l': langs = optarg; break;
        case 'd':
            if (n_data < 256)
                data[n_data++] = optarg;
            break;
        case 's': bad = mb_parse_long("--size", optarg, 1, 1 << 22, &v, &err); o.size = (int)v; break;
        case 't': o.type = optarg; break;
        case 'T': bad = mb_parse_double("--sample-temperature", optarg, 0.01, 1000, &f, &err); o.temperature = f; break;
        case 'S': bad = mb_parse_long("--seed", optarg, 0, 0x7fffffffL, &v, &err); o.seed = (uint64_t)v; break;
        case 'm': bad = mb_parse_long("--max-sentences", optarg, 1, 1L << 40, &o.max_sentences, &err); break;
        case 'j': bad = mb_parse_long("--threads", optarg, 1, 256, &v, &err); o.threads = (int)v; break;
        case 'v': o.verbose = 1; break;
        case 'o': out = optarg; break;
        case 'h': help(); return 0;
        default: return cli_bad_option("vocab train", c, argv, optind, optopt);
        }
        if (bad)
            return cli_error(&err);
    }
    for (int i = optind; i < argc && n_data < 256; i++) /* --data a.en b.de: the rest are files too */
        data[n_data++] = argv[i];
    if (!langs || !n_data || !o.size || !out)
        return cli_errorf("vocab train: --langs, --data, --size and -o are all needed; see 'moebench vocab --help'");
    if (strcmp(o.type, "unigram") && strcmp(o.type, "bpe"))
        return cli_errorf("vocab train: --type '%s' is not unigram or bpe", o.type);
    for (const char *p = langs; *p;) {
        size_t n = strcspn(p, ",");
        if (n == 0 || n >= MODEL_NAME_LEN || o.n_langs == MODEL_MAX_LANGS)
            return cli_errorf("vocab train: --langs '%s' must be up to %d comma-separated language codes", langs,
                              MODEL_MAX_LANGS);
        snprintf(o.langs[o.n_langs++], MODEL_NAME_LEN, "%.*s", (int)n, p);
        p += n + (p[n] == ',');
    }
    qsort(o.langs, (size_t)o.n_langs, sizeof o.langs[0], cmp_lang);
    for (int i = 1; i < o.n_langs; i++)
        if (!strcmp(o.langs[i - 1], o.langs[i]))
            return cli_errorf("vocab train: --langs names %s twice", o.langs[i]);
    files_t fs = {0};
    int rc = 0;
    for (int i = 0; i < n_data && rc == 0; i++)
        rc = add_data(&fs, data[i], &o, &err);
    vocab_t *voc = NULL;
    vocab_train_report_t rep;
    if (rc == 0) {
        o.n_files = fs.n;
        o.files = (const char *const *)fs.path;
        o.file_lang = fs.lang;
        rc = vocab_train(&o, &voc, &rep, &err);
    }
    if (rc == 0)
        rc = vocab_save(voc, out, &err);
    if (rc == 0) {
        fprintf(stderr, "moebench: wrote %s (%s, %d pieces, temperature %g):", out, vocab_type(voc), vocab_size(voc),
                o.temperature);
        for (int l = 0; l < o.n_langs; l++)
            fprintf(stderr, " %s %ld of %ld lines (p %.3f)%s", o.langs[l], rep.sampled[l], rep.lines[l], rep.prob[l],
                    l + 1 < o.n_langs ? "," : "\n");
    }
    vocab_free(voc);
    for (int i = 0; i < fs.n; i++)
        free(fs.path[i]);
    return rc ? cli_error(&err) : 0;
}

/* ---- encode / decode / info ---- */

static int vocab_io_cmd(int argc, char **argv, int encode)
{
    static const struct option opts[] = {{"ids", no_argument, 0, 'i'}, {"pieces", no_argument, 0, 'p'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int ids = 0, pieces = 0, c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'i': ids = 1; break;
        case 'p': pieces = 1; break;
        case 'h': help(); return 0;
        default: return cli_bad_option(encode ? "vocab encode" : "vocab decode", c, argv, optind, optopt);
        }
    }
    if (optind != argc - 1)
        return cli_errorf("vocab %s: give exactly one vocabulary (.model or model file)", argv[0]);
    if (encode ? pieces : ids)
        return cli_errorf("vocab %s: %s is the other direction's option (encode --ids, decode --pieces)", argv[0],
                          encode ? "--pieces" : "--ids");
    mb_error_t err;
    vocab_t *v;
    if (open_vocab(argv[optind], &v, &err))
        return cli_error(&err);
    char *line = NULL, *text = NULL;
    size_t cap = 0;
    ssize_t got;
    long lineno = 0;
    int rc = 0;
    while (rc == 0 && (got = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = '\0';
        if (encode && ids) {
            int *out, n;
            if ((rc = vocab_encode(v, line, (size_t)got, &out, &n, &err)) == 0) {
                for (int i = 0; i < n; i++)
                    printf(i ? " %d" : "%d", out[i]);
                putchar('\n');
                free(out);
            }
        } else if (encode) {
            char **out;
            int n;
            if ((rc = vocab_encode_pieces(v, line, (size_t)got, &out, &n, &err)) == 0) {
                for (int i = 0; i < n; i++)
                    printf(i ? " %s" : "%s", out[i]);
                putchar('\n');
                vocab_pieces_free(out, n);
            }
        } else {
            /* split at spaces: pieces carry SentencePiece's ▁, never a space */
            char *tok[4096];
            int n = 0, idv[4096];
            for (char *save = NULL, *p = strtok_r(line, " \t", &save); p && rc == 0; p = strtok_r(NULL, " \t", &save)) {
                if (n == 4096)
                    rc = mb_fail(&err, "more than 4096 tokens on one line");
                else if (pieces)
                    tok[n++] = p;
                else {
                    char *end;
                    errno = 0;
                    long x = strtol(p, &end, 10);
                    if (*end || errno || x < 0 || x > 0x7fffffff)
                        rc = mb_fail(&err, "'%.20s' is not a token id; give space-separated ids (or --pieces)", p);
                    idv[n++] = (int)x;
                }
            }
            if (rc == 0)
                rc = pieces ? vocab_decode_pieces(v, (const char *const *)tok, n, &text, &err)
                            : vocab_decode(v, idv, n, &text, &err);
            if (rc == 0)
                puts(text);
            free(text);
            text = NULL;
        }
        if (rc)
            mb_prefix(&err, "stdin:%ld: ", lineno);
    }
    free(line);
    vocab_free(v);
    if (rc == 0 && fflush(stdout) != 0)
        rc = mb_fail(&err, "vocab %s: writing stdout failed", argv[0]);
    return rc ? cli_error(&err) : 0;
}

static int vocab_info_cmd(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        help();
        return 0;
    }
    if (argc != 2)
        return cli_errorf("vocab info: give exactly one vocabulary (.model or model file)");
    mb_error_t err;
    vocab_t *v;
    if (open_vocab(argv[1], &v, &err))
        return cli_error(&err);
    const void *blob;
    size_t len;
    vocab_blob(v, &blob, &len);
    printf("vocabulary %s (%zu bytes)\n", argv[1], len);
    printf("type       %s\n", vocab_type(v));
    printf("size       %d pieces: pad 0, BOS 1, EOS 2, UNK 3%s\n", vocab_size(v),
           vocab_byte_fallback(v) ? ", byte fallback (every UTF-8 text round-trips)" : "");
    printf("tags       ");
    for (int i = 0; i < vocab_n_tags(v); i++)
        printf("%s<2%s> %d", i ? ", " : "", vocab_tag_lang(v, i), MODEL_FIRST_TAG + i);
    printf("%s\n", vocab_n_tags(v) ? "" : "none");
    vocab_free(v);
    return 0;
}

int cmd_vocab(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        if (argc < 2) {
            help();
            return 2;
        }
        help();
        return 0;
    }
    if (!strcmp(argv[1], "train"))
        return vocab_train_cmd(argc - 1, argv + 1);
    if (!strcmp(argv[1], "encode"))
        return vocab_io_cmd(argc - 1, argv + 1, 1);
    if (!strcmp(argv[1], "decode"))
        return vocab_io_cmd(argc - 1, argv + 1, 0);
    if (!strcmp(argv[1], "info"))
        return vocab_info_cmd(argc - 1, argv + 1);
    return cli_errorf("vocab: unknown action '%s'; use train, encode, decode or info", argv[1]);
}
