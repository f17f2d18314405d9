/* fuzz_ids: the `translate --ids` line parser on arbitrary bytes (NULs,
 * huge numbers, no newline), exactly as cmd_translate calls it. */
#include <stdlib.h>

#include "cli/ids_line.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int *row = malloc(sizeof(int) * (size / 2 + 1)), n = 0;
    if (!row)
        return 0;
    mb_error_t err;
    if (ids_parse_line((const char *)data, size, "stdin", 1, row, &n, &err) == 0 && n > (int)(size / 2 + 1))
        abort(); /* wrote past the room the caller gives */
    free(row);
    return 0;
}
