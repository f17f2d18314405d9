/* safetensors: reading and writing the safetensors weight-file format.
 *
 * Owns the file layout (8-byte little-endian header length, JSON header, raw data buffer),
 * the validation of untrusted headers, and the exact F16/BF16 <-> F32 conversions.
 * Does not own what the tensors mean: model code looks them up by name and checks shapes.
 *
 * Reading keeps the header in memory and reads tensor bytes on demand through one FILE*,
 * so a single st_file_t must not be read from two threads at once. */
#ifndef ST_SAFETENSORS_H
#define ST_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "common/mb_error.h"

typedef enum { ST_F32, ST_F16, ST_BF16, ST_I32, ST_I64, ST_U8 } st_dtype_t; /* "F32", "F16", ... */

#define ST_MAX_DIMS 8

typedef struct st_tensor {
    char *name;
    st_dtype_t dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    uint64_t n_elems;    /* product of shape (1 for ndim 0) */
    uint64_t begin, end; /* byte offsets in the data buffer */
} st_tensor_t;

typedef struct st_file st_file_t; /* opaque */

/* Opens and validates PATH; on success *out owns the file until st_close. */
int st_open(const char *path, st_file_t **out, mb_error_t *err);
void st_close(st_file_t *f); /* NULL is fine */

int st_count(const st_file_t *f);
const st_tensor_t *st_tensor_at(const st_file_t *f, int i);       /* header order; NULL if out of range */
const st_tensor_t *st_find(const st_file_t *f, const char *name); /* NULL if absent */
const char *st_meta(const st_file_t *f, const char *key);         /* NULL if absent */
int st_meta_count(const st_file_t *f);
const char *st_meta_key_at(const st_file_t *f, int i); /* header order; NULL if out of range */

/* Reads tensor t (from this file) as float32 into dst (n must equal t->n_elems), converting
 * F16 and BF16 exactly (subnormals, inf, nan included); F32 is bit-exact; other dtypes fail. */
int st_read_f32(st_file_t *f, const st_tensor_t *t, float *dst, uint64_t n, mb_error_t *err);
/* Raw little-endian bytes of tensor t (any dtype) into dst; size must equal t->end - t->begin. */
int st_read_raw(st_file_t *f, const st_tensor_t *t, void *dst, uint64_t size, mb_error_t *err);

/* The whole file mapped read-only and private (PROT_READ, MAP_PRIVATE), for readers that use
 * tensors where they lie instead of copying them: tensor t's bytes are data + t->begin (the
 * mapping is page-aligned, so their alignment is that of their file offset); base and len are
 * what munmap takes. The mapping outlives st_close; a write through it faults. Fails (err says
 * why) when the file is not a regular file, has changed size since st_open, or mmap refuses;
 * the caller then reads with st_read_f32. */
typedef struct st_map {
    void *base;
    size_t len;
    const uint8_t *data;       /* byte 0 of the data buffer */
} st_map_t;
int st_map(st_file_t *f, st_map_t *out, mb_error_t *err);
void st_unmap(st_map_t *m); /* a zeroed map is fine */

const char *st_dtype_name(st_dtype_t d); /* "F32", ...; "?" for a value outside the enum */
size_t st_dtype_size(st_dtype_t d);      /* bytes per element; 0 for a value outside the enum */

/* One tensor to write: for F32, BF16 and F16, data is float32 [n_elems] and is converted to
 * dtype with round-to-nearest-even; for U8 (opaque bytes, e.g. a serialized tokenizer), data
 * is the bytes [n_elems], written as they are. */
typedef struct st_out_tensor {
    const char *name;
    st_dtype_t dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data;          /* float32 values, or the bytes of a U8 tensor */
} st_out_tensor_t;

/* Writes the whole file to PATH.tmp.<pid> and renames it over PATH, so a failure never leaves
 * a half-written PATH (the temp file is removed on any failure). Tensors are laid out
 * contiguously in the given order; "__metadata__" (when n_meta > 0) comes first in the header;
 * the header is space-padded so the data starts at a multiple of 8 bytes. The output depends
 * only on the inputs, so writing the same inputs twice gives identical bytes. */
int st_write(const char *path, const char *const *meta_keys, const char *const *meta_values, int n_meta,
             const st_out_tensor_t *tensors, int n_tensors, mb_error_t *err);

#endif
