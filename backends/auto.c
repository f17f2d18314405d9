/* auto: the fastest backend per machine, measured once and cached (auto.h). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backends/auto.h"
#include "backends/registry.h"
#include "common/mb_clock.h"
#include "common/version.h"

#define MIN_SECONDS 0.04       /* repetitions per shape and backend */
/* A child that has not answered by then is stopped: libgomp's thread pool
 * does not survive fork, so a child forked after this process ran OpenMP
 * work could wait forever; the caller then measures in-process. */
#define CHILD_TIMEOUT_MS 30000

/* [rows, n_out, n_in] at wmt-dense sizes: prefill (whole sentences, cut to 256
 * rows to stay short) FFN and attention projection, a batch-64 decode step's FFN
 * and an eighth of its 64000-word output projection (16 MiB of weights: read
 * from memory every step, like the whole one), and batch-1 decoding's FFN.
 * Each shape's median time is weighed by how many calls of that size a
 * translation makes (shape_weight), so the total models the GEMM time of
 * one: a pass that summed them unweighted was 83% prefill where translating
 * is about a quarter, and picked openblas on a CPU held to AVX2 where onednn
 * translates 1.3-1.5x faster (docs/backends.md). */
static const int shapes[BE_AUTO_SHAPES][3] = {
    {256, 2048, 512}, {256, 512, 512}, {64, 2048, 512}, {64, 8192, 512}, {1, 2048, 512}};
static const char *const shape_names[BE_AUTO_SHAPES] = {"prefill-ffn", "prefill-proj", "decode64-ffn", "decode64-out",
                                                        "decode1-ffn"};
/* Calls of each shape (or the same multiply-adds in calls of that kind) in translating 64
 * sentences of 25 source and 25 target tokens at batch 64 with wmt-dense (6+6 layers, d 512,
 * FFN 2048, 64000 words), plus one of them at batch 1:
 *   prefill-ffn   1600 rows / 256 = 6.25 blocks x 6 encoder layers x 2 FFN GEMMs              =   75
 *   prefill-proj  6.25 x 6 x (4 encoder attention projections + 2 cross-attention K/V)     =  225
 *   decode64-ffn  25 steps x 6 layers x (2 FFN + 6 projections of a quarter the size, Q K V O
 *                 self and Q O cross: 1.5 FFN-sized)                                        =  525
 *   decode64-out  25 steps x 64000 / 8192                                                   ~  195
 *   decode1-ffn   25 steps x (6 x 3.5 FFN-sized + an output projection of 31.25 FFN-sized)  ~ 1300 */
static const double shape_weight[BE_AUTO_SHAPES] = {75, 225, 525, 195, 1300};
/* Part of the cache key: a cache line measured with other shapes or weights is not reused. */
#define AUTO_METHOD "weighted-5"
#define N_SHAPES BE_AUTO_SHAPES

/* One backend's pass: its weighted total and each shape's median, seconds; total < 0 when it cannot run. */
typedef struct pass {
    double total;
    double shape[N_SHAPES];
} pass_t;

static void fill(float *x, size_t n, unsigned seed)
{
    unsigned s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = ((float)(s >> 8) / (float)(1u << 24) - 0.5f) * 0.1f;
    }
}

/* One pass over the shapes on backend `name`: each shape's median and their sum; total < 0 when
 * it cannot run. Runs in the calling process. */
