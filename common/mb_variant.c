/* mb_variant: the table of model variants (see mb_variant.h). */
#include "common/mb_variant.h"

#include <string.h>

const mb_variant_t mb_variants[] = {
    {"dense", "dense", "dense", 0, 0, "dense"},
    {"token-moe", "token", "token", 0, 0, "token-MoE"},
    {"sentence-moe", "sentence", "sentence", 0, 0, "sentence-MoE"},
    /* the paper's best: token-routed encoder, target-language-routed decoder */
    {"task-moe", "token", "task", 0, 0, "task-MoE"},
    {"task-subnet", "token", "task", 1, 0, "task sub-network"},
    /* until a model is distilled into it, a student is a dense model of the student's shape */
    {"student", "dense", "dense", 0, 1, "dense-shaped student (untrained)"},
};
const int mb_n_variants = (int)(sizeof mb_variants / sizeof mb_variants[0]);

const mb_variant_t *mb_variant_find(const char *name)
{
    for (int i = 0; i < mb_n_variants; i++)
        if (!strcmp(mb_variants[i].name, name))
            return &mb_variants[i];
    return NULL;
}

int mb_variant_rank(const char *name)
{
    const mb_variant_t *v = mb_variant_find(name);
    return v ? (int)(v - mb_variants) : mb_n_variants;
}

const char *mb_variant_list(void)
{
    static char list[160];
    if (!list[0])
        for (int i = 0; i < mb_n_variants; i++) {
            strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
            strncat(list, mb_variants[i].name, sizeof list - strlen(list) - 1);
        }
    return list;
}
