/* fuzz_ids: the token-id line parser (common/mb_ids.c, used by translate
 * --ids, the trainer's id corpora and the distillation cache) on arbitrary
 * bytes (NULs, huge numbers, no newline), with and without a limit. */
#include <stdlib.h>

#include "common/mb_ids.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int limit = 0; limit <= 1000; limit += 1000) {
        int *row = NULL;
        size_t cap = 0, n = 0, bad = 0, bad_len = 0;
        int rc = mb_ids_parse((const char *)data, size, limit, &row, &cap, &n, &bad, &bad_len);
        if (rc > 0 && bad + bad_len > size)
            abort(); /* the bad word must lie inside the line */
        for (size_t i = 0; i < n; i++)
            if (row[i] < 0 || (limit > 0 && row[i] >= limit))
                abort(); /* an id outside the range was let through */
        if (n > size / 2 + 1)
            abort(); /* more ids than the bytes can hold */
        free(row);
    }
    return 0;
}
