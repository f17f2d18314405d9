/* mb_file: input and output path checks (see mb_file.h). */
#include "common/mb_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *mb_file_kind(unsigned mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG: return "a regular file";
    case S_IFDIR: return "a directory";
    case S_IFIFO: return "a FIFO (named pipe)";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFSOCK: return "a socket";
    case S_IFLNK: return "a symbolic link";
    default: return "not a regular file";
    }
}

int mb_input_open(const char *path, const char *what, int flags, FILE **out, mb_error_t *err)
{
    *out = NULL;
    if (!path[0])
        return mb_fail(err, "the %s name is empty; give a file", what);
    /* O_NONBLOCK: opening a FIFO without a writer would otherwise wait forever,
     * before any check could run */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return mb_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return mb_fail(err, "%s: cannot open: %s", path, strerror(e));
    }
    int pipe_like = S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode);
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return mb_fail(err, "%s: is a directory; give a %s", path, what);
    }
    if (!S_ISREG(st.st_mode) && !(pipe_like && (flags & MB_IN_ALLOW_PIPE))) {
        close(fd);
        return mb_fail(err, "%s: is %s, not a regular file; give a %s", path, mb_file_kind(st.st_mode), what);
    }
    if (S_ISREG(st.st_mode) && st.st_size == 0 && !(flags & MB_IN_ALLOW_EMPTY)) {
        close(fd);
        return mb_fail(err, "%s: is empty; give a %s", path, what);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(fd);
        return mb_fail(err, "%s: cannot open: %s", path, strerror(e));
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        close(fd);
        return mb_fail(err, "%s: cannot open: %s", path, strerror(e));
    }
    *out = f;
    return 0;
}

int mb_input_read(const char *path, const char *what, int flags, size_t max, char **buf, size_t *len,
                  mb_error_t *err)
{
    *buf = NULL;
    *len = 0;
    FILE *f;
    if (mb_input_open(path, what, flags, &f, err))
        return -1;
    size_t cap = 4096, n = 0;
    char *b = malloc(cap + 1);
    for (;;) {
        if (!b) {
            fclose(f);
            return mb_fail(err, "%s: out of memory reading it", path);
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (n > max) {
            free(b);
            fclose(f);
            return mb_fail(err, "%s: is larger than %zu bytes, the limit for a %s; check that it is the right file",
                           path, max, what);
        }
        if (got == 0 || n < cap) {
            if (ferror(f)) {
                int e = errno;
                free(b);
                fclose(f);
                return mb_fail(err, "%s: cannot read: %s", path, strerror(e));
            }
            if (feof(f))
                break;
            continue;
        }
        cap *= 2;
        char *nb = realloc(b, cap + 1);
        if (!nb)
            free(b);
        b = nb;
    }
    fclose(f);
    if (n == 0 && !(flags & MB_IN_ALLOW_EMPTY)) {
        free(b);
        return mb_fail(err, "%s: is empty; give a %s", path, what);
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

int mb_output_check(const char *path, const char *what, mb_error_t *err)
{
    if (!path[0])
        return mb_fail(err, "the %s name is empty; give a file name", what);
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return mb_fail(err, "%s: is a directory; give a file name for the %s (e.g. %s%sout)", path, what, path,
                           path[strlen(path) - 1] == '/' ? "" : "/");
        if (!S_ISREG(st.st_mode))
            return mb_fail(err, "%s: is %s; the %s must be a regular file, which is written next to it and "
                                "renamed into place", path, mb_file_kind(st.st_mode), what);
    } else if (errno != ENOENT) {
        return mb_fail(err, "%s: cannot use it for the %s: %s", path, what, strerror(errno));
    } else if (path[strlen(path) - 1] == '/') {
        return mb_fail(err, "%s: names a folder; give a file name for the %s", path, what);
    }
    /* the folder: the file is written there as a temporary and renamed */
    return mb_output_folder_check(path, what, err);
}

int mb_output_folder_check(const char *path, const char *what, mb_error_t *err)
{
    struct stat st;
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) >= sizeof dir)
        return mb_fail(err, "%s: the path is too long", path);
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (stat(dir, &st) != 0)
        return mb_fail(err, "%s: the folder %s does not exist (%s); create it first", path, dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return mb_fail(err, "%s: %s is not a folder; give a path in an existing folder", path, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return mb_fail(err, "%s: cannot write in the folder %s (%s); choose a writable place for the %s", path, dir,
                       strerror(errno), what);
    return 0;
}
