/* cmd_bleu: what `moebench bleu` (cmd_bleu.c) shares with its paired
 * bootstrap (`--paired-bs`, cmd_bleu_boot.c): reading a text file into lines
 * and the parsed options. Private to the two command files. */
#ifndef CMD_BLEU_H
#define CMD_BLEU_H

#include <stdint.h>

#include "common/mb_error.h"
#include "quality/bleu.h"

/* One input file's lines: NUL-terminated strings into one buffer. */
typedef struct lines {
    const char *name;
    char *buf;
    char **line;
    int n;
} lines_t;

/* Reads PATH ("-" = stdin) as UTF-8 lines, as Python's file iteration
 * splits them; errors name the file and line. */
int bleu_lines_read(lines_t *l, const char *path, mb_error_t *err);
void bleu_lines_free(lines_t *l);

#define BLEU_CLI_MAX_REFS 16

typedef struct bleu_cli {
    bleu_opts_t bleu;
    bleu_chrf_opts_t chrf;
    int chrf_mode, sentence, json, width;
    /* --paired-bs */
    int paired, resamples, metrics; /* metrics: 1 BLEU, 2 chrF, 3 both */
    uint64_t seed;
    const char *refs[BLEU_CLI_MAX_REFS];
    int n_refs;
    const char *csv, *names, *label;
} bleu_cli_t;

/* `moebench bleu --paired-bs SYSTEM... --ref REF`: systems[0] is the
 * baseline; returns the exit status. */
int cmd_bleu_paired(const bleu_cli_t *c, char **systems, int n_systems);

#endif
