/* mb_mem: overflow-checked sizes and the memory guard (see mb_mem.h). */
#include "common/mb_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int mb_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return -1;
    *out = a * b;
    return 0;
}

int mb_grow(void **p, size_t n, size_t elem)
{
    size_t bytes;
    if (mb_mul_size(n, elem, &bytes))
        return -1;
    void *q = realloc(*p, bytes ? bytes : 1);
    if (!q)
        return -1;
    *p = q;
    return 0;
}

int mb_grow_cap(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need) {
        if (c > SIZE_MAX / 2)
            return -1;
        c *= 2;
    }
    if (mb_grow(p, c, elem))
        return -1;
    *cap = c;
    return 0;
}

uint64_t mb_mem_limit(void)
{
    const char *env = getenv("MOEBENCH_MEM_LIMIT");
    if (env && *env) {
        char *end;
        double v = strtod(env, &end);
        if (end != env && v > 0) {
            switch (*end) {
            case 'k': case 'K': v *= 1024.0; break;
            case 'm': case 'M': v *= 1024.0 * 1024.0; break;
            case 'g': case 'G': v *= 1024.0 * 1024.0 * 1024.0; break;
            default: break;
            }
            return (uint64_t)v;
        }
    }
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0)
        return UINT64_MAX;
    return (uint64_t)pages * (uint64_t)page;
}

const char *mb_human_bytes(uint64_t bytes, char *buf, size_t len)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, len, u ? "%.2f %s" : "%.0f %s", v, unit[u]);
    return buf;
}

int mb_mem_check(uint64_t bytes, const char *what, const char *fix, mb_error_t *err)
{
    uint64_t limit = mb_mem_limit();
    if (bytes <= limit)
        return 0;
    char need[32], have[32];
    return mb_fail(err, "%s needs %s but this machine allows %s%s; %s", what,
                   mb_human_bytes(bytes, need, sizeof need), mb_human_bytes(limit, have, sizeof have),
                   getenv("MOEBENCH_MEM_LIMIT") ? " (MOEBENCH_MEM_LIMIT)" : "", fix);
}

uint64_t mb_peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (uint64_t)ru.ru_maxrss * 1024u;
}
