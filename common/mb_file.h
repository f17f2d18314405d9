/* mb_file: the file-system edges every command shares, checked before any
 * work starts so that a long run never ends in a lost result:
 *  - inputs that must be regular, non-empty files: a directory, a device
 *    node, a FIFO or a socket is refused by its kind, and a FIFO is opened
 *    with O_NONBLOCK first so that the check cannot block;
 *  - output paths: an empty name, an existing directory, device node, FIFO
 *    or socket, or a folder that does not exist or cannot be written to is
 *    refused before anything is measured or computed;
 *  - a whole small input file into memory with a size limit.
 * Owns no file format. Never prints. */
#ifndef MB_FILE_H
#define MB_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "common/mb_error.h"

enum {
    MB_IN_ALLOW_EMPTY = 1, /* an empty file is not an error */
    MB_IN_ALLOW_PIPE = 2,  /* FIFOs and character devices (stdin-like streams) are read as they come */
};

/* Checks PATH is something that can be read as WHAT ("model file", ...) and
 * opens it for reading ("rb"). Errors: "PATH: is a directory; give a WHAT",
 * "PATH: is a FIFO, not a regular file; ...", "PATH: is empty; ...". */
int mb_input_open(const char *path, const char *what, int flags, FILE **out, mb_error_t *err);

/* The whole of PATH (checked as mb_input_open) into a NUL-terminated buffer
 * to free(); files over max bytes are refused with a message naming the limit. */
int mb_input_read(const char *path, const char *what, int flags, size_t max, char **buf, size_t *len,
                  mb_error_t *err);

/* Checks that PATH can be written as WHAT ("results CSV", ...): the name is
 * not empty, it is not an existing directory or special file, and its folder
 * exists and is writable. Run it before the work whose result PATH will hold. */
int mb_output_check(const char *path, const char *what, mb_error_t *err);
/* The folder part of that: the folder that is to hold PATH (written there
 * as a temporary and renamed into place) exists and is writable. */
int mb_output_folder_check(const char *path, const char *what, mb_error_t *err);

/* "a directory", "a FIFO", "a character device", ... for st_mode. */
const char *mb_file_kind(unsigned mode);

#endif
