/* safetensors: validated reading and atomic writing of safetensors files (see safetensors.h).
 *
 * Every size in a header is untrusted: it is range-checked against the file before it is used,
 * products are overflow-checked, and nothing is allocated from a count taken from the file
 * except the header itself (after it is checked against the file size and a 100 MB cap). */
#define _FILE_OFFSET_BITS 64 /* fseeko/ftello with 64-bit offsets on 32-bit hosts too */

#include "models/safetensors.h"

#include "common/mb_file.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER 100000000ull  /* same cap as the reference implementation */
#define ST_MAX_JSON_INT 9007199254740992.0 /* 2^53: above it a JSON double is not an exact integer */
#define ST_READ_CHUNK (1u << 16)     /* bytes per fread when converting (on the stack) */
#define ST_WRITE_CHUNK (1u << 20)    /* bytes per fwrite: large writes for multi-GB files */

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {
    [ST_F32] = {"F32", 4}, [ST_F16] = {"F16", 2}, [ST_BF16] = {"BF16", 2},
    [ST_I32] = {"I32", 4}, [ST_I64] = {"I64", 8}, [ST_U8] = {"U8", 1},
};
#define N_DTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))

const char *st_dtype_name(st_dtype_t d)
{
    return (int)d >= 0 && (int)d < N_DTYPES ? dtypes[d].name : "?";
}

size_t st_dtype_size(st_dtype_t d)
{
    return (int)d >= 0 && (int)d < N_DTYPES ? dtypes[d].size : 0;
}

/* ---- float conversions (bit-level, so they do not depend on the FPU's rounding mode) ---- */

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0x1f) /* inf, or nan with its payload kept */
        return f32_from_bits(sign | 0x7f800000u | (mant << 13));
    if (exp != 0) /* normal: rebias the exponent from 15 to 127 */
        return f32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
    /* zero or subnormal mant * 2^-24: exact in float (mant < 2^11, result is a float normal) */
    float v = (float)mant * 0x1p-24f;
    return sign ? -v : v;
}

static uint16_t f32_to_f16(float f)
{
    uint32_t x = f32_bits(f), sign = (x >> 16) & 0x8000u, a = x & 0x7fffffffu;
    if (a > 0x7f800000u) /* nan stays nan: the quiet bit keeps the mantissa non-zero */
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    if (a >= 0x477ff000u) /* >= 65520 (halfway past 65504, the largest half) rounds to inf */
        return (uint16_t)(sign | 0x7c00u);
    if (a >= 0x38800000u) { /* half normal range: rebias, round the 13 dropped bits to even */
        a -= 0x38000000u;
        a += 0xfffu + ((a >> 13) & 1u);
        return (uint16_t)(sign | (a >> 13));
    }
    if (a <= 0x33000000u) /* <= 2^-25: rounds to zero (2^-25 itself is a tie, and 0 is even) */
        return (uint16_t)sign;
    /* half subnormal: the result is round(value / 2^-24) = round(m * 2^(e - 126)), shift 14..24;
     * a carry into bit 10 yields 0x0400, the smallest normal, which is the right encoding */
    uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u, s = 126 - e;
    uint32_t q = m >> s, rem = m & ((1u << s) - 1), half = 1u << (s - 1);
    if (rem > half || (rem == half && (q & 1u)))
        q++;
    return (uint16_t)(sign | q);
}

static float bf16_to_f32(uint16_t b)
{
    return f32_from_bits((uint32_t)b << 16);
}

static uint16_t f32_to_bf16(float f)
{
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) /* nan: truncating could give inf, so force the quiet bit */
        return (uint16_t)((x >> 16) | 0x0040u);
    x += 0x7fffu + ((x >> 16) & 1u); /* round to nearest even; overflow correctly becomes inf */
    return (uint16_t)(x >> 16);
}

/* Little-endian decode/encode of one chunk; written byte by byte so the file format does not
 * depend on the host's byte order (compilers turn these into plain loads and stores). */
static void decode_chunk(st_dtype_t d, const uint8_t *in, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (d == ST_F32) {
            const uint8_t *p = in + 4 * i;
            out[i] = f32_from_bits((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                                   (uint32_t)p[3] << 24);
        } else {
            uint16_t h = (uint16_t)(in[2 * i] | in[2 * i + 1] << 8);
            out[i] = d == ST_F16 ? f16_to_f32(h) : bf16_to_f32(h);
        }
    }
}

