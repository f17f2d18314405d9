/* extract: task sub-network extraction (see extract.h). */
#include "models/extract.h"

#include <stdio.h>
#include <string.h>

#include "models/moe.h"

static int copy_tensor(const model_t *from, const char *src, model_t *to, const char *dst, mb_error_t *err)
{
    int a = model_tensor_index(from, src), b = model_tensor_index(to, dst);
    if (a < 0 || b < 0 || from->specs[a].n != to->specs[b].n)
        return mb_fail(err, "extract: internal layout mismatch at '%s'", dst);
    memcpy(to->tensor[b], from->tensor[a], sizeof(float) * (size_t)to->specs[b].n);
    return 0;
}

int model_extract(const model_t *full, be_t *be, const char *task, model_t **out, mb_error_t *err)
{
    const model_config_t *c = &full->cfg;
    *out = NULL;
    if (c->subnet_key >= 0)
        return mb_fail(err, "extract: the model is already a sub-network (for %s); extract from the full "
                            "task-moe model", c->keys[c->subnet_key]);
    if (c->routing[MODEL_ENCODER] != MODEL_ROUTE_TASK && c->routing[MODEL_DECODER] != MODEL_ROUTE_TASK)
        return mb_fail(err, "extract: a %s model has no task-routed layers; only task-moe models (or "
                            "--enc-routing/--dec-routing task) have task sub-networks", c->variant);
    int key = model_find_key(c, task);
    if (key < 0) {
        char list[512] = "";
        for (int k = 0; k < c->n_keys; k++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "", c->keys[k]);
        return mb_fail(err, "extract: '%s' is neither a task of the model nor a %s key (keys: %s)", task,
                       model_key_name(c->task_key), list);
    }
    model_config_t sc = *c;
    sc.subnet_key = key;
    snprintf(sc.variant, sizeof sc.variant, "task-subnet");
    if (model_config_finish(&sc, err) != 0)
        return -1;
    model_t *sub;
    if (model_create(&sc, &sub, err) != 0)
        return -1;
    /* the same vocabulary: a sub-network reads and writes the same text */
    if (model_set_vocab(sub, full->vocab_blob, full->vocab_len, err) != 0)
        goto fail;
    /* everything with the same name (all but the fixed layers' experts) */
    for (int i = 0; i < sub->n_tensors; i++) {
        int a = model_tensor_index(full, sub->specs[i].name);
        if (a >= 0 && full->specs[a].n == sub->specs[i].n)
            memcpy(sub->tensor[i], full->tensor[a], sizeof(float) * (size_t)sub->specs[i].n);
    }
    /* the fixed layers: the task's top-k experts, in rank order */
    const int k = c->top_k, d = c->d_model;
    static const char *const parts[] = {"fc1.w", "fc1.b", "fc2.w", "fc2.b"};
    for (int st = 0; st < 2; st++) {
        if (c->routing[st] != MODEL_ROUTE_TASK)
            continue;
        const model_layer_t *layers = st ? full->dec : full->enc;
        const float *task_row = (st ? full->dec_task_embed : full->enc_task_embed) + (size_t)key * d;
        int n = st ? c->dec_layers : c->enc_layers;
        for (int i = 0; i < n; i++) {
            if (!model_layer_is_fixed(&sc, (model_stack_t)st, i))
                continue;
            const model_moe_t *moe = &layers[i].moe;
            float probs[4096], weight[4096];
            int choice[4096];
            moe_gate_topk(be, moe->gate, moe->n_experts, d, task_row, 1, k, probs, choice, weight);
            char src[64], dst[64];
            const char *sn = st ? "dec" : "enc";
            for (int r = 0; r < k; r++)
                for (int p = 0; p < 4; p++) {
                    snprintf(src, sizeof src, "%s.%d.moe.%d.%s", sn, i, choice[r], parts[p]);
                    snprintf(dst, sizeof dst, "%s.%d.moe.%d.%s", sn, i, r, parts[p]);
                    if (copy_tensor(full, src, sub, dst, err) != 0)
                        goto fail;
                }
            snprintf(dst, sizeof dst, "%s.%d.moe.fixed_weight", sn, i);
            int w = model_tensor_index(sub, dst);
            if (w < 0) {
                mb_fail(err, "extract: internal layout mismatch at '%s'", dst);
                goto fail;
            }
            memcpy(sub->tensor[w], weight, sizeof(float) * (size_t)k);
        }
    }
    *out = sub;
    return 0;
fail:
    model_free(sub);
    return -1;
}