static pass_t measure_here(const char *name, int threads, be_precision_t precision)
{
    be_t be;
    be_options_t o = {threads, precision};
    pass_t pass = {-1, {0}};
    if (be_open(name, &o, &be, NULL) != 0)
        return pass;
    double total = 0;
    for (int s = 0; s < N_SHAPES && total >= 0; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *W = malloc(sizeof(float) * (size_t)N * K), *x = malloc(sizeof(float) * (size_t)M * K);
        float *y = malloc(sizeof(float) * (size_t)M * N), *b = calloc((size_t)N, sizeof(float));
        /* prepared as a model's weights of that shape are: prefill sees whole sentences */
        be_weight_t w = {W, b, N, K, NULL, strncmp(shape_names[s], "prefill", 7) ? BE_WEIGHT_LAYER : BE_WEIGHT_SENTENCE};
        if (!W || !x || !y || !b || (fill(W, (size_t)N * K, 1), fill(x, (size_t)M * K, 2), 0) ||
            be_weight_prepare(&be, &w, NULL) != 0) {
            total = -1;
        } else {
            double t[64], spent = 0;
            int n = 0;
            be_linear(&be, &w, x, M, y); /* warm-up: primitives, caches */
            while (n < 64 && (spent < MIN_SECONDS || n < 3)) {
                double t0 = mb_now();
                be_linear(&be, &w, x, M, y);
                t[n] = mb_now() - t0;
                spent += t[n++];
            }
            for (int i = 1; i < n; i++) /* insertion sort for the median */
                for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
                    double tmp = t[j];
                    t[j] = t[j - 1];
                    t[j - 1] = tmp;
                }
            total += shape_weight[s] * t[n / 2];
            pass.shape[s] = t[n / 2];
            be_weight_release(&be, &w);
        }
        free(W), free(x), free(y), free(b);
    }
    be_close(&be);
    pass.total = total;
    return pass;
}

/* Runs fn(arg, out, len) in a child process and copies its out back, so that
 * no library's threads start in this process: one library's threads (still
 * spinning after their last job) would slow the next one's measurement, and
 * libgomp's thread pool does not survive a later fork. 0 on success. */
static int in_child(void (*fn)(const void *arg, void *out, size_t len), const void *arg, void *out, size_t len)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]), close(fd[1]);
        return -1;
    }
    if (pid == 0) { /* the child: compute, report, and leave without atexit handlers */
        close(fd[0]);
        fn(arg, out, len);
        size_t done = 0;
        while (done < len) {
            ssize_t w = write(fd[1], (char *)out + done, len - done);
            if (w <= 0)
                _exit(1);
            done += (size_t)w;
        }
        _exit(0);
    }
    close(fd[1]);
    size_t got = 0;
    double t_end = mb_now() + CHILD_TIMEOUT_MS / 1e3;
    while (got < len) {
        struct pollfd pf = {fd[0], POLLIN, 0};
        int left = (int)((t_end - mb_now()) * 1e3);
        if (left <= 0 || (poll(&pf, 1, left) == 0)) {
            kill(pid, SIGKILL);
            break;
        }
        ssize_t r = read(fd[0], (char *)out + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return got == len && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

typedef struct measure_arg {
    const char *name;
    int threads;
    be_precision_t precision;
} measure_arg_t;

static void measure_fn(const void *arg, void *out, size_t len)
{
    const measure_arg_t *a = arg;
    pass_t p = measure_here(a->name, a->threads, a->precision);
    memcpy(out, &p, len < sizeof p ? len : sizeof p);
}

static pass_t measure(const char *name, int threads, be_precision_t precision)
{
    measure_arg_t a = {name, threads, precision};
    pass_t p = {-1, {0}};
    if (in_child(measure_fn, &a, &p, sizeof p) == 0)
        return p;
    be_t be; /* no child (fork failed or timed out): here, if the backend opens at all */
    be_options_t o = {threads, precision};
    if (be_open(name, &o, &be, NULL) != 0)
        return p;
    be_close(&be);
    return measure_here(name, threads, precision);
}

static void cpu_model(char *buf, size_t len)
{
    snprintf(buf, len, "unknown-cpu");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            const char *v = strchr(line, ':') + 1;
            while (*v == ' ')
                v++;
            snprintf(buf, len, "%.*s", (int)strcspn(v, "\n"), v);
            break;
        }
    if (f)
        fclose(f);
}

/* The cache key: everything that can change which backend is fastest. Tabs
 * and newlines never appear in it (they separate the file's fields). */
static void make_key_here(int threads, be_precision_t precision, char *key, size_t len)
{
    char cpu[160];
    cpu_model(cpu, sizeof cpu);
    size_t k = (size_t)snprintf(key, len, "cpu=%s|moebench=%s|auto=%s|threads=%d|precision=%s", cpu,
                                MOEBENCH_VERSION, AUTO_METHOD, threads, be_precision_name(precision));
    for (int i = 0; i < be_count() && k < len; i++) {
        const be_ops_t *ops = be_at(i);
        be_t be;
        be_options_t o = {0, BE_PRECISION_FP32};
        if (be_open(ops->name, &o, &be, NULL) != 0)
            continue;
        /* the version without the thread count the handle was opened with */
        k += (size_t)snprintf(key + k, len - k, "|%s=%s", ops->name, ops->version ? ops->version(&be) : "");
        be_close(&be);
    }
    for (char *p = key; *p; p++)
        if (*p == '\t' || *p == '\n')
            *p = ' ';
}

typedef struct key_arg {
    int threads;
    be_precision_t precision;
} key_arg_t;

static void key_fn(const void *arg, void *out, size_t len)
{
    const key_arg_t *a = arg;
    memset(out, 0, len);
    make_key_here(a->threads, a->precision, out, len);
}

/* In a child: opening the backends for their versions starts libraries. */
static int make_key(int threads, be_precision_t precision, char *key, size_t len)
{
    key_arg_t a = {threads, precision};
    return in_child(key_fn, &a, key, len);
}

static void cache_file(char *path, size_t len)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    path[0] = 0;
    if (xdg && *xdg)
        snprintf(path, len, "%s/moebench/backend-choice", xdg);
    else if (home && *home)
        snprintf(path, len, "%s/.cache/moebench/backend-choice", home);
}

