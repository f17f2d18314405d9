/* vendor: system description file and server-mode rate search (see vendor.h). */
#include "harness/vendor.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "harness/sysinfo.h"

void vend_system_path(const char *csv_path, char *out, size_t n)
{
    size_t l = strlen(csv_path);
    if (l > 4 && !strcmp(csv_path + l - 4, ".csv"))
        snprintf(out, n, "%.*s.system.txt", (int)(l - 4), csv_path);
    else
        snprintf(out, n, "%s.system.txt", csv_path);
}

int vend_write_system(const char *csv_path, const char *const *backends, int n_backends, mb_error_t *err)
{
    char path[1100], tmp[1120], text[8192];
    vend_system_path(csv_path, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return mb_fail(err, "%s: cannot create: %s; check the folder is writable", tmp, strerror(errno));
    sys_describe(text, sizeof text);
    fprintf(f, "# system description of %s (moebench run); one \"key: value\" a line\n%s", csv_path, text);
    for (int i = 0; i < n_backends; i++)
        if (backends[i] && backends[i][0])
            fprintf(f, "backend: %s\n", backends[i]);
    int bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return mb_fail(err, "%s: write failed: %s", path, strerror(e));
    }
    return 0;
}

int vend_search_max_qps(const vend_search_t *s, vend_probe_fn probe, void *ctx, double *best, int *probes,
                        mb_error_t *err)
{
    *best = 0;
    *probes = 0;
    if (!(s->start_qps > 0) || !(s->max_qps > s->start_qps) || s->steps < 1)
        return mb_fail(err, "server search: needs 0 < start rate < max rate and at least one step");
    double pass = 0, fail = 0, q = s->start_qps;
    int meets;
    for (;;) { /* bracket: double while the bound is met */
        if (probe(ctx, q, &meets, err))
            return -1;
        ++*probes;
        if (!meets) {
            fail = q;
            break;
        }
        pass = q;
        if (q >= s->max_qps)
            break;
        q = q * 2 < s->max_qps ? q * 2 : s->max_qps;
    }
    if (fail > 0) /* bisect between the last rate that met the bound (or 0) and the first that did not */
        for (int i = 0; i < s->steps; i++) {
            q = (pass + fail) / 2;
            if (probe(ctx, q, &meets, err))
                return -1;
            ++*probes;
            if (meets)
                pass = q;
            else
                fail = q;
        }
    *best = pass;
    return 0;
}