static void encode_chunk(st_dtype_t d, const float *in, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (d == ST_F32) {
            uint32_t u = f32_bits(in[i]);
            for (int b = 0; b < 4; b++)
                out[4 * i + b] = (uint8_t)(u >> (8 * b));
        } else {
            uint16_t h = d == ST_F16 ? f32_to_f16(in[i]) : f32_to_bf16(in[i]);
            out[2 * i] = (uint8_t)h;
            out[2 * i + 1] = (uint8_t)(h >> 8);
        }
    }
}

/* ---- reading ---- */

struct st_file {
    char *path;
    FILE *fp;
    uint64_t data_start; /* 8 + header length: file offset of the data buffer */
    uint64_t data_size;
    int n_tensors, cap_tensors;
    st_tensor_t *tensors;  /* header order */
    st_tensor_t **by_name; /* sorted by name, for st_find */
    int n_meta;
    char **meta_keys, **meta_values; /* header order */
};

/* Accepts a JSON number that is an exact integer in [0, 2^53]; otherwise says why in `why`. */
static int json_uint(const cJSON *v, uint64_t *out, char *why, size_t len)
{
    if (!cJSON_IsNumber(v)) {
        snprintf(why, len, "is not a number");
        return -1;
    }
    double d = v->valuedouble;
    if (!(d >= 0) || d != floor(d) || d > ST_MAX_JSON_INT) {
        snprintf(why, len, "is %.17g", d);
        return -1;
    }
    *out = (uint64_t)d;
    return 0;
}

static void format_shape(const st_tensor_t *t, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < t->ndim && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%" PRId64, i ? ", " : "", t->shape[i]);
    if (used < len)
        snprintf(buf + used, len - used, "]");
}