/* A line "KEY\tBACKEND\tNAME=SECONDS ..." for this key, if any. */
static int cache_read(const char *path, const char *key, be_auto_choice_t *c)
{
    FILE *f = path[0] ? fopen(path, "r") : NULL;
    if (!f)
        return -1;
    static char line[8192];
    int found = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) || line[kl] != '\t')
            continue;
        char *be = line + kl + 1, *figs = strchr(be, '\t');
        if (!figs)
            continue;
        *figs++ = 0;
        if (!be_find(be)) /* a backend this build no longer has */
            continue;
        snprintf(c->backend, sizeof c->backend, "%s", be);
        c->n = 0;
        c->has_shapes = 1;
        for (char *tok = strtok(figs, " \n"); tok && c->n < BE_AUTO_MAX; tok = strtok(NULL, " \n")) {
            char *eq = strchr(tok, '=');
            if (!eq)
                continue;
            *eq = 0;
            snprintf(c->name[c->n], sizeof c->name[0], "%s", tok);
            /* TOTAL, then /SHAPE for each shape (lines written before these were kept have none) */
            char *p = eq + 1, *end;
            c->seconds[c->n] = strtod(p, &end);
            int k = 0;
            for (p = end; *p == '/' && k < N_SHAPES; p = end)
                c->shape_s[c->n][k++] = strtod(p + 1, &end);
            if (k != N_SHAPES)
                c->has_shapes = 0;
            c->n++;
        }
        if (c->n == 0)
            c->has_shapes = 0;
        found = 0; /* keep reading: the last line for a key wins */
    }
    fclose(f);
    return found;
}

static void cache_write(const char *path, const char *key, const be_auto_choice_t *c)
{
    if (!path[0])
        return;
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = dir + 1; *p; p++) /* mkdir -p of the folders */
        if (*p == '/') {
            *p = 0;
            mkdir(dir, 0755);
            *p = '/';
        }
    FILE *f = fopen(path, "a"); /* appended: one short write, other keys kept */
    if (!f)
        return;
    fprintf(f, "%s\t%s\t", key, c->backend);
    for (int i = 0; i < c->n; i++) {
        fprintf(f, "%s%s=%.6g", i ? " " : "", c->name[i], c->seconds[i]);
        for (int k = 0; c->has_shapes && k < N_SHAPES; k++)
            fprintf(f, "/%.6g", c->shape_s[i][k]);
    }
    fprintf(f, "\n");
    fclose(f);
}

