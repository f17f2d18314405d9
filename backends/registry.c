/* registry: which backends are compiled in, and opening one by name. */
#include <stdio.h>
#include <string.h>

#include "backends/auto.h"
#include "backends/fastops.h"
#include "backends/registry.h"

/* The one table: name, op table when compiled in, and the build switch. */
static const struct be_entry {
    const char *name;
    const be_ops_t *ops;
    const char *flag;
} known[] = {
    {"ref", &be_ref_ops, NULL},
#if MB_WITH_OPENBLAS
    {"openblas", &be_openblas_ops, "WITH_OPENBLAS"},
#else
    {"openblas", NULL, "WITH_OPENBLAS"},
#endif
#if MB_WITH_ONEDNN
    {"onednn", &be_onednn_ops, "WITH_ONEDNN"},
#else
    {"onednn", NULL, "WITH_ONEDNN"},
#endif
    /* not a backend: picks one of the above per machine (auto.c) */
    {"auto", NULL, NULL},
};
#define N_KNOWN ((int)(sizeof known / sizeof known[0]))

/* The compiled-in ones, in table order. */
static const be_ops_t *const backends[] = {
    &be_ref_ops,
#if MB_WITH_OPENBLAS
    &be_openblas_ops,
#endif
#if MB_WITH_ONEDNN
    &be_onednn_ops,
#endif
};

int be_known_count(void)
{
    return N_KNOWN;
}

const char *be_known_name(int i)
{
    return i >= 0 && i < N_KNOWN ? known[i].name : NULL;
}

int be_is_known(const char *name)
{
    for (int i = 0; i < N_KNOWN; i++)
        if (!strcmp(known[i].name, name))
            return 1;
    return 0;
}

const char *be_missing_reason(const char *name)
{
    static char why[128];
    for (int i = 0; i < N_KNOWN; i++)
        if (!strcmp(known[i].name, name) && !known[i].ops && known[i].flag) {
            snprintf(why, sizeof why, "built with %s=0; rebuild with make %s=1", known[i].flag, known[i].flag);
            return why;
        }
    return NULL;
}

const char *be_known_list(void)
{
    static char list[128];
    if (!list[0])
        for (int i = 0; i < N_KNOWN; i++) {
            strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
            strncat(list, known[i].name, sizeof list - strlen(list) - 1);
        }
    return list;
}

int be_count(void)
{
    return (int)(sizeof backends / sizeof backends[0]);
}

const be_ops_t *be_at(int i)
{
    return i >= 0 && i < be_count() ? backends[i] : NULL;
}

const be_ops_t *be_find(const char *name)
{
    for (int i = 0; i < be_count(); i++)
        if (!strcmp(backends[i]->name, name))
            return backends[i];
    return NULL;
}

int be_open(const char *name, const be_options_t *opt, be_t *be, mb_error_t *err)
{
    be_auto_choice_t choice;
    if (fastops_isa_check(err) != 0) /* a bad MOEBENCH_ISA is refused for every backend, auto's pick included */
        return -1;
    if (!strcmp(name, "auto")) { /* the chosen backend opens; be->ops->name says which */
        if (be_auto_choose(opt->threads, opt->precision, &choice, err) != 0)
            return -1;
        name = choice.backend;
    }
    const be_ops_t *ops = be_find(name);
    const char *missing = be_missing_reason(name);
    if (missing)
        return mb_fail(err, "backend '%s' is not compiled into this build (%s)", name, missing);
    if (!ops) {
        char list[256] = "";
        for (int i = 0; i < be_count(); i++) {
            strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
            strncat(list, backends[i]->name, sizeof list - strlen(list) - 1);
        }
        return mb_fail(err, "unknown backend '%s'; compiled in: %s, or auto (see 'moebench backends')", name, list);
    }
    memset(be, 0, sizeof *be);
    be->ops = ops;
    be->opt = *opt;
    if (ops->init && ops->init(be, err) != 0)
        return -1;
    return 0;
}

void be_close(be_t *be)
{
    if (be->ops && be->ops->shutdown)
        be->ops->shutdown(be);
    be->ops = NULL;
    be->state = NULL;
}

const char *be_precision_name(be_precision_t p)
{
    return p == BE_PRECISION_BF16       ? "bf16"
           : p == BE_PRECISION_INT8     ? "int8"
           : p == BE_PRECISION_INT8_ALL ? "int8all"
                                        : "fp32";
}

int be_precision_parse(const char *text, be_precision_t *out, mb_error_t *err)
{
    if (!strcmp(text, "fp32"))
        *out = BE_PRECISION_FP32;
    else if (!strcmp(text, "bf16"))
        *out = BE_PRECISION_BF16;
    else if (!strcmp(text, "int8"))
        *out = BE_PRECISION_INT8;
    else if (!strcmp(text, "int8all"))
        *out = BE_PRECISION_INT8_ALL;
    else
        return mb_fail(err, "--precision: unknown precision '%s'; use fp32, bf16, int8 (output projection fp32) or "
                            "int8all", text);
    return 0;
}
