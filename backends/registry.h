/* registry: the backends compiled into this build (their op tables). */
#ifndef REGISTRY_H
#define REGISTRY_H
#include "backends/backend.h"
extern const be_ops_t be_ref_ops;
#endif