/* Fills t (except name) from one header entry and checks it against the data buffer. */
static int parse_tensor(const char *path, const char *name, const cJSON *entry, uint64_t data_size,
                        st_tensor_t *t, mb_error_t *err)
{
    char why[64];
    if (!cJSON_IsObject(entry))
        return mb_fail(err, "%s: tensor '%s': header entry is not an object", path, name);
    const char *fields[] = {"dtype", "shape", "data_offsets"};
    for (int i = 0; i < 3; i++)
        if (!cJSON_GetObjectItemCaseSensitive(entry, fields[i]))
            return mb_fail(err, "%s: tensor '%s': missing \"%s\"", path, name, fields[i]);

    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    if (!cJSON_IsString(dtype))
        return mb_fail(err, "%s: tensor '%s': \"dtype\" is not a string", path, name);
    int d = 0;
    while (d < N_DTYPES && strcmp(dtypes[d].name, dtype->valuestring) != 0)
        d++;
    if (d == N_DTYPES)
        return mb_fail(err, "%s: tensor '%s': unknown dtype '%s' (supported: F32, F16, BF16, I32, I64, U8)",
                       path, name, dtype->valuestring);
    t->dtype = (st_dtype_t)d;

    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    if (!cJSON_IsArray(shape))
        return mb_fail(err, "%s: tensor '%s': \"shape\" is not an array", path, name);
    t->ndim = 0;
    t->n_elems = 1;
    int zero_dim = 0, overflow = 0;
    for (const cJSON *dim = shape->child; dim; dim = dim->next) {
        if (t->ndim == ST_MAX_DIMS)
            return mb_fail(err, "%s: tensor '%s': shape has more than %d dimensions", path, name, ST_MAX_DIMS);
        uint64_t v;
        if (json_uint(dim, &v, why, sizeof why) != 0)
            return mb_fail(err, "%s: tensor '%s': shape[%d] %s; dimensions must be non-negative integers",
                           path, name, t->ndim, why);
        t->shape[t->ndim++] = (int64_t)v;
        /* a zero dimension makes the product 0 even when the other dimensions overflow */
        if (v == 0)
            zero_dim = 1;
        else if (t->n_elems > UINT64_MAX / v)
            overflow = 1;
        else
            t->n_elems *= v;
    }
    if (zero_dim)
        t->n_elems = 0;
    else if (overflow)
        return mb_fail(err, "%s: tensor '%s': the element count of its shape overflows 64 bits", path, name);

    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return mb_fail(err, "%s: tensor '%s': \"data_offsets\" must be an array of two integers [begin, end]",
                       path, name);
    uint64_t be[2];
    for (int i = 0; i < 2; i++)
        if (json_uint(cJSON_GetArrayItem(offs, i), &be[i], why, sizeof why) != 0)
            return mb_fail(err, "%s: tensor '%s': data_offsets[%d] %s; offsets must be non-negative integers",
                           path, name, i, why);
    t->begin = be[0];
    t->end = be[1];
    if (t->begin > t->end)
        return mb_fail(err, "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] have begin > end", path,
                       name, t->begin, t->end);
    if (t->end > data_size)
        return mb_fail(err,
                       "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] extend past the data (%" PRIu64
                       " bytes); the file is truncated or corrupt",
                       path, name, t->begin, t->end, data_size);
    char shp[128];
    format_shape(t, shp, sizeof shp);
    uint64_t esz = dtypes[t->dtype].size;
    if (t->n_elems > UINT64_MAX / esz)
        return mb_fail(err, "%s: tensor '%s': the byte size of shape %s of %s overflows 64 bits", path, name, shp,
                       dtypes[t->dtype].name);
    if (t->end - t->begin != t->n_elems * esz)
        return mb_fail(err,
                       "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] hold %" PRIu64
                       " bytes but shape %s of %s needs %" PRIu64,
                       path, name, t->begin, t->end, t->end - t->begin, shp, dtypes[t->dtype].name,
                       t->n_elems * esz);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int parse_metadata(st_file_t *f, const cJSON *meta, mb_error_t *err)
{
    if (f->meta_keys)
        return mb_fail(err, "%s: \"__metadata__\" appears twice in the header", f->path);
    if (!cJSON_IsObject(meta))
        return mb_fail(err, "%s: \"__metadata__\" is not an object of strings", f->path);
    int n = 0;
    for (const cJSON *m = meta->child; m; m = m->next, n++)
        if (!cJSON_IsString(m))
            return mb_fail(err, "%s: \"__metadata__\" value of '%s' is not a string", f->path, m->string);
    /* the count is backed by that many parsed strings, so it is bounded by the header size */
    f->meta_keys = calloc((size_t)n + 1, sizeof *f->meta_keys);
    f->meta_values = calloc((size_t)n + 1, sizeof *f->meta_values);
    if (!f->meta_keys || !f->meta_values)
        return mb_fail(err, "%s: out of memory reading the metadata", f->path);
    for (const cJSON *m = meta->child; m; m = m->next, f->n_meta++) {
        f->meta_keys[f->n_meta] = strdup(m->string);
        f->meta_values[f->n_meta] = strdup(m->valuestring);
        if (!f->meta_keys[f->n_meta] || !f->meta_values[f->n_meta]) {
            f->n_meta++; /* so st_close frees the one that succeeded */
            return mb_fail(err, "%s: out of memory reading the metadata", f->path);
        }
    }
    /* duplicate keys (cJSON keeps both) would make st_meta ambiguous; sorting finds them */
    char **sorted = malloc(((size_t)n + 1) * sizeof *sorted);
    if (!sorted)
        return mb_fail(err, "%s: out of memory reading the metadata", f->path);
    memcpy(sorted, f->meta_keys, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_str);
    int rc = 0;
    for (int i = 1; i < n && rc == 0; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0)
            rc = mb_fail(err, "%s: \"__metadata__\" key '%s' appears twice", f->path, sorted[i]);
    free(sorted);
    return rc;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((*(st_tensor_t *const *)a)->name, (*(st_tensor_t *const *)b)->name);
}

static int cmp_range(const void *a, const void *b)
{
    const st_tensor_t *x = *(st_tensor_t *const *)a, *y = *(st_tensor_t *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Duplicate names (cJSON keeps both keys) and overlapping byte ranges, each found by sorting. */
static int check_names_and_ranges(st_file_t *f, mb_error_t *err)
{
    size_t n = (size_t)f->n_tensors;
    f->by_name = malloc((n + 1) * sizeof *f->by_name);
    st_tensor_t **by_range = malloc((n + 1) * sizeof *by_range);
    if (!f->by_name || !by_range) {
        free(by_range);
        return mb_fail(err, "%s: out of memory indexing %zu tensors", f->path, n);
    }
    for (size_t i = 0; i < n; i++)
        f->by_name[i] = by_range[i] = &f->tensors[i];
    qsort(f->by_name, n, sizeof *f->by_name, cmp_name);
    qsort(by_range, n, sizeof *by_range, cmp_range);
    int rc = 0;
    for (size_t i = 1; i < n && rc == 0; i++)
        if (strcmp(f->by_name[i - 1]->name, f->by_name[i]->name) == 0)
            rc = mb_fail(err, "%s: tensor name '%s' appears twice in the header", f->path, f->by_name[i]->name);
    /* sorted by begin, a range overlaps an earlier one exactly when it starts before the furthest
     * end seen so far; empty ranges hold no bytes and overlap nothing */
    const st_tensor_t *furthest = NULL;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const st_tensor_t *t = by_range[i];
        if (t->begin == t->end)
            continue;
        if (furthest && t->begin < furthest->end)
            rc = mb_fail(err,
                         "%s: tensors '%s' [%" PRIu64 ", %" PRIu64 "] and '%s' [%" PRIu64 ", %" PRIu64
                         "] overlap in the data buffer",
                         f->path, furthest->name, furthest->begin, furthest->end, t->name, t->begin, t->end);
        if (!furthest || t->end > furthest->end)
            furthest = t;
    }
    free(by_range);
    return rc;
}

/* Reads and checks the 8-byte length, then returns the header text (NUL-terminated) in *out. */
static int read_header(st_file_t *f, char **out, uint64_t *len_out, mb_error_t *err)
{
    struct stat sb;
    if (fstat(fileno(f->fp), &sb) != 0)
        return mb_fail(err, "%s: cannot stat: %s", f->path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return mb_fail(err, "%s: not a regular file", f->path);
    uint64_t size = (uint64_t)sb.st_size;
    if (size < 8)
        return mb_fail(err, "%s: file is %" PRIu64 " bytes, shorter than 8 bytes (the header length); "
                       "not a safetensors file, or truncated", f->path, size);
    uint8_t lenbuf[8];
    if (fread(lenbuf, 1, 8, f->fp) != 8)
        return mb_fail(err, "%s: cannot read the header length: %s", f->path,
                       ferror(f->fp) ? strerror(errno) : "unexpected end of file");
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | lenbuf[i];
    if (n == 0)
        return mb_fail(err, "%s: header length is 0; not a safetensors file", f->path);
    if (n > ST_MAX_HEADER)
        return mb_fail(err, "%s: header length %" PRIu64 " exceeds the %llu-byte limit; not a safetensors file, "
                       "or corrupt", f->path, n, ST_MAX_HEADER);
    if (n > size - 8)
        return mb_fail(err, "%s: header length %" PRIu64 " runs past the end of the file (%" PRIu64 " bytes); "
                       "the file is truncated or not a safetensors file", f->path, n, size);
    char *text = malloc((size_t)n + 1);
    if (!text)
        return mb_fail(err, "%s: out of memory for the %" PRIu64 "-byte header", f->path, n);
    if (fread(text, 1, (size_t)n, f->fp) != (size_t)n) {
        free(text);
        return mb_fail(err, "%s: cannot read the %" PRIu64 "-byte header: %s", f->path, n,
                       ferror(f->fp) ? strerror(errno) : "unexpected end of file");
    }
    text[n] = '\0';
    f->data_start = 8 + n;
    f->data_size = size - 8 - n;
    *out = text;
    *len_out = n;
    return 0;
}

static int parse_header(st_file_t *f, const char *text, uint64_t len, mb_error_t *err)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, (size_t)len, &end, 0);
    if (!root) {
        uint64_t at = end && end >= text ? (uint64_t)(end - text) : 0;
        return mb_fail(err, "%s: header is not valid JSON (error near byte %" PRIu64 " of %" PRIu64 ")", f->path,
                       at, len);
    }
    int rc = 0;
    /* padding after the JSON may only be whitespace (writers pad with spaces) */
    for (const char *p = end; p < text + len && rc == 0; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            rc = mb_fail(err, "%s: unexpected text after the JSON header at byte %td", f->path, p - text);
    if (rc == 0 && !cJSON_IsObject(root))
        rc = mb_fail(err, "%s: header is not a JSON object", f->path);
    for (const cJSON *e = rc == 0 ? root->child : NULL; e && rc == 0; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            rc = parse_metadata(f, e, err);
            continue;
        }
        /* grow as entries validate, so the allocation follows real tensors, not a raw count */
        if (f->n_tensors == f->cap_tensors) {
            int cap = f->cap_tensors ? 2 * f->cap_tensors : 16;
            st_tensor_t *grown = realloc(f->tensors, (size_t)cap * sizeof *grown);
            if (!grown) {
                rc = mb_fail(err, "%s: out of memory reading %d tensors", f->path, f->n_tensors);
                break;
            }
            f->tensors = grown;
            f->cap_tensors = cap;
        }
        st_tensor_t *t = &f->tensors[f->n_tensors];
        memset(t, 0, sizeof *t);
        rc = parse_tensor(f->path, e->string, e, f->data_size, t, err);
        if (rc == 0 && !(t->name = strdup(e->string)))
            rc = mb_fail(err, "%s: out of memory reading tensor names", f->path);
        if (rc == 0)
            f->n_tensors++;
    }
    cJSON_Delete(root);
    return rc == 0 ? check_names_and_ranges(f, err) : rc;
}

int st_open(const char *path, st_file_t **out, mb_error_t *err)
{
    *out = NULL;
    st_file_t *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return mb_fail(err, "%s: out of memory", path);
    }
    /* a FIFO would block in fopen, a directory or device would be read as garbage */
    if (mb_input_open(path, "safetensors model file", 0, &f->fp, err) != 0) {
        st_close(f);
        return -1;
    }
    char *text = NULL;
    uint64_t len = 0;
    if (read_header(f, &text, &len, err) != 0 || parse_header(f, text, len, err) != 0) {
        free(text);
        st_close(f);
        return -1;
    }
    free(text);
    *out = f;
    return 0;
}

