/* trn_init: a student's starting point from its teacher, for sequence-level
 * distillation (`moebench distill`, and `moebench train --init-from`). As
 * "Beyond Distillation" did it, following Switch Transformers: every
 * non-expert weight of the teacher (embeddings, attention, layer norms,
 * dense FFNs, final layer norms, output projection) is copied into the
 * student; an FFN that is a mixture of experts in the teacher becomes, in
 * the dense student, the element-wise mean of that layer's stored experts
 * (fc1 and fc2, weights and biases; docs/training.md says why); gates and
 * task embeddings have no place in a dense student and are dropped.
 *
 * Shapes: the student's d_model, heads, vocabulary and embedding tying must
 * be the teacher's (otherwise nothing of the embeddings or attention
 * carries over, and trn_init_check refuses); a student with fewer layers
 * gets the teacher's first layers; a different d_ff leaves the FFNs as the
 * caller initialised them (fresh), and the report says which tensors those
 * are. This module owns no model; it never prints. */
#ifndef TRAIN_TRN_INIT_H
#define TRAIN_TRN_INIT_H

#include <stdint.h>

#include "models/model.h"

/* The default student of a teacher: its shape, tasks and tying, dense
 * (routing dense in both stacks), variant "student", no sub-network, no
 * provenance. Shape overrides go on top, then model_config_finish. */
int trn_student_config(const model_config_t *teacher, model_config_t *student, mb_error_t *err);

/* Can `student` start from `teacher`? d_model, heads, vocabulary and tying
 * equal, and no more layers than the teacher in either stack; else -1 and
 * one line naming the first difference. */
int trn_init_check(const model_config_t *teacher, const model_config_t *student, mb_error_t *err);

typedef struct trn_init_report {
    int copied, averaged, fresh;               /* tensors of the student */
    int dropped;                               /* non-expert tensors of the teacher the student has no place for */
    uint64_t copied_params, averaged_params, fresh_params;
    char fresh_names[256];                     /* the first fresh tensors, comma-separated */
} trn_init_report_t;

/* Overwrites the student's weights that can come from the teacher (see
 * above); the others keep their values. Checks trn_init_check first. */
int trn_init_from(model_t *student, const model_t *teacher, trn_init_report_t *r, mb_error_t *err);

/* CRC-32 (zlib's) of a model's weights and config metadata (its provenance
 * aside): the teacher's identity in the distillation cache and in the
 * student's `distilled_from`. */
uint32_t trn_model_crc(const model_t *m);

#endif
