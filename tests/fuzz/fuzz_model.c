/* fuzz_model: the safetensors reader and the model loader (header, config
 * in __metadata__, tensor checks, F16/BF16 conversion, finite check) on
 * arbitrary bytes, through the same path-taking entry points as the CLI. */
#include <stdlib.h>

#include "fuzz.h"
#include "models/model.h"
#include "models/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_as_file(data, size);
    if (!path)
        return 0;
    mb_error_t err;
    model_t *m = NULL;
    if (model_load(path, &m, &err) == 0)
        model_free(m);
    model_config_t c;
    model_load_config(path, &c, &err);
    st_file_t *f;
    if (st_open(path, &f, &err) == 0) { /* every tensor as float, whatever the model thinks of them */
        for (int i = 0; i < st_count(f) && i < 16; i++) {
            const st_tensor_t *t = st_tensor_at(f, i);
            if (t->n_elems <= (1u << 16)) {
                float *x = malloc(t->n_elems * sizeof *x + 1);
                if (x)
                    st_read_f32(f, t, x, t->n_elems, &err);
                free(x);
            }
        }
        st_close(f);
    }
    return 0;
}
