/* registry: the one list of the backends moebench knows, which of them this
 * build compiled in (make WITH_OPENBLAS=0 / WITH_ONEDNN=0 leave one out), and
 * opening one by name. The scenario check, `moebench backends`, the help
 * texts and the build all read this list. ref (the oracle) comes first. */
#ifndef REGISTRY_H
#define REGISTRY_H
#include "backends/backend.h"

#ifndef MB_WITH_OPENBLAS
#define MB_WITH_OPENBLAS 1
#endif
#ifndef MB_WITH_ONEDNN
#define MB_WITH_ONEDNN 1
#endif

extern const be_ops_t be_ref_ops;
#if MB_WITH_OPENBLAS
extern const be_ops_t be_openblas_ops;
#endif
#if MB_WITH_ONEDNN
extern const be_ops_t be_onednn_ops;
#endif

/* Every backend the project has, compiled in or not, and "auto" (be_open
 * resolves it to the backend auto.c measures fastest here). */
int be_known_count(void);
const char *be_known_name(int i);
/* NULL when compiled in, else why not and how to get it ("built with
 * WITH_ONEDNN=0; rebuild with make WITH_ONEDNN=1"). Also NULL for a name
 * moebench does not know (see be_is_known). */
const char *be_missing_reason(const char *name);
int be_is_known(const char *name);
/* "ref, openblas, onednn": the known names, for messages. */
const char *be_known_list(void);
#endif
