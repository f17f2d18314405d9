/* mb_variant: the one table of model variants: their names in the order
 * every table and figure lists them, the routing of encoder and decoder
 * MoE layers, how a variant is built, and how reports label it. The engine
 * (models/config.c), the plan, the report and the help texts all read it. */
#ifndef COMMON_MB_VARIANT_H
#define COMMON_MB_VARIANT_H

typedef struct mb_variant {
    const char *name;          /* "token-moe" */
    const char *enc_routing;   /* "dense", "token", "sentence" or "task" */
    const char *dec_routing;
    int cut_from_task_moe;     /* built as task-moe, then each task's sub-network extracted */
    int student_shape;         /* shaped by the scenario's student_* keys */
    const char *label;         /* what reports call a model of this variant built from random weights */
} mb_variant_t;

extern const mb_variant_t mb_variants[];
extern const int mb_n_variants;

/* The entry of `name`, or NULL. */
const mb_variant_t *mb_variant_find(const char *name);
/* Position in the table (the order of report rows); mb_n_variants for an unknown name. */
int mb_variant_rank(const char *name);
/* "dense, token-moe, ..." for messages and help texts. */
const char *mb_variant_list(void);
#endif
