/* train_run: the training run that `moebench train` and `moebench distill`
 * share: the options (data, optimisation, records), checkpoints, --resume,
 * validation, the curve CSV, progress on stderr, and the loop itself. The
 * commands differ only in where the model and its targets come from, which
 * they say through train_hooks_t. Command-line code: it prints progress. */
#ifndef CLI_TRAIN_RUN_H
#define CLI_TRAIN_RUN_H

#include "backends/backend.h"
#include "harness/model_args.h"
#include "models/model.h"
#include "train/trn_data.h"

typedef struct targs {
    const char *train, *valid, *vocab_file, *directions, *langs, *out, *resume, *curve, *backend, *init_from;
    int ids, bench, decay, sampling; /* decay: TRN_DECAY_*; sampling: TRN_SAMPLE_* */
    int steps_given;           /* --steps was on the command line (else a resume keeps the checkpoint's) */
    long steps, warmup, batch_tokens, max_len, max_lines, valid_lines, seed, threads, log_every, valid_every,
        stop_after, bench_steps, bleu_lines;
    double lr, clip, wd, dropout, ls, aux, cf, temperature, ckpt_minutes;
} targs_t;

/* getopt_long entries of the shared options; codes from 2000 (model_args: 1000). */
enum {
    O_TRAIN = 2000, O_VALID, O_IDS, O_VOCABF, O_DIRS, O_LANGS, O_TEMP, O_BATCH, O_MAXLEN, O_MAXLINES, O_VLINES,
    O_STEPS, O_LR, O_WARMUP, O_CLIP, O_WD, O_DROP, O_LS, O_AUX, O_CF, O_SEED, O_BACKEND, O_THREADS, O_CKPTMIN,
    O_RESUME, O_STOP, O_CURVE, O_LOG, O_VEVERY, O_BENCH, O_BSTEPS, O_BLEU, O_INITFROM, O_DECAY, O_SAMPLING
};
#define TRAIN_LONGOPTS                                                                                          \
    {"train", 1, 0, O_TRAIN}, {"valid", 1, 0, O_VALID}, {"ids", 0, 0, O_IDS}, {"vocab-file", 1, 0, O_VOCABF},    \
    {"directions", 1, 0, O_DIRS}, {"langs", 1, 0, O_LANGS}, {"temperature", 1, 0, O_TEMP},                      \
    {"batch-tokens", 1, 0, O_BATCH}, {"max-len", 1, 0, O_MAXLEN}, {"max-lines", 1, 0, O_MAXLINES},              \
    {"valid-lines", 1, 0, O_VLINES}, {"steps", 1, 0, O_STEPS}, {"lr", 1, 0, O_LR}, {"warmup", 1, 0, O_WARMUP},  \
    {"clip", 1, 0, O_CLIP}, {"weight-decay", 1, 0, O_WD}, {"dropout", 1, 0, O_DROP},                            \
    {"label-smoothing", 1, 0, O_LS}, {"aux-weight", 1, 0, O_AUX}, {"train-capacity-factor", 1, 0, O_CF},        \
    {"seed", 1, 0, O_SEED}, {"backend", 1, 0, O_BACKEND}, {"threads", 1, 0, O_THREADS},                         \
    {"checkpoint-minutes", 1, 0, O_CKPTMIN}, {"resume", 1, 0, O_RESUME}, {"stop-after", 1, 0, O_STOP},          \
    {"curve", 1, 0, O_CURVE}, {"log-every", 1, 0, O_LOG}, {"valid-every", 1, 0, O_VEVERY},                      \
    {"bleu-lines", 1, 0, O_BLEU}, {"decay", 1, 0, O_DECAY}, {"sampling", 1, 0, O_SAMPLING}

/* Data, optimisation and records options, for --help texts. */
extern const char TRAIN_OPTS_HELP[];

void train_defaults(targs_t *a);
/* 1 when option code c was one of the shared ones (and parsed), 0 when not, -1 on a bad value. */
int train_parse_opt(targs_t *a, int c, const char *arg, mb_error_t *err);

typedef struct train_hooks {
    void *ctx;
    /* Builds the model of a new run (not called on --resume); NULL: ma's
     * config with random weights of the seed (then --init-from, if given). */
    int (*make_model)(void *ctx, model_args_t *ma, targs_t *a, model_t **m, mb_error_t *err);
    /* Called once the training corpus is read, with the backend open (also
     * on --resume): distillation adds each direction's teacher targets here. */
    int (*corpus)(void *ctx, trn_corpus_t *tc, be_t *be, const model_t *m, const targs_t *a, mb_error_t *err);
} train_hooks_t;

/* The run; 0 done, -1 failed (err), or 128 + signal when interrupted. */
int train_run(model_args_t *ma, targs_t *a, const train_hooks_t *h, mb_error_t *err);

/* --directions all over --langs: every ordered pair, comma-separated into out. */
int train_all_pairs(const char *langs, char *out, size_t len, mb_error_t *err);

/* Starts m from `from` (trn_init_from) and says on stderr what was copied,
 * averaged and left fresh; `name` is from's file for messages. */
int train_init_from(model_t *m, const model_t *from, const char *name, mb_error_t *err);

#endif
