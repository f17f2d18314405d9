/* extract: cutting a task's sub-network out of a task-routed MoE model.
 * In every task-routed MoE layer the sub-network keeps only the top-k
 * experts the task's gate selects, in rank order, with their renormalised
 * gate weights stored as fixed weights; token- and sentence-routed layers
 * and everything else are copied unchanged. The result is a stand-alone
 * model whose config records the task key it serves. */
#ifndef MODEL_EXTRACT_H
#define MODEL_EXTRACT_H

#include "backends/backend.h"
#include "models/model.h"

/* `task` is a task ("en-de") or a task-key value ("de" for target routing).
 * The gate is evaluated with backend `be` (ref gives the oracle's bits). */
int model_extract(const model_t *full, be_t *be, const char *task, model_t **out, mb_error_t *err);

#endif
