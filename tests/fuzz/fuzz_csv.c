/* fuzz_csv: the CSV reader and what reads its tables: compare (the table
 * against itself, matching and judging every metric) and report (reading
 * and aggregating a results, kernels, training-curve or paired-bootstrap CSV). */
#include "analysis/compare.h"
#include "analysis/csvin.h"
#include "analysis/report.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mb_error_t err;
    csvin_t *t;
    if (csvin_parse("fuzz.csv", (const char *)data, size, &t, &err) == 0) {
        cmp_options_t o;
        cmp_options_default(&o);
        cmp_report_t *r;
        if (cmp_tables(t, t, &o, &r, &err) == 0)
            cmp_report_free(r);
        csvin_free(t);
    }
    const char *path = fuzz_as_file(data, size);
    report_t *r = path ? report_create() : NULL;
    if (r) {
        if (report_read_csv(r, path, &err) == 0)
            report_aggregate(r, &err);
        report_free(r);
    }
    return 0;
}
