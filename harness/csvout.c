/* csvout: results rows to a CSV file, atomically (see csvout.h). */
#include "harness/csvout.h"

#include <csv.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const csvout_names[CSV_NCOLS] = {
#define CSVOUT_NAME(name) #name,
    CSVOUT_COLUMNS(CSVOUT_NAME)
#undef CSVOUT_NAME
};

struct csvout {
    FILE *f;
    char path[1024], tmp[1040];
    int rows;
};

void csvout_clear(csvout_row_t *r)
{
    for (int i = 0; i < CSV_NCOLS; i++)
        r->cell[i][0] = '\0';
}

void csvout_set(csvout_row_t *r, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->cell[col], sizeof r->cell[col], fmt, ap);
    va_end(ap);
}

int csvout_field(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\r\n") || (s[0] == ' ') || (s[0] && s[strlen(s) - 1] == ' '))
        return csv_fwrite(f, s, strlen(s)) == 0 ? 0 : -1;
    return fputs(s, f) < 0 ? -1 : 0;
}

static int put_line(csvout_t *c, const char *const *cells, mb_error_t *err)
{
    for (int i = 0; i < CSV_NCOLS; i++)
        if ((i && fputc(',', c->f) == EOF) || csvout_field(c->f, cells[i]))
            return mb_fail(err, "%s: write failed: %s", c->tmp, strerror(errno));
    if (fputc('\n', c->f) == EOF || fflush(c->f) != 0)
        return mb_fail(err, "%s: write failed: %s", c->tmp, strerror(errno));
    return 0;
}

int csvout_open(const char *path, csvout_t **out, mb_error_t *err)
{
    *out = NULL;
    csvout_t *c = calloc(1, sizeof *c);
    if (!c)
        return mb_fail(err, "out of memory");
    snprintf(c->path, sizeof c->path, "%s", path);
    snprintf(c->tmp, sizeof c->tmp, "%s.tmp", path);
    if (!(c->f = fopen(c->tmp, "w"))) {
        mb_fail(err, "%s: cannot create: %s", c->tmp, strerror(errno));
        free(c);
        return -1;
    }
    if (put_line(c, csvout_names, err) != 0) {
        csvout_abort(c);
        return -1;
    }
    *out = c;
    return 0;
}

int csvout_write(csvout_t *c, const csvout_row_t *r, mb_error_t *err)
{
    const char *cells[CSV_NCOLS];
    for (int i = 0; i < CSV_NCOLS; i++)
        cells[i] = r->cell[i];
    if (put_line(c, cells, err) != 0)
        return -1;
    c->rows++;
    return 0;
}

int csvout_rows(const csvout_t *c)
{
    return c->rows;
}

int csvout_close(csvout_t *c, mb_error_t *err)
{
    int rc = 0;
    if (fflush(c->f) != 0 || fsync(fileno(c->f)) != 0)
        rc = mb_fail(err, "%s: write failed: %s", c->tmp, strerror(errno));
    if (fclose(c->f) != 0 && rc == 0)
        rc = mb_fail(err, "%s: write failed: %s", c->tmp, strerror(errno));
    if (rc == 0 && rename(c->tmp, c->path) != 0)
        rc = mb_fail(err, "%s: cannot rename to %s: %s", c->tmp, c->path, strerror(errno));
    if (rc != 0)
        unlink(c->tmp);
    free(c);
    return rc;
}

void csvout_abort(csvout_t *c)
{
    if (!c)
        return;
    if (c->f)
        fclose(c->f);
    unlink(c->tmp);
    free(c);
}