void st_close(st_file_t *f)
{
    if (!f)
        return;
    if (f->fp)
        fclose(f->fp);
    for (int i = 0; i < f->n_tensors; i++)
        free(f->tensors[i].name);
    for (int i = 0; i < f->n_meta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->tensors);
    free(f->by_name);
    free(f->meta_keys);
    free(f->meta_values);
    free(f->path);
    free(f);
}

int st_count(const st_file_t *f)
{
    return f->n_tensors;
}

const st_tensor_t *st_tensor_at(const st_file_t *f, int i)
{
    return i >= 0 && i < f->n_tensors ? &f->tensors[i] : NULL;
}

static int cmp_key_name(const void *key, const void *elem)
{
    return strcmp((const char *)key, (*(st_tensor_t *const *)elem)->name);
}

const st_tensor_t *st_find(const st_file_t *f, const char *name)
{
    if (f->n_tensors == 0)
        return NULL;
    st_tensor_t **hit = bsearch(name, f->by_name, (size_t)f->n_tensors, sizeof *f->by_name, cmp_key_name);
    return hit ? *hit : NULL;
}

const char *st_meta(const st_file_t *f, const char *key)
{
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_keys[i], key) == 0)
            return f->meta_values[i];
    return NULL;
}

int st_meta_count(const st_file_t *f)
{
    return f->n_meta;
}

