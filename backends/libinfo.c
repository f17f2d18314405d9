/* libinfo: library builds and chosen kernels (see libinfo.h). */
#include "backends/libinfo.h"

#include "backends/registry.h" /* MB_WITH_OPENBLAS, MB_WITH_ONEDNN */

#if MB_WITH_OPENBLAS
#include <cblas.h>
#endif
#if MB_WITH_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backends/fastops.h"

const char *libinfo_openblas_config(void)
{
#if MB_WITH_OPENBLAS
    const char *c = openblas_get_config();
    return c ? c : "OpenBLAS (no config string)";
#else
    return "not compiled in (WITH_OPENBLAS=0)";
#endif
}

const char *libinfo_openblas_core(void)
{
#if MB_WITH_OPENBLAS
    const char *c = openblas_get_corename();
    return c ? c : "unknown";
#else
    return "unknown";
#endif
}

void libinfo_onednn(char *buf, size_t len)
{
#if MB_WITH_ONEDNN
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, len, "oneDNN %d.%d.%d (commit %.12s; isa %s)", v->major, v->minor, v->patch,
             v->hash ? v->hash : "?", dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa()));
#else
    snprintf(buf, len, "not compiled in (WITH_ONEDNN=0)");
#endif
}

void libinfo_kernel(be_t *be, char *buf, size_t len)
{
    const char *name = be->ops ? be->ops->name : "?";
    if (!strcmp(name, "openblas")) {
        snprintf(buf, len, "openblas %s; ops %s", libinfo_openblas_core(), fastops_isa());
    } else if (!strcmp(name, "onednn")) {
        /* onednn.c writes "...; fp32 matmul KERNEL; other ops ISA)" into its
         * version string from the primitive's dnnl_query_impl_info_str. */
        const char *v = be->ops->version ? be->ops->version(be) : "";
        const char *k = strstr(v, " matmul ");
        int n = 0;
        if (k) {
            k += strlen(" matmul ");
            n = (int)strcspn(k, ";)");
        }
        snprintf(buf, len, "onednn %.*s; ops %s", n, k ? k : "?", fastops_isa());
    } else if (!strcmp(name, "ref")) {
        snprintf(buf, len, "ref portable C");
    } else {
        snprintf(buf, len, "%s", name);
    }
}

const char *libinfo_callgrind_core(void)
{
    static const char *const avx512[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
    const char *core = libinfo_openblas_core();
    if (getenv("OPENBLAS_CORETYPE") || !strcmp(core, "unknown"))
        return NULL;
    for (size_t i = 0; i < sizeof avx512 / sizeof avx512[0]; i++)
        if (!strcasecmp(core, avx512[i]))
            return NULL;
    return core;
}

void libinfo_pins(char *buf, size_t len)
{
    static const char *const names[] = {"OPENBLAS_CORETYPE", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"};
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = getenv(names[i]);
        if (!v || !*v || at >= len)
            continue;
        int w = snprintf(buf + at, len - at, "%s%s=%s", at ? " " : "", names[i], v);
        if (w > 0)
            at += (size_t)w;
    }
}
