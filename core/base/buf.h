/*
 * buf.h — the one growable byte buffer of libiris-core, always NUL-terminated, with a cap.
 *
 * Layer: core, lowest level. Use it for every piece of data whose size a user, a vendor or
 * AWS controls (after curl's dynbuf and sqlite3_str). A failed append frees the bytes held
 * so far, returns IRIS_ENOMEM or IRIS_ETOOBIG and latches that code, so a long sequence of
 * appends (the template renderer, a JSON body) may check once with iris_buf_rc().
 *
 * Ownership: the struct is caller-owned (stack or embedded); its bytes belong to the
 * buffer until iris_buf_take() moves them out (caller frees with iris_free) or
 * iris_buf_cleanup() releases them.
 */
#ifndef IRIS_BUF_H
#define IRIS_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "err.h"

/* Default cap when a caller has no better bound: 8 MiB (above Lambda's 6 MB payload). */
#define IRIS_BUF_DEFAULT_MAX ((size_t)8 * 1024 * 1024)

struct iris_buf {
  char *ptr;  /* NUL-terminated bytes, or NULL while empty */
  size_t len; /* bytes used, excluding the NUL */
  size_t cap; /* bytes allocated */
  size_t max; /* largest len allowed */
  int rc;     /* first failure latched, IRIS_OK otherwise */
};

/* Start empty with a cap of max bytes (0 means IRIS_BUF_DEFAULT_MAX). Allocates nothing. */
void iris_buf_init(struct iris_buf *b, size_t max);
/* Release the bytes; the buffer is empty again (and may be reused with the same cap). */
void iris_buf_cleanup(struct iris_buf *b);
/* Drop the content but keep the allocation and clear a latched error. */
void iris_buf_reset(struct iris_buf *b);

/* Append n bytes / a C string / printf output. Return IRIS_OK, IRIS_ENOMEM or IRIS_ETOOBIG. */
int iris_buf_append(struct iris_buf *b, const void *data, size_t n) IRIS_WARN_UNUSED;
int iris_buf_appends(struct iris_buf *b, const char *s) IRIS_WARN_UNUSED;
int iris_buf_appendc(struct iris_buf *b, char c) IRIS_WARN_UNUSED;
int iris_buf_appendf(struct iris_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3))) IRIS_WARN_UNUSED;
int iris_buf_vappendf(struct iris_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0))) IRIS_WARN_UNUSED;

/* Borrowed view: "" while empty; valid until the next change to b. */
const char *iris_buf_ptr(const struct iris_buf *b);
size_t iris_buf_len(const struct iris_buf *b);
/* The latched error of a failed append (IRIS_OK if none since init/reset). */
int iris_buf_rc(const struct iris_buf *b);

/*
 * Move the bytes out: returns a NUL-terminated allocation the caller frees with iris_free
 * (an empty buffer yields an allocated ""), stores the length in *len if len is non-NULL,
 * and leaves b empty. NULL on allocation failure or if an append had failed.
 */
char *iris_buf_take(struct iris_buf *b, size_t *len) IRIS_WARN_UNUSED;

#endif /* IRIS_BUF_H */