const char *st_meta_key_at(const st_file_t *f, int i)
{
    return i >= 0 && i < f->n_meta ? f->meta_keys[i] : NULL;
}

/* Positions the stream at the first byte of t, after checking t came from this file. */
static int seek_tensor(st_file_t *f, const st_tensor_t *t, mb_error_t *err)
{
    if (!t || t < f->tensors || t >= f->tensors + f->n_tensors)
        return mb_fail(err, "%s: the tensor passed to the reader does not belong to this file", f->path);
    if (fseeko(f->fp, (off_t)(f->data_start + t->begin), SEEK_SET) != 0)
        return mb_fail(err, "%s: tensor '%s': cannot seek to its data: %s", f->path, t->name, strerror(errno));
    return 0;
}

static int read_fail(st_file_t *f, const st_tensor_t *t, mb_error_t *err)
{
    int rc = mb_fail(err, "%s: tensor '%s': cannot read its data: %s", f->path, t->name,
                     ferror(f->fp) ? strerror(errno) : "unexpected end of file (was the file changed after opening?)");
    clearerr(f->fp);
    return rc;
}

int st_read_raw(st_file_t *f, const st_tensor_t *t, void *dst, uint64_t size, mb_error_t *err)
{
    if (seek_tensor(f, t, err) != 0)
        return -1;
    if (size != t->end - t->begin)
        return mb_fail(err, "%s: tensor '%s' holds %" PRIu64 " bytes but the destination holds %" PRIu64, f->path,
                       t->name, t->end - t->begin, size);
    if (size > SIZE_MAX)
        return mb_fail(err, "%s: tensor '%s' is too large for this machine's address space", f->path, t->name);
    if (size > 0 && fread(dst, 1, (size_t)size, f->fp) != (size_t)size)
        return read_fail(f, t, err);
    return 0;
}

