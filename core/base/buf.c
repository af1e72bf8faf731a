/* buf.c — capped growable buffer (see buf.h). */
#include "buf.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"

#define MIN_ALLOC 64

void iris_buf_init(struct iris_buf *b, size_t max) {
  b->ptr = NULL;
  b->len = 0;
  b->cap = 0;
  b->max = max ? max : IRIS_BUF_DEFAULT_MAX;
  b->rc = IRIS_OK;
}

void iris_buf_cleanup(struct iris_buf *b) {
  iris_free(b->ptr);
  b->ptr = NULL;
  b->len = 0;
  b->cap = 0;
  b->rc = IRIS_OK;
}

void iris_buf_reset(struct iris_buf *b) {
  b->len = 0;
  if (b->ptr)
    b->ptr[0] = '\0';
  b->rc = IRIS_OK;
}

/* Fail: release everything held and latch rc, so a half-built value is never used. */
static int fail(struct iris_buf *b, int rc) {
  iris_free(b->ptr);
  b->ptr = NULL;
  b->len = 0;
  b->cap = 0;
  b->rc = rc;
  return rc;
}

/* Make room for `extra` more bytes plus the NUL. */
static int grow(struct iris_buf *b, size_t extra) {
  size_t need, cap;
  char *p;
  if (b->rc)
    return b->rc;
  if (extra > b->max || b->len > b->max - extra)
    return fail(b, IRIS_ETOOBIG);
  need = b->len + extra + 1;
  if (need <= b->cap)
    return IRIS_OK;
  cap = b->cap ? b->cap : MIN_ALLOC;
  while (cap < need)
    cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
  if (cap > b->max + 1)
    cap = b->max + 1;
  p = iris_realloc(b->ptr, cap);
  if (!p)
    return fail(b, IRIS_ENOMEM);
  b->ptr = p;
  b->cap = cap;
  return IRIS_OK;
}

int iris_buf_append(struct iris_buf *b, const void *data, size_t n) {
  int rc = grow(b, n);
  if (rc)
    return rc;
  if (n)
    memcpy(b->ptr + b->len, data, n);
  b->len += n;
  b->ptr[b->len] = '\0';
  return IRIS_OK;
}

int iris_buf_appends(struct iris_buf *b, const char *s) {
  return iris_buf_append(b, s, strlen(s));
}

int iris_buf_appendc(struct iris_buf *b, char c) { return iris_buf_append(b, &c, 1); }

int iris_buf_vappendf(struct iris_buf *b, const char *fmt, va_list ap) {
  va_list ap2;
  int n, rc;
  va_copy(ap2, ap);
  n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0)
    return fail(b, IRIS_EINVAL);
  rc = grow(b, (size_t)n);
  if (rc)
    return rc;
  vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return IRIS_OK;
}

int iris_buf_appendf(struct iris_buf *b, const char *fmt, ...) {
  va_list ap;
  int rc;
  va_start(ap, fmt);
  rc = iris_buf_vappendf(b, fmt, ap);
  va_end(ap);
  return rc;
}

const char *iris_buf_ptr(const struct iris_buf *b) { return b->ptr ? b->ptr : ""; }
size_t iris_buf_len(const struct iris_buf *b) { return b->len; }
int iris_buf_rc(const struct iris_buf *b) { return b->rc; }

char *iris_buf_take(struct iris_buf *b, size_t *len) {
  char *out;
  if (b->rc)
    return NULL;
  if (!b->ptr) {
    if (grow(b, 0))
      return NULL;
    b->ptr[0] = '\0';
  }
  out = b->ptr;
  if (len)
    *len = b->len;
  b->ptr = NULL;
  b->len = 0;
  b->cap = 0;
  return out;
}
