/* vendor: system description file and server-mode rate search (see vendor.h). */
#include "common/mb_clock.h"
#include "common/mb_stats.h"
#include "harness/vendor.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/measure.h"
#include "harness/sysinfo.h"

int vend_write_system(const char *csv_path, const char *const *backends, int n_backends, mb_error_t *err)
{
    char path[1100], tmp[1120], text[8192];
    mb_schema_system_path(csv_path, path, sizeof path);
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

int vend_phases(decode_ctx_t *dc, const decode_request_t *req, const int *first, const int *n, const double *full_s,
                const int *steps, int n_batches, long tgt_tokens, vend_phases_t *out, mb_error_t *err)
{
    out->prefill_ms = out->decode_ms_per_step = out->decode_tok_s = NAN;
    if (n_batches <= 0)
        return 0;
    int most = 0;
    for (int b = 0; b < n_batches; b++)
        most = n[b] > most ? n[b] : most;
    decode_request_t *one = malloc(sizeof *one * (size_t)most);
    decode_result_t *res = malloc(sizeof *res * (size_t)most);
    double *pf = malloc(sizeof *pf * (size_t)n_batches);
    if (!one || !res || !pf) {
        free(one);
        free(res);
        free(pf);
        return mb_fail(err, "out of memory");
    }
    double decode_s = 0;
    long decode_steps = 0, sentences = 0;
    int rc = 0;
    for (int b = 0; b < n_batches && rc == 0; b++) {
        for (int i = 0; i < n[b]; i++) {
            one[i] = req[first[b] + i];
            one[i].out_len = 1; /* exactly one token: the encoder and the first decoder step */
        }
        double t0 = mb_now();
        rc = decode_batch(dc, one, n[b], res, err);
        pf[b] = mb_now() - t0;
        decode_s += full_s[b] > pf[b] ? full_s[b] - pf[b] : 0;
        decode_steps += steps[b] > 1 ? steps[b] - 1 : 0;
        sentences += n[b];
    }
    if (rc == 0) {
        mb_sort(pf, (size_t)n_batches);
        out->prefill_ms = 1e3 * mb_median_sorted(pf, (size_t)n_batches);
        if (decode_steps > 0 && decode_s > 0) {
            out->decode_ms_per_step = 1e3 * decode_s / (double)decode_steps;
            out->decode_tok_s = (double)(tgt_tokens - sentences) / decode_s;
        }
    }
    free(one);
    free(res);
    free(pf);
    return rc;
}