int st_read_f32(st_file_t *f, const st_tensor_t *t, float *dst, uint64_t n, mb_error_t *err)
{
    if (seek_tensor(f, t, err) != 0)
        return -1;
    if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16)
        return mb_fail(err, "%s: tensor '%s' has dtype %s; only F32, F16 and BF16 read as float32 "
                       "(use st_read_raw)", f->path, t->name, dtypes[t->dtype].name);
    if (n != t->n_elems)
        return mb_fail(err, "%s: tensor '%s' has %" PRIu64 " elements but the destination holds %" PRIu64, f->path,
                       t->name, t->n_elems, n);
    /* convert through a small buffer so a 2 GB tensor never needs a second copy in memory */
    uint8_t chunk[ST_READ_CHUNK];
    size_t esz = dtypes[t->dtype].size, per = sizeof chunk / esz;
    for (uint64_t done = 0; done < n;) {
        size_t k = n - done < per ? (size_t)(n - done) : per;
        if (fread(chunk, esz, k, f->fp) != k)
            return read_fail(f, t, err);
        decode_chunk(t->dtype, chunk, dst + done, k);
        done += k;
    }
    return 0;
}

int st_map(st_file_t *f, st_map_t *out, mb_error_t *err)
{
    memset(out, 0, sizeof *out);
    struct stat sb;
    uint64_t want = f->data_start + f->data_size;
    if (fstat(fileno(f->fp), &sb) != 0 || !S_ISREG(sb.st_mode))
        return mb_fail(err, "%s: cannot map: not a regular file", f->path);
    /* a file cut since st_open would fault (SIGBUS) past its new end: read it instead, which fails cleanly */
    if ((uint64_t)sb.st_size != want || want > SIZE_MAX)
        return mb_fail(err, "%s: cannot map: the file is %lld bytes, not the %" PRIu64 " it had when opened", f->path,
                       (long long)sb.st_size, want);
    int flags = MAP_PRIVATE;
#ifdef MAP_POPULATE
    flags |= MAP_POPULATE; /* one call fills the page table, not a fault per page (the weights are all read) */
#endif
    void *p = mmap(NULL, (size_t)want, PROT_READ, flags, fileno(f->fp), 0);
    if (p == MAP_FAILED)
        return mb_fail(err, "%s: cannot map: %s", f->path, strerror(errno));
    out->base = p;
    out->len = (size_t)want;
    out->data = (const uint8_t *)p + f->data_start;
    return 0;
}

void st_unmap(st_map_t *m)
{
    if (m->base)
        munmap(m->base, m->len);
    memset(m, 0, sizeof *m);
}

/* ---- writing ---- */

/* Checks one output tensor and returns its byte size in *bytes. */
static int check_out_tensor(const char *path, const st_out_tensor_t *t, uint64_t *bytes, mb_error_t *err)
{
    if (!t->name)
        return mb_fail(err, "%s: a tensor to write has no name", path);
    if (strcmp(t->name, "__metadata__") == 0)
        return mb_fail(err, "%s: '__metadata__' is reserved and cannot name a tensor", path);
    if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16 && t->dtype != ST_U8)
        return mb_fail(err, "%s: tensor '%s': can only write F32, F16, BF16 or U8, not %s", path, t->name,
                       st_dtype_name(t->dtype));
    if (t->ndim < 0 || t->ndim > ST_MAX_DIMS)
        return mb_fail(err, "%s: tensor '%s': ndim %d is outside 0..%d", path, t->name, t->ndim, ST_MAX_DIMS);
    uint64_t n = 1;
    int zero_dim = 0, overflow = 0;
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] < 0 || (double)t->shape[i] > ST_MAX_JSON_INT)
            return mb_fail(err, "%s: tensor '%s': shape[%d] is %" PRId64 "; it must be in 0..2^53", path, t->name,
                           i, t->shape[i]);
        uint64_t v = (uint64_t)t->shape[i];
        if (v == 0)
            zero_dim = 1;
        else if (n > UINT64_MAX / v)
            overflow = 1;
        else
            n *= v;
    }
    if (zero_dim)
        n = 0;
    size_t esz = dtypes[t->dtype].size;
    if (overflow || n > UINT64_MAX / esz)
        return mb_fail(err, "%s: tensor '%s': the size of its shape overflows 64 bits", path, t->name);
    if (n > 0 && !t->data)
        return mb_fail(err, "%s: tensor '%s': data is NULL", path, t->name);
    *bytes = n * esz;
    return 0;
}

