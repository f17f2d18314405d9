/* csvout: results rows to a CSV file, atomically (see csvout.h). */
#include "harness/csvout.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/mb_file.h"

const char *const csvout_names[CSV_NCOLS] = {
#define CSVOUT_NAME(name) #name,
    CSVOUT_COLUMNS(CSVOUT_NAME)
#undef CSVOUT_NAME
};

/* Rows are formatted in memory and written with write(2) to a descriptor, so
 * the file length after each complete row is known exactly: when a write
 * fails part-way (disk full, file size limit), the file is cut back to the
 * last complete row and a torn row can never be renamed into place. */
struct csvout {
    int fd;
    char path[1024], tmp[1040];
    int rows;
    off_t good;                /* bytes of the header and the complete rows */
    int failed;                /* a write failed: only the rows up to `good` count */
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

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = ENOSPC;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int put_line(csvout_t *c, const char *const *cells, mb_error_t *err)
{
    if (c->failed)
        return mb_fail(err, "%s: an earlier write failed", c->tmp);
    char *line = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&line, &len);
    if (!m)
        return mb_fail(err, "out of memory formatting a results row");
    int bad = 0;
    for (int i = 0; i < CSV_NCOLS && !bad; i++)
        bad = (i && fputc(',', m) == EOF) || csvout_field(m, cells[i]);
    bad |= fputc('\n', m) == EOF;
    if (fclose(m) != 0 || bad) {
        free(line);
        return mb_fail(err, "out of memory formatting a results row");
    }
    if (write_all(c->fd, line, len) != 0) {
        int e = errno;
        free(line);
        c->failed = 1;
        /* cut the torn row off: the file keeps the complete rows only */
        if (ftruncate(c->fd, c->good) != 0 || lseek(c->fd, c->good, SEEK_SET) < 0)
            return mb_fail(err, "%s: write failed: %s; and the partial row could not be cut off: %s", c->tmp,
                           strerror(e), strerror(errno));
        return mb_fail(err, "%s: write failed: %s", c->tmp, strerror(e));
    }
    free(line);
    c->good += (off_t)len;
    return 0;
}

int csvout_open(const char *path, csvout_t **out, mb_error_t *err)
{
    *out = NULL;
    if (mb_output_check(path, "results CSV", err))
        return -1;
    csvout_t *c = calloc(1, sizeof *c);
    if (!c)
        return mb_fail(err, "out of memory");
    if ((size_t)snprintf(c->path, sizeof c->path, "%s", path) >= sizeof c->path) {
        free(c);
        return mb_fail(err, "%s: the path is too long", path);
    }
    snprintf(c->tmp, sizeof c->tmp, "%s.tmp", path);
    if ((c->fd = open(c->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) < 0) {
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
    int rc = 0, keep = 0;
    if (c->failed && ftruncate(c->fd, c->good) != 0) /* never rename a torn row into place */
        rc = mb_fail(err, "%s: cannot cut the file back to its complete rows: %s", c->tmp, strerror(errno));
    if (rc == 0 && fsync(c->fd) != 0 && errno != EINVAL && errno != EROFS)
        rc = mb_fail(err, "%s: write failed: %s", c->tmp, strerror(errno));
    if (close(c->fd) != 0 && rc == 0)
        rc = mb_fail(err, "%s: write failed: %s", c->tmp, strerror(errno));
    if (rc == 0 && rename(c->tmp, c->path) != 0) {
        /* the rows are measurements that took time: keep them where they are */
        rc = mb_fail(err, "%s: cannot rename to %s: %s; the %d complete rows are kept in %s", c->tmp, c->path,
                     strerror(errno), c->rows, c->tmp);
        keep = 1;
    }
    if (rc != 0 && !keep)
        unlink(c->tmp);
    free(c);
    return rc;
}

void csvout_abort(csvout_t *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    unlink(c->tmp);
    free(c);
}
