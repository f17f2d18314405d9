/* progress: stderr progress display (see progress.h). */
#include "common/mb_clock.h"
#include "harness/progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "harness/measure.h"

#define PLAIN_EVERY_S 5.0

void progress_start(progress_t *p, int total)
{
    p->total = total > 0 ? total : 1;
    p->done = 0;
    p->t0 = p->last = mb_now();
    p->tty = isatty(2);
    p->drawn = 0;
}

static void eta(double s, char *buf, int len)
{
    if (s < 0 || s > 1e7)
        snprintf(buf, (size_t)len, "?");
    else if (s >= 3600)
        snprintf(buf, (size_t)len, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else if (s >= 60)
        snprintf(buf, (size_t)len, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else
        snprintf(buf, (size_t)len, "%ds", (int)s);
}

void progress_update(progress_t *p, int done, const char *what)
{
    double now = mb_now();
    p->done = done;
    if (!p->tty && now - p->last < PLAIN_EVERY_S && done < p->total)
        return;
    p->last = now;
    char left[32];
    double elapsed = now - p->t0;
    eta(done > 0 ? elapsed / done * (p->total - done) : -1, left, sizeof left);
    int pct = (int)(100.0 * done / p->total);
    if (p->tty) {
        fprintf(stderr, "\r\033[K[%3d%%] %s  (ETA %s)", pct, what, left);
        p->drawn = 1;
    } else {
        fprintf(stderr, "moebench: [%3d%%] %s (ETA %s)\n", pct, what, left);
    }
    fflush(stderr);
}

void progress_finish(progress_t *p)
{
    if (p->tty && p->drawn)
        fputc('\n', stderr);
    p->drawn = 0;
}

void progress_warn(progress_t *p, const char *fmt, ...)
{
    va_list ap;
    if (p->tty && p->drawn)
        fputs("\r\033[K", stderr);
    fputs("moebench: warning: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    p->drawn = 0;
    fflush(stderr);
}
