/* progress: the progress display of long runs, on stderr: a line redrawn
 * in place on a terminal, a plain line every few seconds otherwise (logs,
 * CI). Shows what runs now, % done and the estimated time left. */
#ifndef PROGRESS_H
#define PROGRESS_H

typedef struct progress {
    int total, done;
    double t0, last;
    int tty, drawn;
} progress_t;

void progress_start(progress_t *p, int total_units);
/* `done` units of the total are finished; `what` describes the current one. */
void progress_update(progress_t *p, int done, const char *what);
void progress_finish(progress_t *p);
/* A warning line ("moebench: warning: ...") that stays on screen above the
 * redrawn progress line. */
void progress_warn(progress_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
