/* csvin: a CSV file into memory with libcsv (see csvin.h). */
#include "analysis/csvin.h"

#include "common/mb_file.h"

#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the libcsv callbacks build. The input is fed one physical line at a
 * time so that `line` always says where the parser is. */
typedef struct reader {
    csvin_t *t;
    size_t line;
    char **cur;          /* fields of the row being read */
    size_t ncur, capcur;
    size_t caprows;
    int failed;          /* an error is already in err: ignore further callbacks */
    int have_header;
    mb_error_t *err;
} reader_t;

static int fail_at(reader_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail_at(reader_t *r, const char *fmt, ...)
{
    char what[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    r->failed = 1;
    return mb_fail(r->err, "%s:%zu: %s", r->t->name, r->line, what);
}

static void on_field(void *data, size_t len, void *ctx)
{
    reader_t *r = ctx;
    if (r->failed)
        return;
    if (r->ncur >= CSVIN_MAX_COLS) { /* before the memory and the time go */
        fail_at(r, "more than %d fields in one row, the limit; a results CSV has about 50 columns "
                   "(results/README.md): check that this is a results CSV", CSVIN_MAX_COLS);
        return;
    }
    if (r->ncur == r->capcur) {
        size_t cap = r->capcur ? 2 * r->capcur : 64;
        char **c = realloc(r->cur, cap * sizeof *c);
        if (!c) {
            fail_at(r, "out of memory");
            return;
        }
        r->cur = c;
        r->capcur = cap;
    }
    char *s = malloc(len + 1);
    if (!s) {
        fail_at(r, "out of memory");
        return;
    }
    if (len)
        memcpy(s, data, len);
    s[len] = '\0';
    r->cur[r->ncur++] = s;
}

static void drop_cur(reader_t *r)
{
    for (size_t i = 0; i < r->ncur; i++)
        free(r->cur[i]);
    r->ncur = 0;
}

static const char *const *dup_names; /* for the comparison below; qsort has no context argument */

static int cmp_name_index(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int c = strcmp(dup_names[i], dup_names[j]);
    return c ? c : (i > j) - (i < j);
}

/* A non-empty column name given twice: sorted, in O(n log n) (a header of
 * many columns compared pair by pair took minutes). */
static int duplicate_column(reader_t *r)
{
    size_t n = r->ncur;
    if (n < 2)
        return 0;
    size_t *ix = malloc(n * sizeof *ix);
    if (!ix)
        return fail_at(r, "out of memory"), 1;
    for (size_t i = 0; i < n; i++)
        ix[i] = i;
    dup_names = (const char *const *)r->cur;
    qsort(ix, n, sizeof *ix, cmp_name_index);
    dup_names = NULL;
    /* the first duplicate in file order: the smallest second index */
    size_t best_i = 0, best_j = 0, first = 0; /* first: where the run of equal names starts */
    for (size_t k = 1; k < n; k++) {
        const char *a = r->cur[ix[k - 1]], *b = r->cur[ix[k]];
        if (strcmp(a, b)) {
            first = k;
            continue;
        }
        if (b[0] && (!best_j || ix[k] < best_j)) { /* within a run, indexes ascend */
            best_i = ix[first];
            best_j = ix[k];
        }
    }
    free(ix);
    if (!best_j)
        return 0;
    fail_at(r, "column '%s' appears twice in the header (columns %zu and %zu)", r->cur[best_j], best_i + 1,
            best_j + 1);
    return 1;
}

static void on_row(int c, void *ctx)
{
    reader_t *r = ctx;
    csvin_t *t = r->t;
    (void)c;
    if (r->failed) {
        drop_cur(r);
        return;
    }
    if (!r->have_header) {
        if (duplicate_column(r)) {
            drop_cur(r);
            return;
        }
        t->header = r->cur;
        t->ncols = r->ncur;
        r->cur = NULL;
        r->ncur = r->capcur = 0;
        r->have_header = 1;
        return;
    }
    if (r->ncur != t->ncols) {
        fail_at(r, "row has %zu fields, the header has %zu (a ragged row)", r->ncur, t->ncols);
        drop_cur(r);
        return;
    }
    if (t->nrows == r->caprows) {
        size_t cap = r->caprows ? 2 * r->caprows : 64;
        char **cell = cap > ((size_t)-1) / sizeof(char *) / (t->ncols ? t->ncols : 1)
                          ? NULL
                          : realloc(t->cell, cap * (t->ncols ? t->ncols : 1) * sizeof *cell);
        if (cell)
            t->cell = cell;
        size_t *line = cell ? realloc(t->line, cap * sizeof *line) : NULL;
        if (line)
            t->line = line;
        if (!cell || !line) {
            fail_at(r, "out of memory");
            drop_cur(r);
            return;
        }
        r->caprows = cap;
    }
    memcpy(t->cell + t->nrows * t->ncols, r->cur, t->ncols * sizeof *r->cur);
    t->line[t->nrows++] = r->line;
    r->ncur = 0;
}

static int reader_start(reader_t *r, struct csv_parser *p, const char *name, csvin_t **out,
                        mb_error_t *err)
{
    memset(r, 0, sizeof *r);
    r->err = err;
    *out = NULL;
    r->t = calloc(1, sizeof *r->t);
    if (!r->t || !(r->t->name = strdup(name))) {
        free(r->t);
        return mb_fail(err, "%s: out of memory", name);
    }
    if (csv_init(p, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        csvin_free(r->t);
        return mb_fail(err, "%s: out of memory", name);
    }
    return 0;
}

/* One physical line (with its '\n', if any) into the parser. */
static void feed(reader_t *r, struct csv_parser *p, const char *s, size_t len)
{
    if (r->failed)
        return;
    r->line++;
    if (r->line == 1 && len >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) { /* UTF-8 byte-order mark */
        s += 3;
        len -= 3;
    }
    if (csv_parse(p, s, len, on_field, on_row, r) != len && !r->failed) {
        int e = csv_error(p);
        if (e == CSV_EPARSE)
            fail_at(r, "malformed CSV: a quote inside an unquoted field, or text after a "
                       "closing quote");
        else
            fail_at(r, "%s", csv_strerror(e));
    }
}

static int reader_finish(reader_t *r, struct csv_parser *p, csvin_t **out)
{
    if (!r->failed && csv_fini(p, on_field, on_row, r) != 0 && !r->failed)
        fail_at(r, "a quoted field is not closed at the end of the file");
    csv_free(p);
    drop_cur(r);
    free(r->cur);
    if (!r->failed && !r->have_header) {
        r->failed = 1;
        mb_fail(r->err, "%s: empty file: no header row", r->t->name);
    }
    if (r->failed) {
        csvin_free(r->t);
        return -1;
    }
    *out = r->t;
    return 0;
}

int csvin_parse(const char *name, const char *text, size_t len, csvin_t **out, mb_error_t *err)
{
    reader_t r;
    struct csv_parser p;
    if (reader_start(&r, &p, name, out, err))
        return -1;
    size_t at = 0;
    while (at < len && !r.failed) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t n = nl ? (size_t)(nl - (text + at)) + 1 : len - at;
        feed(&r, &p, text + at, n);
        at += n;
    }
    return reader_finish(&r, &p, out);
}

int csvin_read(const char *path, csvin_t **out, mb_error_t *err)
{
    *out = NULL;
    FILE *f;
    /* a directory, device or FIFO is refused before a read could block */
    if (mb_input_open(path, "results CSV", MB_IN_ALLOW_EMPTY, &f, err))
        return -1;
    reader_t r;
    struct csv_parser p;
    if (reader_start(&r, &p, path, out, err)) {
        fclose(f);
        return -1;
    }
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    errno = 0;
    while (!r.failed && (n = getline(&buf, &cap, f)) > 0)
        feed(&r, &p, buf, (size_t)n);
    int read_error = ferror(f) ? errno : 0;
    free(buf);
    fclose(f);
    if (read_error && !r.failed) {
        r.failed = 1;
        mb_fail(err, "%s: cannot read: %s", path, strerror(read_error));
    }
    return reader_finish(&r, &p, out);
}

void csvin_free(csvin_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->ncols; i++)
        free(t->header[i]);
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cell[i]);
    free(t->header);
    free(t->cell);
    free(t->line);
    free(t->name);
    free(t);
}

long csvin_col(const csvin_t *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (!strcmp(t->header[i], name))
            return (long)i;
    return -1;
}

const char *csvin_get(const csvin_t *t, size_t row, size_t col)
{
    return t->cell[row * t->ncols + col];
}

int csvin_number(const char *cell, double *out)
{
    while (*cell == ' ' || *cell == '\t')
        cell++;
    if (!*cell)
        return 1;
    char *end;
    double v = strtod(cell, &end); /* overflow gives inf, caught below */
    if (end == cell)
        return -1;
    while (*end == ' ' || *end == '\t' || *end == '\r')
        end++;
    if (*end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}
