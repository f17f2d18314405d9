/* registry: the backends compiled into this build (their op tables), in the
 * order `moebench backends` lists them: ref (the oracle) first. */
#ifndef REGISTRY_H
#define REGISTRY_H
#include "backends/backend.h"
extern const be_ops_t be_ref_ops;
extern const be_ops_t be_openblas_ops;
extern const be_ops_t be_onednn_ops;
#endif
