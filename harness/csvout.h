/* csvout: the results CSV (schema in results/README.md): its columns, and
 * writing rows safely: the target is checked before anything is measured
 * (mb_output_check), rows go to FILE.tmp one whole row per write, a row that
 * fails part-way (disk full) is cut off again, and FILE.tmp is renamed to
 * FILE when complete, so no reader ever sees a half-written file or a torn
 * row. Fields that need quoting are written with Debian's libcsv (csv_fwrite). */
#ifndef CSVOUT_H
#define CSVOUT_H

#include <stdio.h>

#include "common/mb_error.h"
#include "common/mb_schema.h"

#define CSVOUT_SCHEMA_VERSION MB_SCHEMA_VERSION
#define CSVOUT_COLUMNS MB_SCHEMA_COLUMNS

enum {
#define CSVOUT_ENUM(name) CSV_##name,
    CSVOUT_COLUMNS(CSVOUT_ENUM)
#undef CSVOUT_ENUM
    CSV_NCOLS
};

extern const char *const csvout_names[CSV_NCOLS];

typedef struct csvout_row {
    char cell[CSV_NCOLS][160];   /* empty string = empty cell */
} csvout_row_t;

void csvout_clear(csvout_row_t *r);
void csvout_set(csvout_row_t *r, int col, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Writes one field to f, quoted (libcsv) only when it must be; 0 or -1. */
int csvout_field(FILE *f, const char *s);

typedef struct csvout csvout_t;

/* Checks PATH (not empty, not a directory or device, its folder writable),
 * creates PATH.tmp and writes the header. */
int csvout_open(const char *path, csvout_t **out, mb_error_t *err);
int csvout_write(csvout_t *c, const csvout_row_t *r, mb_error_t *err);
/* Completes the file: fsync, rename PATH.tmp -> PATH. After a failed write
 * the file holds the complete rows only. When the rename fails, PATH.tmp is
 * kept and the message says so. */
int csvout_close(csvout_t *c, mb_error_t *err);
/* Gives up: removes PATH.tmp. */
void csvout_abort(csvout_t *c);
int csvout_rows(const csvout_t *c);

#endif
