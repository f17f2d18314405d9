/* fuzz_scenario: the scenario parser (libinih + scenario.c's keys and
 * checks) on arbitrary text. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "harness/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    scn_t s;
    mb_error_t err;
    scn_load_string(text, "fuzz.ini", &s, &err);
    free(text);
    return 0;
}