int be_auto_choose(int threads, be_precision_t precision, be_auto_choice_t *out, mb_error_t *err)
{
    static char key[4096];
    memset(out, 0, sizeof *out);
    if (make_key(threads, precision, key, sizeof key) != 0)
        key[0] = 0; /* no fork: measure, and cache nothing */
    cache_file(out->cache_path, sizeof out->cache_path);
    if (key[0] && cache_read(out->cache_path, key, out) == 0) {
        out->cached = 1;
        return 0;
    }
    double best = -1;
    for (int i = 0; i < be_count() && out->n < BE_AUTO_MAX; i++) {
        const char *name = be_at(i)->name;
        if (!strcmp(name, "ref"))
            continue; /* the oracle, plain loops: never the fastest */
        pass_t p = measure(name, threads, precision);
        double s = p.total;
        if (s <= 0)
            continue; /* cannot run this precision or thread count */
        snprintf(out->name[out->n], sizeof out->name[0], "%s", name);
        memcpy(out->shape_s[out->n], p.shape, sizeof p.shape);
        out->seconds[out->n++] = s;
        out->has_shapes = 1;
        if (best < 0 || s < best) {
            best = s;
            snprintf(out->backend, sizeof out->backend, "%s", name);
        }
    }
    if (best < 0) { /* only ref is left: it is the choice if it can run this */
        be_t be;
        be_options_t o = {threads, precision};
        if (be_open("ref", &o, &be, err) != 0)
            return mb_fail(err, "--backend auto: no compiled-in backend accepts precision %s with %d threads; see "
                                "'moebench backends'", be_precision_name(precision), threads);
        be_close(&be);
        snprintf(out->backend, sizeof out->backend, "ref");
        return 0; /* not cached: nothing was measured */
    }
    if (key[0])
        cache_write(out->cache_path, key, out);
    return 0;
}

void be_auto_describe(const be_auto_choice_t *c, char *buf, size_t len)
{
    size_t k = (size_t)snprintf(buf, len, "%s", c->backend);
    if (c->n > 0 && k < len)
        k += (size_t)snprintf(buf + k, len - k, " (a translation's GEMM time, modelled from %d shapes:", N_SHAPES);
    for (int i = 0; i < c->n && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, " %s %.2f ms%s", c->name[i], c->seconds[i] * 1e3,
                              i + 1 < c->n ? "," : ")");
    if (k < len)
        snprintf(buf + k, len - k, "; %s%s%s", c->cached ? "cached in " : c->n ? "measured now, cached in " : "only ref",
                 c->n ? (c->cache_path[0] ? c->cache_path : "(no cache file: set HOME or XDG_CACHE_HOME)") : "", "");
}

void be_auto_describe_shapes(const be_auto_choice_t *c, char *buf, size_t len)
{
    buf[0] = 0;
    if (!c->has_shapes || c->n < 1 || len == 0)
        return;
    int chosen = 0, differs = 0;
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->name[i], c->backend))
            chosen = i;
    double best_sum = 0;
    size_t k = (size_t)snprintf(buf, len, "per shape, fastest:");
    for (int s = 0; s < N_SHAPES; s++) {
        int b = 0;
        for (int i = 1; i < c->n; i++)
            if (c->shape_s[i][s] < c->shape_s[b][s])
                b = i;
        best_sum += shape_weight[s] * c->shape_s[b][s];
        differs |= b != chosen;
        if (k < len)
            k += (size_t)snprintf(buf + k, len - k, " %s %s (%.3f ms)%s", shape_names[s], c->name[b],
                                  c->shape_s[b][s] * 1e3, s + 1 < N_SHAPES ? "," : ";");
    }
    if (k >= len)
        return;
    if (!differs)
        snprintf(buf + k, len - k, " %s is fastest on every shape, so choosing per shape class would not pay here",
                 c->backend);
    else
        snprintf(buf + k, len - k, " each shape on its fastest backend would take %.1f%% less than all on %s (%.2f "
                 "against %.2f ms, weighted); moebench chooses one backend per machine, threads and precision",
                 100.0 * (1.0 - best_sum / c->seconds[chosen]), c->backend, best_sum * 1e3, c->seconds[chosen] * 1e3);
}