static cJSON *json_uint_raw(uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v); /* exact digits; cJSON would print 1e+15 style */
    return cJSON_CreateRaw(buf);
}

/* Builds the space-padded header; returns NULL only when out of memory. */
static char *build_header(const char *const *meta_keys, const char *const *meta_values, int n_meta,
                          const st_out_tensor_t *tensors, int n_tensors, const uint64_t *offsets,
                          uint64_t *len_out)
{
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    if (ok && n_meta > 0) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        ok = meta != NULL;
        for (int i = 0; ok && i < n_meta; i++)
            ok = cJSON_AddStringToObject(meta, meta_keys[i], meta_values[i]) != NULL;
    }
    for (int i = 0; ok && i < n_tensors; i++) {
        const st_out_tensor_t *t = &tensors[i];
        cJSON *e = cJSON_AddObjectToObject(root, t->name);
        cJSON *shape = e ? cJSON_CreateArray() : NULL, *offs = e ? cJSON_CreateArray() : NULL;
        ok = e && shape && offs && cJSON_AddStringToObject(e, "dtype", dtypes[t->dtype].name);
        ok = ok && cJSON_AddItemToObject(e, "shape", shape);
        if (!ok) {
            cJSON_Delete(shape);
            cJSON_Delete(offs);
            break;
        }
        ok = cJSON_AddItemToObject(e, "data_offsets", offs);
        if (!ok)
            cJSON_Delete(offs);
        for (int d = 0; ok && d < t->ndim; d++)
            ok = cJSON_AddItemToArray(shape, json_uint_raw((uint64_t)t->shape[d]));
        ok = ok && cJSON_AddItemToArray(offs, json_uint_raw(offsets[i]));
        ok = ok && cJSON_AddItemToArray(offs, json_uint_raw(offsets[i + 1]));
    }
    char *json = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!json)
        return NULL;
    /* pad with spaces so the data buffer (at 8 + length) starts on an 8-byte boundary */
    size_t len = strlen(json), padded = (len + 7) & ~(size_t)7;
    char *out = malloc(padded + 1);
    if (out) {
        memcpy(out, json, len);
        memset(out + len, ' ', padded - len);
        out[padded] = '\0';
        *len_out = padded;
    }
    cJSON_free(json);
    return out;
}

static int write_all(FILE *fp, const void *buf, size_t len)
{
    return len == 0 || fwrite(buf, 1, len, fp) == len ? 0 : -1;
}

/* chunk: ST_WRITE_CHUNK bytes of scratch for the little-endian encoding */
static int write_file(FILE *fp, const char *header, uint64_t hlen, const st_out_tensor_t *tensors, int n_tensors,
                      const uint64_t *offsets, uint8_t *chunk)
{
    uint8_t lenbuf[8];
    for (int i = 0; i < 8; i++)
        lenbuf[i] = (uint8_t)(hlen >> (8 * i));
    if (write_all(fp, lenbuf, 8) != 0 || write_all(fp, header, (size_t)hlen) != 0)
        return -1;
    for (int i = 0; i < n_tensors; i++) {
        const st_out_tensor_t *t = &tensors[i];
        size_t esz = dtypes[t->dtype].size, per = ST_WRITE_CHUNK / esz;
        uint64_t n = (offsets[i + 1] - offsets[i]) / esz;
        if (t->dtype == ST_U8) {
            if (n > SIZE_MAX || write_all(fp, t->data, (size_t)n) != 0)
                return -1;
            continue;
        }
        for (uint64_t done = 0; done < n;) {
            size_t k = n - done < per ? (size_t)(n - done) : per;
            encode_chunk(t->dtype, (const float *)t->data + done, chunk, k);
            if (write_all(fp, chunk, k * esz) != 0)
                return -1;
            done += k;
        }
    }
    return 0;
}

