/* csvin: reads a whole CSV file (a results CSV; see results/README.md) into
 * memory with Debian's libcsv: the header row becomes the column names, every
 * other row a row of strings. Errors name the file and, where it helps, the
 * line: unreadable file, empty file, malformed quoting, duplicate column
 * names, a row with a different number of fields than the header, more
 * than CSVIN_MAX_COLS fields in a row.
 *
 * Owns only parsing and lookup; what the columns mean is the caller's
 * business (compare.c). Writing CSV files is csvout's job, not this one. */
#ifndef CSVIN_H
#define CSVIN_H

#include <stddef.h>

#include "common/mb_error.h"

/* Fields in a row: more is refused at once, whatever the file size. */
#define CSVIN_MAX_COLS 4096

typedef struct csvin {
    char *name;     /* the path (or name) given to csvin_read / csvin_parse */
    size_t ncols;   /* columns in the header */
    size_t nrows;   /* data rows (blank lines are skipped) */
    char **header;  /* [ncols] column names */
    char **cell;    /* [nrows * ncols] row-major; an empty cell is "" */
    size_t *line;   /* [nrows] the line of the file on which each row ends */
} csvin_t;

/* Reads PATH. Returns 0 and a table to csvin_free, or -1 with "PATH: ..." or
 * "PATH:LINE: ..." in err. */
int csvin_read(const char *path, csvin_t **out, mb_error_t *err);
/* The same from memory; `name` is used in messages. */
int csvin_parse(const char *name, const char *text, size_t len, csvin_t **out, mb_error_t *err);
void csvin_free(csvin_t *t);

/* Index of the column called `name`, or -1. */
long csvin_col(const csvin_t *t, const char *name);
/* The cell at (row, col); both must be in range. */
const char *csvin_get(const csvin_t *t, size_t row, size_t col);
/* Parses a cell as a number ('.' decimal point, surrounding spaces allowed):
 * 0 and *out set, 1 when the cell is empty (not measured), -1 when it is not
 * a finite number. */
int csvin_number(const char *cell, double *out);

#endif
