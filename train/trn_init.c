/* trn_init: a student's weights from its teacher (see trn_init.h). */
#include "train/trn_init.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int trn_student_config(const model_config_t *teacher, model_config_t *student, mb_error_t *err)
{
    *student = *teacher;
    snprintf(student->variant, sizeof student->variant, "student");
    student->routing[MODEL_ENCODER] = student->routing[MODEL_DECODER] = MODEL_ROUTE_DENSE;
    student->subnet_key = -1;
    student->distilled_from[0] = 0;
    return model_config_finish(student, err);
}

int trn_init_check(const model_config_t *t, const model_config_t *s, mb_error_t *err)
{
    struct { const char *what; int teacher, student; } f[] = {
        {"d_model", t->d_model, s->d_model}, {"heads", t->n_heads, s->n_heads},
        {"vocabulary size", t->vocab, s->vocab}, {"tied embeddings", t->tie_embed, s->tie_embed}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].teacher != f[i].student)
            return mb_fail(err, "the student's %s is %d but the teacher's is %d: its embeddings and attention "
                                "cannot start from the teacher's; keep the teacher's %s (only layers and d_ff "
                                "may differ)", f[i].what, f[i].student, f[i].teacher, f[i].what);
    if (s->enc_layers > t->enc_layers || s->dec_layers > t->dec_layers)
        return mb_fail(err, "the student has %d+%d layers but the teacher only %d+%d: the extra layers would "
                            "start from nothing; give the student at most the teacher's layers",
                       s->enc_layers, s->dec_layers, t->enc_layers, t->dec_layers);
    return 0;
}

static const model_tensor_spec_t *find(const model_t *m, const char *name, int *idx)
{
    *idx = model_tensor_index(m, name);
    return *idx >= 0 ? &m->specs[*idx] : NULL;
}

/* "enc.3.ffn.fc1.w" -> stack "enc", layer 3, rest "fc1.w"; 0 when not a dense FFN tensor. */
static int ffn_name(const char *name, char *stack, int *layer, char *rest, size_t len)
{
    int n = 0;
    if (sscanf(name, "%3[a-z].%d.ffn.%n", stack, layer, &n) != 2 || n == 0)
        return 0;
    snprintf(rest, len, "%s", name + n);
    return 1;
}

static void note_fresh(trn_init_report_t *r, const model_tensor_spec_t *s)
{
    r->fresh++;
    r->fresh_params += s->n;
    size_t used = strlen(r->fresh_names);
    if (used + strlen(s->name) + 8 < sizeof r->fresh_names)
        snprintf(r->fresh_names + used, sizeof r->fresh_names - used, "%s%s", used ? ", " : "", s->name);
    else if (!strstr(r->fresh_names, ", ..."))
        snprintf(r->fresh_names + used, sizeof r->fresh_names - used, ", ...");
}

int trn_init_from(model_t *student, const model_t *teacher, trn_init_report_t *r, mb_error_t *err)
{
    memset(r, 0, sizeof *r);
    if (trn_init_check(&teacher->cfg, &student->cfg, err) != 0)
        return -1;
    for (int i = 0; i < student->n_tensors; i++) {
        const model_tensor_spec_t *s = &student->specs[i];
        int ti;
        const model_tensor_spec_t *t = find(teacher, s->name, &ti);
        if (t && t->n == s->n && t->shape[0] == s->shape[0] && t->shape[1] == s->shape[1]) {
            memcpy(student->tensor[i], teacher->tensor[ti], sizeof(float) * s->n);
            r->copied++;
            r->copied_params += s->n;
            continue;
        }
        char stack[4], rest[32], name[96];
        int layer;
        if (t || !ffn_name(s->name, stack, &layer, rest, sizeof rest)) {
            note_fresh(r, s); /* same name, other shape (d_ff), or nothing like it in the teacher */
            continue;
        }
        /* a dense FFN where the teacher has experts: their mean, summed in
         * double in expert order (the test recomputes it the same way) */
        int ne = 0, idx[4096];
        for (int e = 0; e < 4096; e++) {
            snprintf(name, sizeof name, "%s.%d.moe.%d.%s", stack, layer, e, rest);
            const model_tensor_spec_t *x = find(teacher, name, &idx[ne]);
            if (!x)
                break;
            if (x->n != s->n || x->shape[0] != s->shape[0] || x->shape[1] != s->shape[1]) {
                ne = 0; /* the experts' d_ff is not the student's */
                break;
            }
            ne++;
        }
        if (ne == 0) {
            note_fresh(r, s);
            continue;
        }
        float *dst = student->tensor[i];
        for (uint64_t j = 0; j < s->n; j++) {
            double sum = 0;
            for (int e = 0; e < ne; e++)
                sum += (double)teacher->tensor[idx[e]][j];
            dst[j] = (float)(sum / ne);
        }
        r->averaged++;
        r->averaged_params += s->n;
    }
    for (int i = 0; i < teacher->n_tensors; i++) /* gates, task embeddings, experts, deeper layers */
        if (model_tensor_index(student, teacher->specs[i].name) < 0 && teacher->specs[i].expert < 0)
            r->dropped++;
    return 0;
}

uint32_t trn_model_crc(const model_t *m)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    model_meta_t meta;
    model_config_t c = m->cfg;
    c.distilled_from[0] = 0; /* who taught it is not what it computes */
    model_config_to_meta(&c, &meta);
    for (int i = 0; i < meta.n; i++) {
        crc = crc32(crc, (const Bytef *)meta.key[i], (uInt)strlen(meta.key[i]) + 1);
        crc = crc32(crc, (const Bytef *)meta.value[i], (uInt)strlen(meta.value[i]) + 1);
    }
    for (int i = 0; i < m->n_tensors; i++) { /* in chunks: uInt is 32 bits */
        const Bytef *p = (const Bytef *)m->tensor[i];
        uint64_t left = m->specs[i].n * sizeof(float);
        while (left) {
            uInt k = left > (1u << 30) ? (1u << 30) : (uInt)left;
            crc = crc32(crc, p, k);
            p += k;
            left -= k;
        }
    }
    return (uint32_t)crc;
}