int st_write(const char *path, const char *const *meta_keys, const char *const *meta_values, int n_meta,
             const st_out_tensor_t *tensors, int n_tensors, mb_error_t *err)
{
    if (n_meta < 0 || n_tensors < 0 || (n_meta > 0 && (!meta_keys || !meta_values)) ||
        (n_tensors > 0 && !tensors))
        return mb_fail(err, "%s: st_write called with invalid counts or NULL arrays", path);
    /* a device node or directory at PATH would be replaced by the rename */
    if (mb_output_check(path, "model file", err) != 0)
        return -1;
    for (int i = 0; i < n_meta; i++) {
        if (!meta_keys[i] || !meta_values[i])
            return mb_fail(err, "%s: metadata entry %d has a NULL key or value", path, i);
        for (int j = 0; j < i; j++)
            if (strcmp(meta_keys[i], meta_keys[j]) == 0)
                return mb_fail(err, "%s: metadata key '%s' is given twice", path, meta_keys[i]);
    }
    /* offsets[i], offsets[i+1]: byte range of tensor i; the reader would reject duplicate names */
    uint64_t *offsets = calloc((size_t)n_tensors + 1, sizeof *offsets);
    const st_out_tensor_t **sorted = calloc((size_t)n_tensors + 1, sizeof *sorted);
    uint8_t *chunk = malloc(ST_WRITE_CHUNK);
    char *header = NULL, *tmp = NULL;
    FILE *fp = NULL;
    int rc = -1, created = 0;
    if (!offsets || !sorted || !chunk) {
        mb_fail(err, "%s: out of memory", path);
        goto done;
    }
    for (int i = 0; i < n_tensors; i++) {
        uint64_t bytes = 0;
        if (check_out_tensor(path, &tensors[i], &bytes, err) != 0)
            goto done;
        if (bytes > (uint64_t)ST_MAX_JSON_INT - offsets[i]) {
            mb_fail(err, "%s: the tensors add up to more than 2^53 bytes", path);
            goto done;
        }
        offsets[i + 1] = offsets[i] + bytes;
        sorted[i] = &tensors[i];
    }
    qsort(sorted, (size_t)n_tensors, sizeof *sorted, cmp_name);
    for (int i = 1; i < n_tensors; i++)
        if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0) {
            mb_fail(err, "%s: tensor name '%s' is given twice", path, sorted[i]->name);
            goto done;
        }
    uint64_t hlen = 0;
    header = build_header(meta_keys, meta_values, n_meta, tensors, n_tensors, offsets, &hlen);
    size_t tmp_len = strlen(path) + 32;
    tmp = malloc(tmp_len);
    if (!header || !tmp) {
        mb_fail(err, "%s: out of memory building the header", path);
        goto done;
    }
    snprintf(tmp, tmp_len, "%s.tmp.%ld", path, (long)getpid());

    fp = fopen(tmp, "wb");
    if (!fp) {
        mb_fail(err, "%s: cannot create the temporary file %s: %s", path, tmp, strerror(errno));
        goto done;
    }
    created = 1;
    if (write_file(fp, header, hlen, tensors, n_tensors, offsets, chunk) != 0 || fflush(fp) != 0) {
        mb_fail(err, "%s: cannot write %s: %s", path, tmp, strerror(errno));
        goto done;
    }
    /* the data must be on disk before the rename makes it visible under PATH */
    if (fsync(fileno(fp)) != 0 && errno != EINVAL && errno != EROFS) {
        mb_fail(err, "%s: cannot sync %s: %s", path, tmp, strerror(errno));
        goto done;
    }
    int closed = fclose(fp);
    fp = NULL;
    if (closed != 0) {
        mb_fail(err, "%s: cannot close %s: %s", path, tmp, strerror(errno));
        goto done;
    }
    if (rename(tmp, path) != 0) {
        /* the complete file is kept: say where */
        mb_fail(err, "%s: cannot rename %s over it: %s; the complete file is kept as %s", path, tmp,
                strerror(errno), tmp);
        created = 0;
        goto done;
    }
    rc = 0;
done:
    if (fp)
        fclose(fp);
    if (rc != 0 && created)
        remove(tmp);
    free(tmp);
    free(chunk);
    free(header);
    free(sorted);
    free(offsets);
    return rc;
}
